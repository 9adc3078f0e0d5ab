"""The admin in a real browser: Chromium, driven by Playwright, against Django's live server.

A care manager and a grievance clerk log in, switch client database, create, edit, filter,
search and export grievances, add a clinical trial inline on a care case. Every screen is
saved under test-artifacts/admin-browser/<backend>/ (git-ignored).
"""

import csv
import datetime as dt
import io
import random
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from claims.models import ClaimPromptPay
from grievances.models import Grievance
from grievances.queue import open_q
from tests.support.factories import PASSWORD, StaffFactory, make_record
from vbaproject.db.routing import using_client_database
from vbaproject.spec.entities import entity_spec

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])


def seed(database, rows, rng):
    """Enough records for every screen to show something."""
    for model in (CareCase, Grievance, ClaimPromptPay, Auth):
        for _ in range(rows):
            make_record(model, database, rng)
    with using_client_database(database):
        cases = list(CareCase.objects.all())
    for _ in range(rows):
        make_record(CareCaseClinicalTrial, database, rng, case_Key=rng.choice(cases))


def log_in(page, username):
    page.goto("/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    navigate(page, "click", "input[type=submit]")
    assert "/admin/login/" not in page.url


def navigate(page, action, *args):
    """Run ``page.<action>(*args)`` and wait for the page it leads to."""
    with page.expect_navigation():
        getattr(page, action)(*args)


def message(page):
    return page.inner_text("ul.messagelist")


def listed_keys(page):
    """The keys of the change list's rows, as shown (the first column links to the record)."""
    return [int(key) for key in page.locator("#result_list tbody tr th a").all_inner_texts()]


def test_a_grievance_clerk_switches_database_creates_edits_filters_searches_and_exports(
    browser_page, screenshots
):
    page = browser_page
    rng = random.Random(5)
    seed("demo", 12, rng)
    seed("other", 4, rng)
    StaffFactory(username="grace.grievances", databases=["demo", "other"])

    page.goto("/admin/")
    screenshots(page, "01-login")
    log_in(page, "grace.grievances")
    # The home page lists her client databases; each has its own URL.
    assert page.locator("#vba-client-databases a").all_inner_texts() == ["demo", "other"]
    screenshots(page, "02-home")
    navigate(page, "click", "#vba-client-databases a:text-is('demo')")
    assert page.url.endswith("/admin/demo/") and page.input_value("#vba-database-select") == "demo"
    screenshots(page, "02-index")

    # Switch to the other client database: the switcher navigates to its pages.
    navigate(page, "select_option", "#vba-database-select", "other")
    assert page.url.endswith("/admin/other/")
    # The Grievances link opens the queue: the open ones (tests/test_grievance_queue.py).
    navigate(page, "click", "#content-main th#grievances-grievance a")
    assert page.input_value("#vba-database-select") == "other" and page.url.endswith("?state=open")
    with using_client_database("other"):
        assert len(listed_keys(page)) == Grievance.objects.filter(open_q()).count()
    screenshots(page, "03-grievances-other-database")
    navigate(page, "select_option", "#vba-database-select", "demo")
    assert page.url.endswith("/admin/demo/grievances/grievance/")
    with using_client_database("demo"):
        assert len(listed_keys(page)) == Grievance.objects.count() == 12
    screenshots(page, "04-grievances")

    # Create a grievance.
    navigate(page, "click", ".object-tools a.addlink")
    page.fill("#id_grievance_Status", "OPEN")
    page.fill("#id_grievance_Type", "ACCESS")
    page.fill("#id_grievance_Category", "CLINICAL")
    page.fill("#id_subscriber_ID", "S777001")
    page.fill("#id_member_Seq", "01")
    page.fill("#id_grievance_Received_0", "2026-01-15")
    page.fill("#id_grievance_Received_1", "09:30:00")
    page.fill("#id_issue", "Waited three weeks for a specialist appointment.")
    screenshots(page, "05-grievance-add")
    navigate(page, "click", "input[name=_save]")
    assert "was added successfully" in message(page)
    with using_client_database("demo"):
        created = Grievance.objects.get(subscriber_ID="S777001")
    assert created.entry_User == created.update_User == "grace.grievances"
    assert created.grievance_Received == dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)
    assert listed_keys(page)[0] == created.pk  # open and newest: first

    # Edit it: an impossible date is refused, as on the API; then resolve it.
    navigate(page, "click", f"#result_list a[href$='/{created.pk}/change/']")
    assert page.get_attribute("#id_subscriber_ID", "maxlength") == "9"
    page.fill("#id_grievance_Received_0", "2026-02-30")
    navigate(page, "click", "input[name=_continue]")
    assert "Enter a valid date" in page.inner_text(".field-grievance_Received .errorlist")
    screenshots(page, "06-grievance-error")
    page.fill("#id_grievance_Received_0", "2026-01-15")
    page.fill("#id_grievance_Status", "RESOLVED")
    page.fill("#id_grievance_Resolved_0", "2026-01-20")
    page.fill("#id_grievance_Resolved_1", "16:00:00")
    page.fill("#id_resolution_Type", "UPHELD")
    navigate(page, "click", "input[name=_continue]")
    assert "was changed successfully" in message(page)
    screenshots(page, "07-grievance-change")
    with using_client_database("demo"):
        created.refresh_from_db()
    assert created.grievance_Status == "RESOLVED" and created.resolution_Type == "UPHELD"
    assert created.update_Date > created.entry_Date and created.entry_User == "grace.grievances"

    # Filter: open ones only, then open ones of one type.
    page.goto("/admin/demo/grievances/grievance/")
    navigate(page, "click", "#changelist-filter a:text-is('Open')")
    with using_client_database("demo"):
        still_open = Grievance.objects.filter(open_q())
        open_keys = set(still_open.values_list("pk", flat=True))
    assert set(listed_keys(page)) == open_keys and created.pk not in open_keys
    screenshots(page, "08-grievances-open")
    type_filter = "#changelist-filter details[data-filter-title='type']"  # the label table's title
    navigate(page, "click", f"{type_filter} a:text-is('ACCESS')")
    with using_client_database("demo"):
        open_access = Grievance.objects.filter(open_q(), grievance_Type="ACCESS")
        assert set(listed_keys(page)) == set(open_access.values_list("pk", flat=True))
    assert "state=open" in page.url and "grievance_Type=ACCESS" in page.url

    # Search by subscriber ID.
    page.goto("/admin/demo/grievances/grievance/")
    page.fill("#searchbar", "s77700")
    navigate(page, "press", "#searchbar", "Enter")
    assert "q=s77700" in page.url
    assert listed_keys(page) == [created.pk]
    screenshots(page, "09-grievances-search")

    # Export three rows as CSV.
    page.goto("/admin/demo/grievances/grievance/")
    rows = page.locator("#result_list tbody tr")
    chosen = [int(rows.nth(i).locator("th a").inner_text()) for i in range(3)]
    for i in range(3):
        rows.nth(i).locator("input.action-select").check()
    page.select_option("select[name=action]", "export_csv")
    screenshots(page, "10-grievances-export")
    with page.expect_download() as download:
        page.click("button[name=index]")
    assert re.fullmatch(r"grievance-demo-\d{8}T\d{6}Z\.csv", download.value.suggested_filename)
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert sorted(int(row["grievance_Key"]) for row in exported) == sorted(chosen)
    assert list(exported[0]) == [f.name for f in entity_spec(Grievance).fields]
    with using_client_database("demo"):
        for row in exported:
            grievance = Grievance.objects.get(pk=row["grievance_Key"])
            assert row["subscriber_ID"] == (grievance.subscriber_ID or "")
            assert dt.datetime.fromisoformat(row["update_Date"]) == grievance.update_Date

    # Mark the open ones on the page resolved: the confirmation page asks for the resolution.
    page.goto("/admin/demo/grievances/grievance/?state=open")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "mark_resolved")
    navigate(page, "click", "button[name=index]")
    page.fill("#id_resolution_Type", "UPHELD")
    page.fill("#id_resolution", "Explained to the member.")
    navigate(page, "click", "input[name=_resolve]")
    assert f"Resolved {len(open_keys)} grievances." in message(page)
    screenshots(page, "11-grievances-marked-resolved")
    with using_client_database("demo"):
        assert not Grievance.objects.filter(open_q()).exists()


