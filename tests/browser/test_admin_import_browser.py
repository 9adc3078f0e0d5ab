"""Import and time zones in a real browser: Chromium, driven by Playwright, against Django's live server.

A grievance clerk imports a CSV with a bad row (upload, preview, apply), then works in her own
time zone: a browser in UTC, a user in New York, and no "hours behind server time" note. Every
screen is saved under test-artifacts/admin-browser/<backend>/ (git-ignored).
"""

import datetime as dt

import pytest

from grievances.models import Grievance
from tests.browser.test_admin_browser import log_in, message, navigate
from tests.support.factories import StaffFactory, make_record
from vbaproject.db.routing import using_client_database
from vbaproject.history.selectors import record_history

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])


@pytest.fixture
def utc_browser_page(chromium, live_server):
    """A fresh page whose browser clock is in UTC (the server's zone), 1440 x 900."""
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1440, "height": 900}, timezone_id="UTC"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def statuses(page):
    return [int(s) for s in page.locator("#vba-import-rows tbody tr td strong").all_inner_texts()]


def test_a_clerk_imports_a_file_with_a_bad_row_then_works_in_her_time_zone(utc_browser_page, screenshots):
    page = utc_browser_page
    existing = make_record(Grievance, "demo", subscriber_ID="S615226", member_Seq="01", issue="before")
    StaffFactory(username="ivy.import", databases=["demo"])
    rows = [
        "grievance_Key,subscriber_ID,member_Seq,grievance_Status,issue,grievance_Received",
        ",S100001,01,OPEN,Waited three weeks,2024-06-03 21:30",
        f"{existing.pk},S615226,01,PENDING,after,2024-06-01T09:00:00Z",
        ",S100002,02,OPEN,Bad date,2024-02-30",
    ]
    log_in(page, "ivy.import")

    # Her time zone: My settings, from the user links.
    navigate(page, "click", "#vba-my-settings-link")
    page.select_option("#id_time_zone", "America/New_York")
    screenshots(page, "import-01-my-settings")
    navigate(page, "click", "input[name=_save]")
    assert "America/New_York" in message(page)

    page.goto("/admin/demo/grievances/grievance/")
    navigate(page, "click", "#vba-import-link")
    page.set_input_files(
        "#id_file",
        files=[{"name": "grievances.csv", "mimeType": "text/csv", "buffer": "\r\n".join(rows).encode()}],
    )
    screenshots(page, "import-02-upload")
    navigate(page, "click", "input[name=_preview]")
    assert statuses(page) == [201, 200, 400]
    assert "grievance_Received" in page.inner_text("#vba-import-rows tbody tr:nth-child(3)")
    screenshots(page, "import-03-preview")
    with using_client_database("demo"):
        assert Grievance.objects.count() == 1  # nothing written by the preview

    page.check("input[name=on_error][value=skip]")
    navigate(page, "click", "input[name=_apply]")
    assert statuses(page) == [201, 200, 400]
    assert "Created: 1" in page.inner_text("#vba-import-counts")
    screenshots(page, "import-04-result")
    with using_client_database("demo"):
        created = Grievance.objects.get(subscriber_ID="S100001")
        assert not Grievance.objects.filter(subscriber_ID="S100002").exists()
        assert Grievance.objects.get(pk=existing.pk).issue == "after"
        entry = record_history(Grievance, created.pk).first()
    assert (entry.history_user, entry.history_via) == ("ivy.import", "admin")
    # 21:30 in New York (EDT) is 01:30 the next day in UTC; she sees her own day and time.
    assert created.grievance_Received == dt.datetime(2024, 6, 4, 1, 30, tzinfo=dt.UTC)
    navigate(page, "click", f"#vba-import-rows a:text-is('{created.pk}')")
    assert page.input_value("#id_grievance_Received_0") == "2024-06-03"
    assert page.input_value("#id_grievance_Received_1") == "21:30:00"
    # The browser is in UTC, she works in New York: no "hours behind server time" note.
    page.wait_for_selector(".datetimeshortcuts", state="attached")
    assert page.locator(".timezonewarning").count() == 0
    screenshots(page, "import-05-record-in-her-zone")
    page.goto("/admin/demo/grievances/grievance/")
    row = page.locator(f"#result_list tr:has(a[href$='/{created.pk}/change/'])")
    assert row.locator("td.field-grievance_Received").inner_text().strip() == "2024-06-03"
