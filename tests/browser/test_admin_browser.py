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
from tests.test_admin import PASSWORD, make_record, make_staff
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
    make_staff("grace.grievances", databases=["demo", "other"])

    page.goto("/admin/")
    screenshots(page, "01-login")
    log_in(page, "grace.grievances")
    assert page.input_value("#vba-database-select") == "demo"
    screenshots(page, "02-index")

    # Switch to the other client database: the choice sticks and the lists show its rows.
    navigate(page, "select_option", "#vba-database-select", "other")
    assert "now working on the client database “other”" in message(page)
    navigate(page, "click", "#content-main th a[href$='/grievances/grievance/']")
    assert page.input_value("#vba-database-select") == "other"
    with using_client_database("other"):
        assert len(listed_keys(page)) == Grievance.objects.count() == 4
    screenshots(page, "03-grievances-other-database")
    navigate(page, "select_option", "#vba-database-select", "demo")
    assert page.url.endswith("/admin/grievances/grievance/")
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
    page.goto("/admin/grievances/grievance/")
    navigate(page, "click", "#changelist-filter a:text-is('Open')")
    with using_client_database("demo"):
        still_open = Grievance.objects.filter(grievance_Resolved__isnull=True)
        open_keys = set(still_open.values_list("pk", flat=True))
    assert set(listed_keys(page)) == open_keys and created.pk not in open_keys
    screenshots(page, "08-grievances-open")
    type_filter = "#changelist-filter details[data-filter-title='grievance Type']"
    navigate(page, "click", f"{type_filter} a:text-is('ACCESS')")
    with using_client_database("demo"):
        open_access = Grievance.objects.filter(grievance_Resolved__isnull=True, grievance_Type="ACCESS")
        assert set(listed_keys(page)) == set(open_access.values_list("pk", flat=True))
    assert "state=open" in page.url and "grievance_Type=ACCESS" in page.url

    # Search by subscriber ID.
    page.goto("/admin/grievances/grievance/")
    page.fill("#searchbar", "s77700")
    navigate(page, "press", "#searchbar", "Enter")
    assert "q=s77700" in page.url
    assert listed_keys(page) == [created.pk]
    screenshots(page, "09-grievances-search")

    # Export three rows as CSV.
    page.goto("/admin/grievances/grievance/")
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

    # Mark the open ones on the page resolved.
    page.goto("/admin/grievances/grievance/?state=open")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "mark_resolved")
    navigate(page, "click", "button[name=index]")
    assert f"Marked {len(open_keys)} grievances resolved." in message(page)
    screenshots(page, "11-grievances-marked-resolved")
    with using_client_database("demo"):
        assert not Grievance.objects.filter(grievance_Resolved__isnull=True).exists()


def test_a_care_manager_adds_a_clinical_trial_inline_and_sees_every_screen(browser_page, screenshots):
    page = browser_page
    seed("demo", 12, random.Random(6))
    make_staff("carl.caremanager", databases=["demo"])
    log_in(page, "carl.caremanager")
    assert page.locator("#vba-database-select option").all_inner_texts() == ["demo"]

    page.goto("/admin/carecases/carecase/")
    screenshots(page, "20-care-cases")
    with using_client_database("demo"):
        case = CareCase.objects.order_by("pk").first()
        trials_before = case.clinical_trials.count()
    page.goto(f"/admin/carecases/carecase/{case.pk}/change/")
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
    assert page.locator("#clinical_trials-group .inline-related.has_original").count() == trials_before + 1
    screenshots(page, "21-care-case-with-trials")

    page.goto("/admin/carecases/carecaseclinicaltrial/")
    screenshots(page, "22-clinical-trials")
    page.goto(f"/admin/carecases/carecaseclinicaltrial/{trial.pk}/change/")
    assert str(case.pk) in page.inner_text(".field-case_Key")
    screenshots(page, "23-clinical-trial-change")

    page.goto("/admin/auths/auth/")
    screenshots(page, "24-auths")
    with using_client_database("demo"):
        auth = Auth.objects.order_by("pk").first()
    page.goto(f"/admin/auths/auth/{auth.pk}/change/")
    legacy = page.locator("fieldset.collapse, details", has_text="No longer in use").first
    assert not page.locator("#id_total_Actual").is_visible()
    legacy.locator("summary").click()
    assert page.locator("#id_total_Actual").is_visible()
    for title in ["Request", "Approval", "Denial", "Actual usage", "Provider", "Clinical", "Treatment plan"]:
        assert page.locator("fieldset h2, fieldset summary", has_text=re.compile(f"^{title}$")).count() == 1
    screenshots(page, "25-auth-change")

    page.goto("/admin/claims/claimpromptpay/")
    screenshots(page, "26-claim-prompt-pays")
    page.goto("/admin/claims/claimpromptpay/add/")
    screenshots(page, "27-claim-prompt-pay-add")


def test_a_staff_user_without_a_database_is_told_so(browser_page, screenshots):
    page = browser_page
    make_staff("new.hire")
    log_in(page, "new.hire")
    assert "No client database is open to you" in page.inner_text("#header")
    screenshots(page, "30-no-database-index")
    page.goto("/admin/grievances/grievance/")
    assert "You have no client database to work on" in page.inner_text("#content")
    screenshots(page, "31-no-database-entity")
    assert User.objects.get(username="new.hire").is_staff