def test_a_care_manager_adds_a_clinical_trial_inline_and_sees_every_screen(browser_page, screenshots):
    page = browser_page
    seed("demo", 12, random.Random(6))
    StaffFactory(username="carl.caremanager", databases=["demo"])
    log_in(page, "carl.caremanager")
    page.goto("/admin/demo/")
    assert page.locator("#vba-database-select option").all_inner_texts() == ["demo"]

    page.goto("/admin/demo/carecases/carecase/")
    screenshots(page, "20-care-cases")
    with using_client_database("demo"):
        case = CareCase.objects.order_by("pk").first()
        trials_before = case.clinical_trials.count()
    page.goto(f"/admin/demo/carecases/carecase/{case.pk}/change/")
    page.click("#clinical_trials-group .add-row a")
    new = f"#id_clinical_trials-{trials_before}"
    page.fill(f"{new}-study_Title", "Closed-loop insulin delivery in type 1 diabetes")
    page.fill(f"{new}-protocol_Number", "NCT-0042")
    page.fill(f"{new}-careCaseClinicalTrialStudyPhase_ID", "PHASE3")
    navigate(page, "click", "input[name=_continue]")
    assert "was changed successfully" in message(page)
    with using_client_database("demo"):
        trial = CareCaseClinicalTrial.objects.get(protocol_Number="NCT-0042")
    assert trial.case_Key_id == case.pk
    assert trial.entry_User == trial.update_User == "carl.caremanager"
    assert page.locator("#clinical_trials-group tr.has_original").count() == trials_before + 1  # a row each
    screenshots(page, "21-care-case-with-trials")

    page.goto("/admin/demo/carecases/carecaseclinicaltrial/")
    screenshots(page, "22-clinical-trials")
    page.goto(f"/admin/demo/carecases/carecaseclinicaltrial/{trial.pk}/change/")
    assert str(case.pk) in page.inner_text(".field-case_Key")
    screenshots(page, "23-clinical-trial-change")

    page.goto("/admin/demo/auths/auth/")
    screenshots(page, "24-auths")
    with using_client_database("demo"):
        auth = Auth.objects.order_by("pk").first()
    page.goto(f"/admin/demo/auths/auth/{auth.pk}/change/")
    legacy = page.locator("fieldset.collapse, details", has_text="No longer in use").first
    assert not page.locator("#id_total_Actual").is_visible()
    page.click("#vba-sections a:text-is('No longer in use')")  # the auth form's sections are tabs
    legacy.locator("summary").click()
    assert page.locator("#id_total_Actual").is_visible()
    for title in ["Request", "Approval", "Denial", "Actual usage", "Provider", "Clinical", "Treatment plan"]:
        assert page.locator("fieldset h2, fieldset summary", has_text=re.compile(f"^{title}$")).count() == 1
    screenshots(page, "25-auth-change")

    page.goto("/admin/demo/claims/claimpromptpay/")
    screenshots(page, "26-claim-prompt-pays")
    page.goto("/admin/demo/claims/claimpromptpay/add/")
    screenshots(page, "27-claim-prompt-pay-add")


