"""The grievance queue in Chromium: a grievance clerk's day, from the home page's counts to the
queue, resolving through the confirmation page, and finding a member by the ID she pasted.

Every screen is saved under test-artifacts/admin-browser/<backend>/ (git-ignored), as the other
browser tests do.
"""

import datetime as dt

import pytest
from django.utils import timezone

from grievances.models import Grievance
from grievances.queue import open_q
from tests.browser.test_admin_browser import listed_keys, log_in, message, navigate
from tests.support.factories import StaffFactory, make_record
from vbaproject.db.routing import using_client_database

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])

DAY = dt.timedelta(days=1)


def grievance(received, kind="QUALITY", status="OPEN", **values):
    return make_record(
        Grievance,
        "demo",
        grievance_Received=received,
        grievance_Type=kind,
        grievance_Status=status,
        grievance_Resolved=values.pop("resolved", None),
        resolution_Date=None,
        resolution_Type=None,
        resolution=None,
        **values,
    )


def test_a_clerk_works_the_queue_resolves_one_and_finds_a_pasted_member(browser_page, screenshots):
    page = browser_page
    now = timezone.now()
    late = grievance(now - 33 * DAY, subscriber_ID="S615226", member_Seq="01")
    expedited = grievance(now - dt.timedelta(hours=5), "EXPEDITED", subscriber_ID="S615226", member_Seq="02")
    later = grievance(now - 10 * DAY, status="PENDING", subscriber_ID="S700100", member_Seq="01")
    undated = grievance(None, subscriber_ID="S700200", member_Seq="01")
    grievance(now - 50 * DAY, status="RESOLVED", subscriber_ID="S615226", member_Seq="01")  # done, no date
    StaffFactory(username="gina.grievances", databases=["demo"])
    log_in(page, "gina.grievances")

    # The database's home page: the queue's counts, each a link.
    page.goto("/admin/demo/")
    counts = page.inner_text("#vba-queue-counts")
    assert "Open grievances\t4" in counts and "Overdue\t1" in counts and "Due within 5 days\t1" in counts
    screenshots(page, "70-home-queue-counts")
    navigate(page, "click", "#vba-queue-counts a:text-is('Overdue')")
    assert listed_keys(page) == [late.pk]
    assert "OVERDUE" in page.inner_text("#result_list")
    screenshots(page, "71-queue-overdue")

    # The queue: open ones, the nearest deadline first, the undated one last.
    page.goto("/admin/demo/")
    navigate(page, "click", "#content-main th#grievances-grievance a")
    assert listed_keys(page) == [late.pk, expedited.pk, later.pk, undated.pk]
    assert "days open" in page.inner_text("#result_list thead").lower()
    screenshots(page, "72-queue")

    # Resolve the expedited one from its form, through the confirmation page.
    navigate(page, "click", f"#result_list a[href*='/{expedited.pk}/change/']")
    assert f"Grievance {expedited.pk} · S615226-02 · received" in page.inner_text("#content")
    navigate(page, "click", "a.vba-resolve-link")
    screenshots(page, "73-resolve-confirmation")
    # Both are required: the browser itself asks before anything is sent.
    assert page.get_attribute("#id_resolution", "required") is not None
    assert page.get_attribute("#id_resolution_Type", "required") is not None
    page.fill("#id_resolution_Type", "overturn")
    page.fill("#id_resolution", "Appointment moved to tomorrow; member called back.")
    navigate(page, "click", "input[name=_resolve]")
    assert "Resolved 1 grievance." in message(page)
    screenshots(page, "74-resolved")
    with using_client_database("demo"):
        resolved = Grievance.objects.get(pk=expedited.pk)
        assert set(Grievance.objects.filter(open_q()).values_list("pk", flat=True)) == {
            late.pk,
            later.pk,
            undated.pk,
        }
    assert (resolved.grievance_Status, resolved.resolution_Type) == ("RESOLVED", "OVERTURN")
    assert resolved.grievance_Resolved is not None and resolved.update_User == "gina.grievances"

    # Search as people paste: the member column's S615226-01 finds that member's grievances.
    page.goto("/admin/demo/grievances/grievance/")
    page.fill("#searchbar", " S615226-01 ")
    navigate(page, "press", "#searchbar", "Enter")
    with using_client_database("demo"):
        member = Grievance.objects.filter(subscriber_ID="S615226", member_Seq="01")
        assert sorted(listed_keys(page)) == sorted(member.values_list("pk", flat=True))
    assert late.pk in listed_keys(page) and expedited.pk not in listed_keys(page)
    screenshots(page, "75-search-pasted-member")
