"""The auth form's tabs and a dates-out-of-order warning, in Chromium (Debian's, via Playwright).

A care manager opens an auth, jumps to a section by its tab, ticks a Y/N box and saves; a grievance
clerk enters a resolved date before the received one, sees the warning beside the field and at
the top, ticks "Save anyway" and saves. Screens under test-artifacts/admin-browser/<backend>/.
"""

import datetime as dt

import pytest

from auths.models import Auth
from grievances.models import Grievance
from tests.browser.test_admin_browser import log_in, message, navigate
from tests.support.factories import StaffFactory, make_record
from vbaproject.db.routing import using_client_database

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])


def test_the_auth_form_in_tabs_jumps_to_a_section_and_saves(browser_page, screenshots, settings):
    settings.VBA_PLAN_TIME_ZONE = "UTC"
    page = browser_page
    make_record(
        Auth,
        "demo",
        auth_Number="A100",
        auto_Accident="N",
        tPlan_Printed="N",
        drG_Category="MED",
        discharge_Date=None,
    )
    StaffFactory(username="carl.caremanager", databases=["demo"])
    log_in(page, "carl.caremanager")
    page.goto("/admin/demo/auths/auth/A100/change/")
    tabs = page.locator("#vba-sections.vba-tabs a.vba-section-link")
    assert tabs.count() >= 10
    # One section at a time: the first; the clinical fields wait in their tab.
    assert page.locator("#id_status").is_visible()
    assert not page.locator("#id_auto_Accident").is_visible()
    screenshots(page, "50-auth-tabs")
    page.click("#vba-sections a:text-is('Clinical')")
    assert page.locator("#id_auto_Accident").is_visible() and not page.locator("#id_status").is_visible()
    assert "#vba-section-" in page.url  # a link to this tab
    assert "DRG category" in page.inner_text(".vba-section:not([hidden])")
    page.check("#id_auto_Accident")
    page.fill("#id_injury_Date", "2026-02-01")
    screenshots(page, "51-auth-clinical-tab")
    navigate(page, "click", "input[name=_continue]")
    assert "was changed successfully" in message(page)
    with using_client_database("demo"):
        auth = Auth.objects.get(pk="A100")
    assert auth.auto_Accident == "Y" and auth.injury_Date == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    assert auth.update_User == "carl.caremanager"

    # An error in another tab: listed at the top; its link opens that tab at the field.
    page.click("#vba-sections a:text-is('Request')")
    page.fill("#id_requested_From", "2026-13-45")  # a day: one box
    navigate(page, "click", "input[name=_continue]")
    summary = page.locator("#vba-error-summary")
    assert summary.is_visible() and "Requested from" in summary.inner_text()
    assert page.locator("#id_requested_From").is_visible()  # the tab with the error is open
    screenshots(page, "52-auth-error-summary")
    page.click("#vba-sections a:text-is('Authorization')")
    assert not page.locator("#id_requested_From").is_visible()
    summary.locator("a").first.click()
    assert page.locator("#id_requested_From").is_visible()


def test_a_resolved_date_before_the_received_one_is_confirmed_past(browser_page, screenshots, settings):
    settings.VBA_PLAN_TIME_ZONE = "UTC"
    page = browser_page
    received = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
    grievance = make_record(Grievance, "demo", grievance_Received=received, grievance_Resolved=None)
    StaffFactory(username="grace.grievances", databases=["demo"])
    log_in(page, "grace.grievances")
    page.goto(f"/admin/demo/grievances/grievance/{grievance.pk}/change/")
    assert not page.locator("#vba-warnings").count()
    page.fill("#id_grievance_Resolved_0", "2026-03-01")
    page.fill("#id_grievance_Resolved_1", "9:30 am")
    page.fill("#id_resolution_Type", "upheld")
    navigate(page, "click", "input[name=_continue]")
    warning = page.locator("#vba-warnings")
    assert "Resolved (2026-03-01) is before received (2026-03-10)" in warning.inner_text()
    assert "is before received" in page.inner_text(".field-grievance_Resolved .errorlist")
    screenshots(page, "53-grievance-date-warning")
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=grievance.pk).grievance_Resolved is None
    page.check("#id_vba_confirm_warnings")
    navigate(page, "click", "input[name=_continue]")
    assert "was changed successfully" in message(page)
    screenshots(page, "54-grievance-saved-anyway")
    with using_client_database("demo"):
        saved = Grievance.objects.get(pk=grievance.pk)
    assert saved.grievance_Resolved == dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    assert saved.resolution_Type == "UPHELD"