def test_a_staff_user_without_a_database_is_told_so(browser_page, screenshots):
    page = browser_page
    StaffFactory(username="new.hire")
    log_in(page, "new.hire")
    assert "No client database is open to you" in page.inner_text("#header")
    screenshots(page, "30-no-database-index")
    page.goto("/admin/demo/grievances/grievance/")
    assert "You may not use the client database “demo”" in page.inner_text("#content")
    screenshots(page, "31-no-database-entity")
    assert User.objects.get(username="new.hire").is_staff


def test_two_tabs_on_two_databases_never_write_across_and_a_stale_form_is_refused(browser_page, screenshots):
    """Grievance 8 of demo open in one tab, other's list in a second; the first tab saves."""
    page = browser_page
    make_record(Grievance, "demo", grievance_Key=8, subscriber_ID="DEMO8", issue="as opened")
    make_record(Grievance, "other", grievance_Key=8, subscriber_ID="OTHER8", issue="another member")
    StaffFactory(username="grace.grievances", databases=["demo", "other"])
    log_in(page, "grace.grievances")
    page.goto("/admin/demo/grievances/grievance/8/change/")
    assert page.input_value("#id_subscriber_ID") == "DEMO8"
    second = page.context.new_page()
    second.goto("/admin/demo/")
    navigate(second, "select_option", "#vba-database-select", "other")
    navigate(second, "click", "#content-main th#grievances-grievance a")  # the queue of other
    assert page.input_value("#id_subscriber_ID") == "DEMO8"  # the first tab still shows demo's
    page.fill("#id_issue", "edited in the first tab")
    navigate(page, "click", "input[name=_continue]")
    assert "was changed successfully" in message(page)
    assert "/admin/demo/" in page.url
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=8).issue == "edited in the first tab"
    with using_client_database("other"):
        assert Grievance.objects.get(pk=8).issue == "another member"
    screenshots(page, "40-two-tabs-saved-in-its-own-database")

    # Both tabs now open demo's grievance 8; the second saves first, the first is refused.
    second.goto("/admin/demo/grievances/grievance/8/change/")
    page.reload()
    second.fill("#id_issue", "the second tab was first")
    navigate(second, "click", "input[name=_continue]")
    page.fill("#id_issue", "the first tab, too late")
    navigate(page, "click", "input[name=_continue]")
    assert "was changed after you opened it" in page.inner_text("ul.errorlist.nonfield")
    screenshots(page, "41-stale-form-refused")
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=8).issue == "the second tab was first"

    # The record's history tells who changed what.
    page.goto("/admin/demo/grievances/grievance/8/history/")
    text = page.inner_text("#change-history")
    assert (
        "the second tab was first" in text
        and "edited in the first tab" in text
        and "grace.grievances" in text
    )
    screenshots(page, "42-grievance-history")
