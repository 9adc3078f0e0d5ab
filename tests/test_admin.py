"""The admin over real client databases, through Django's test client (real requests, real HTTP stack).

Covers the database switcher and per-user database permission, the change lists, the change
forms (sections, legacy fields, audit fields, the API's validation), the clinical-trial inline
and the actions. The browser tests (tests/browser/) drive the same screens in Chromium.
"""

import csv
import datetime as dt
import io
import random

import pytest
from django import forms
from django.contrib.admin.utils import flatten
from django.contrib.auth.models import Permission
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from claims.models import ClaimPromptPay
from grievances.models import Grievance
from tests.support.entities import EACH_MODEL, MODELS
from tests.support.factories import OLD, OLD_USER, StaffFactory, make_record
from vbaproject.accounts.permissions import databases_for_user
from vbaproject.admin.base import LEGACY_SECTION, RECORD_SECTION, VERSION_FIELD, is_legacy
from vbaproject.admin.sites import site_name
from vbaproject.db.routing import using_client_database
from vbaproject.history.selectors import record_history
from vbaproject.spec.entities import entity_spec

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])


# --- helpers --------------------------------------------------------------------------------


def admin_url(model, view="changelist", *args, database="demo"):
    """The admin URL of ``model``'s ``view`` in the client database ``database``: /admin/demo/..."""
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
    return reverse(name, args=args, current_app=site_name(database))


def form_data(response, **changes):
    """The POST data of the admin form on ``response``'s page as it stands, with ``changes``."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            key = form.add_prefix(name)
            value = form[name].value()
            if isinstance(field.widget, forms.SplitDateTimeWidget):
                day, time = field.widget.decompress(value)
                data[f"{key}_0"] = day.isoformat() if day else ""
                data[f"{key}_1"] = time.strftime("%H:%M:%S") if time else ""
            elif isinstance(field, forms.BooleanField):
                if value:
                    data[key] = "on"
            elif value is None:
                data[key] = ""
            else:
                data[key] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    data.update(changes)
    return data


def split(moment):
    """The admin's two inputs for a date-time."""
    return moment.date().isoformat(), moment.strftime("%H:%M:%S")


@pytest.fixture
def superuser(client):
    user = StaffFactory(username="boss", is_superuser=True)
    client.force_login(user)
    return user


# --- who may use which database -------------------------------------------------------------


def test_superusers_may_use_every_configured_database_others_what_was_granted():
    boss = StaffFactory(username="boss", is_superuser=True, databases=["other"])
    clerk = StaffFactory(username="clerk", databases=["other", "retired-db"])
    nobody = StaffFactory(username="nobody")
    gone = StaffFactory(username="gone", databases=["demo"])
    gone.is_active = False
    gone.save()
    assert databases_for_user(boss) == ["demo", "other"]
    assert databases_for_user(clerk) == ["other"]  # no longer configured: ignored
    assert databases_for_user(nobody) == []
    assert databases_for_user(gone) == []
    assert databases_for_user(None) == []


def test_the_database_is_in_every_admin_url_and_the_switcher_navigates(client):
    clerk = StaffFactory(username="clerk", databases=["demo", "other"])
    make_record(Grievance, "demo", subscriber_ID="DEMO01")
    make_record(Grievance, "other", subscriber_ID="OTHER01")
    client.force_login(clerk)

    assert admin_url(Grievance) == "/admin/demo/grievances/grievance/"
    page = client.get(admin_url(Grievance)).content.decode()
    assert 'name="database"' in page and '<option value="demo" selected>' in page
    assert '<option value="other"' in page
    assert "DEMO01" in page and "OTHER01" not in page
    # Another database is another URL; neither changes what the other shows.
    page = client.get(admin_url(Grievance, database="other")).content.decode()
    assert "OTHER01" in page and "DEMO01" not in page and '<option value="other" selected>' in page
    assert "DEMO01" in client.get(admin_url(Grievance)).content.decode()

    response = client.get("/admin/vba-database/", {"database": "other", "next": admin_url(Grievance)})
    assert response.status_code == 302 and response["Location"] == admin_url(Grievance, database="other")


def test_a_database_not_granted_is_a_styled_no_access_page(client):
    clerk = StaffFactory(username="clerk", databases=["demo"])
    client.force_login(clerk)
    page = client.get("/admin/").content.decode()
    assert '<option value="demo"' in page and '<option value="other"' not in page
    assert 'href="/admin/demo/"' in page and "You have no client database to work on" not in page

    make_record(Grievance, "other", subscriber_ID="OTHER01")
    for url in [
        admin_url(Grievance, database="other"),
        "/admin/other/",
        "/admin/vba-database/?database=other",
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        page = response.content.decode()
        assert "You may not use the client database “other”" in page and "OTHER01" not in page
        assert 'id="header"' in page  # the admin's own page, not a bare 403


def test_an_admin_page_reads_the_users_databases_once(client):
    client.force_login(StaffFactory(username="clerk", databases=["demo", "other"]))
    with CaptureQueriesContext(connections["default"]) as queries:
        page = client.get(admin_url(Grievance)).content.decode()
    assert '<option value="other"' in page  # the switcher has them ...
    grants = [q for q in queries.captured_queries if "vbaproject_userdatabase" in q["sql"]]
    assert len(grants) == 1  # ... and so had the site's check, from the same read


def test_switching_away_from_a_record_lands_on_its_list(client, superuser):
    grievance = make_record(Grievance, "demo")
    next_url = admin_url(Grievance, "change", grievance.pk)
    response = client.get("/admin/vba-database/", {"database": "other", "next": next_url})
    assert response["Location"] == admin_url(Grievance, database="other")
    response = client.get("/admin/vba-database/", {"database": "demo", "next": "https://evil.example/"})
    assert response["Location"] == "/admin/demo/"
    response = client.get("/admin/vba-database/", {"database": "other", "next": "/admin/demo/no/such/page/"})
    assert response["Location"] == "/admin/other/"


def test_the_switcher_needs_a_staff_login(client):
    response = client.get("/admin/vba-database/", {"database": "demo"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_form_opened_in_one_database_saves_only_there(client, superuser):
    """Two tabs: a grievance of demo opened in one, the other tab on other; the first tab saves."""
    mine = make_record(Grievance, "demo", subscriber_ID="DEMO-8")
    theirs = make_record(Grievance, "other", subscriber_ID="OTHER-8", grievance_Key=mine.pk)
    page = client.get(admin_url(Grievance, "change", mine.pk))
    client.get(admin_url(Grievance, database="other"))  # the other tab
    response = client.post(admin_url(Grievance, "change", mine.pk), form_data(page, subscriber_ID="EDITED"))
    assert response.status_code == 302
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=mine.pk).subscriber_ID == "EDITED"
    with using_client_database("other"):
        assert Grievance.objects.get(pk=theirs.pk).subscriber_ID == "OTHER-8"


def test_a_staff_user_without_a_database_gets_a_clear_message(client):
    client.force_login(StaffFactory(username="newcomer"))
    index = client.get("/admin/")
    assert index.status_code == 200
    page = index.content.decode()
    assert "No client database is open to you" in page and "You have no client database to work on" in page
    assert admin_url(Grievance) not in page
    for model in MODELS:
        for url in [admin_url(model), admin_url(model, "add")]:
            response = client.get(url)
            assert response.status_code == 403
            assert "You may not use the client database “demo”" in response.content.decode()
    response = client.get(
        "/admin/demo/autocomplete/?app_label=carecases&model_name=carecaseclinicaltrial&field_name=case_Key&term=1"
    )
    assert response.status_code == 403
    assert client.get("/admin/demo/carecases/").status_code == 403
    assert client.get("/admin/password_change/").status_code == 200


def test_granting_databases_on_the_user_page(client, superuser):
    clerk = StaffFactory(username="clerk")
    url = f"/admin/auth/user/{clerk.pk}/change/"
    page = client.get(url)
    assert "client databases (superusers may use every one)" in page.content.decode().lower()
    prefix = "client_databases"
    data = form_data(page, **{f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-0-database": "other", "_save": "Save"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert databases_for_user(clerk) == ["other"]
    data[f"{prefix}-0-database"] = "nowhere"
    response = client.post(url, data)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


# --- change lists ---------------------------------------------------------------------------


@EACH_MODEL
def test_change_lists_have_columns_filters_search_and_only_the_selected_database(client, superuser, model):
    rng = random.Random(model.__name__)
    mine = [make_record(model, "demo", rng) for _ in range(3)]
    for _ in range(4):
        make_record(model, "other", rng)
    response = client.get(admin_url(model))
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert sorted(r.pk for r in changelist.result_list) == sorted(r.pk for r in mine)
    assert len(changelist.list_display) >= 6 and changelist.has_filters
    assert changelist.search_fields

    # Search by the key finds the record.
    key = str(mine[0].pk)
    found = client.get(admin_url(model), {"q": key}).context["cl"].result_list
    assert mine[0].pk in {r.pk for r in found}


def test_search_on_member_ids_and_date_hierarchy(client, superuser):
    wanted = make_record(Grievance, "demo", subscriber_ID="S4242", grievance_Received=OLD)
    make_record(Grievance, "demo", subscriber_ID="S9999", grievance_Received=OLD.replace(year=2024))
    found = client.get(admin_url(Grievance), {"q": "s424"}).context["cl"].result_list
    assert [g.pk for g in found] == [wanted.pk]
    by_year = client.get(admin_url(Grievance), {"grievance_Received__year": "2023"})
    assert [g.pk for g in by_year.context["cl"].result_list] == [wanted.pk]
    assert client.get(admin_url(Grievance), {"q": "not-a-number"}).status_code == 200


def test_grievances_list_open_ones_first_and_filter_open_or_resolved(client, superuser):
    day = dt.timedelta(days=1)
    resolved_new = make_record(Grievance, "demo", grievance_Received=OLD + 9 * day, grievance_Resolved=OLD)
    still_open = {"grievance_Resolved": None, "grievance_Status": "OPEN", "grievance_Type": "QUALITY"}
    open_old = make_record(Grievance, "demo", grievance_Received=OLD, **still_open)
    open_new = make_record(Grievance, "demo", grievance_Received=OLD + 5 * day, **still_open)
    resolved_old = make_record(Grievance, "demo", grievance_Received=OLD + day, grievance_Resolved=OLD)
    listed = client.get(admin_url(Grievance)).context["cl"].result_list
    assert [g.pk for g in listed] == [open_new.pk, open_old.pk, resolved_new.pk, resolved_old.pk]
    # Open ones alone are the queue: oldest due first (tests/test_grievance_queue.py).
    opened = client.get(admin_url(Grievance), {"state": "open"}).context["cl"].result_list
    assert [g.pk for g in opened] == [open_old.pk, open_new.pk]
    resolved = client.get(admin_url(Grievance), {"state": "resolved"}).context["cl"].result_list
    assert [g.pk for g in resolved] == [resolved_new.pk, resolved_old.pk]


def test_filters_on_status_type_and_category(client, superuser):
    hit = make_record(
        Grievance, "demo", grievance_Status="OPEN", grievance_Type="ACCESS", grievance_Category="ADMIN"
    )
    make_record(
        Grievance, "demo", grievance_Status="OPEN", grievance_Type="BILLING", grievance_Category="ADMIN"
    )
    make_record(
        Grievance, "demo", grievance_Status="CLOSED", grievance_Type="ACCESS", grievance_Category="ADMIN"
    )
    response = client.get(admin_url(Grievance), {"grievance_Status": "OPEN", "grievance_Type": "ACCESS"})
    assert [g.pk for g in response.context["cl"].result_list] == [hit.pk]
    titles = {spec.title for spec in response.context["cl"].filter_specs}
    # Titled from the label table (vbaproject/spec/labels.py), not the API names.
    assert {"open or resolved", "status", "type", "category"} <= titles


# --- change forms ---------------------------------------------------------------------------


@EACH_MODEL
def test_change_forms_group_every_field_once_legacy_collapsed_audit_read_only(client, superuser, model):
    record = make_record(model, "demo")
    response = client.get(admin_url(model, "change", record.pk))
    assert response.status_code == 200
    adminform = response.context["adminform"]
    sections = {fieldset.name: fieldset for fieldset in adminform}
    shown = [name for fieldset in adminform for name in flatten(fieldset.fields)]
    spec = entity_spec(model)
    expected = {f.name for f in spec.fields if f.model_field.editable or f.is_audit or f.is_key}
    assert sorted(shown) == sorted([*expected, VERSION_FIELD])  # every field once, and the version
    assert None not in sections  # no unnamed, alphabetical heap
    audit = [f.name for f in spec.fields if f.is_audit]
    assert flatten(sections[RECORD_SECTION].fields) == audit
    assert set(audit) <= set(adminform.readonly_fields)
    legacy = {f.name for f in spec.fields if is_legacy(f)}
    if legacy:
        assert set(flatten(sections[LEGACY_SECTION].fields)) == legacy
        assert "collapse" in sections[LEGACY_SECTION].classes
    else:
        assert LEGACY_SECTION not in sections


def test_the_auth_form_has_its_sections(client, superuser):
    auth = make_record(Auth, "demo")
    adminform = client.get(admin_url(Auth, "change", auth.pk)).context["adminform"]
    sections = {fieldset.name: flatten(fieldset.fields) for fieldset in adminform}
    for title in ["Request", "Approval", "Denial", "Actual usage", "Provider", "Clinical", "Treatment plan"]:
        assert sections[title], title
    assert "requested_From" in sections["Request"] and "units_Requested" in sections["Request"]
    assert "approved_By" in sections["Approval"] and "amount_Approved" in sections["Approval"]
    assert "actual_Thru" in sections["Actual usage"] and "total_Actual" not in sections["Actual usage"]
    assert set(sections["Treatment plan"]) == {
        f for f in sections["Treatment plan"] if f.startswith("tPlan_")
    }
    assert {"total_Actual", "closed", "narrative", "bodyCode_ID"} <= set(sections[LEGACY_SECTION])
    assert sections["Authorization"][0] == "auth_Number"  # read-only on an existing auth
    assert "auth_Number" in adminform.readonly_fields


def test_adding_a_grievance_sets_the_audit_fields_like_the_api(client):
    long_name = "grievance.staff.member.with.a.long.name"
    user = StaffFactory(username=long_name, databases=["other"])
    client.force_login(user)
    page = client.get(admin_url(Grievance, "add", database="other"))
    received = split(dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC))
    data = form_data(
        page,
        subscriber_ID="S100",
        member_Seq="01",
        grievance_Status="OPEN",
        grievance_Received_0=received[0],
        grievance_Received_1=received[1],
        entry_User="forged",
        _save="Save",
    )
    before = timezone.now()
    response = client.post(admin_url(Grievance, "add", database="other"), data)
    assert response.status_code == 302
    with using_client_database("other"):
        grievance = Grievance.objects.get(subscriber_ID="S100")
    with using_client_database("demo"):
        assert not Grievance.objects.exists()
    assert grievance.entry_User == grievance.update_User == long_name[:20]
    assert grievance.entry_Date == grievance.update_Date and grievance.entry_Date >= before
    assert grievance.grievance_Received == dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def test_changing_keeps_entry_and_sets_update(client, superuser):
    grievance = make_record(Grievance, "demo", issue="before")
    url = admin_url(Grievance, "change", grievance.pk)
    response = client.post(url, form_data(client.get(url), issue="after", update_User="forged", _save="Save"))
    assert response.status_code == 302
    with using_client_database("demo"):
        grievance.refresh_from_db()
    assert grievance.issue == "after"
    assert (grievance.entry_Date, grievance.entry_User) == (OLD, OLD_USER)
    assert grievance.update_User == "boss" and grievance.update_Date > OLD


def test_claim_prompt_pay_keeps_the_full_user_name_its_column_allows(client):
    name = "prompt.pay.maintainer.with.a.long.name"
    client.force_login(StaffFactory(username=name, databases=["demo"]))
    page = client.get(admin_url(ClaimPromptPay, "add"))
    response = client.post(admin_url(ClaimPromptPay, "add"), form_data(page, group_ID="G1", _save="Save"))
    assert response.status_code == 302
    with using_client_database("demo"):
        row = ClaimPromptPay.objects.get()
    assert row.entry_User == name  # entry_User holds 200 characters here
    assert row.update_User == name[:20]


def test_the_forms_apply_the_apis_rules(client, superuser):
    page = client.get(admin_url(Grievance, "add"))
    response = client.post(
        admin_url(Grievance, "add"),
        form_data(page, subscriber_ID="S1234567890", call_Key=str(2**31), _save="Save"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "subscriber_ID" in errors and "at most 9 characters" in errors["subscriber_ID"][0]
    assert "call_Key" in errors  # beyond the 32-bit range the API accepts
    with using_client_database("demo"):
        assert not Grievance.objects.exists()


def test_an_auth_gets_its_treatment_plan_flag_from_a_box_and_a_number_assigned(client, superuser):
    page = client.get(admin_url(Auth, "add"))
    make_record(Auth, "demo", auth_Number="41", status="APPROVED")  # not a status looked up below
    # The treatment-plan flag (VBA's Y/N, required) is a check box: left unticked it is "N".
    data = form_data(page, auth_Number="", status="NEW", _save="Save")
    response = client.post(admin_url(Auth, "add"), data)
    assert response.status_code == 302
    with using_client_database("demo"):
        assert Auth.objects.get(status="NEW").tPlan_Printed == "N"
    response = client.post(
        admin_url(Auth, "add"),
        form_data(page, auth_Number="", tPlan_Printed="N", status="OPEN", _save="Save"),
    )
    assert response.status_code == 302
    with using_client_database("demo"):
        created = Auth.objects.get(status="OPEN", tPlan_Printed="N")
    assert created.auth_Number.isdigit() and created.auth_Number != "41" and created.entry_User == "boss"
    response = client.post(
        admin_url(Auth, "add"), form_data(page, auth_Number="41", tPlan_Printed="Y", _save="Save")
    )
    assert response.status_code == 200 and "auth_Number" in response.context["adminform"].form.errors


def test_a_clinical_trial_must_name_a_case_of_the_same_database(client, superuser):
    mine = make_record(CareCase, "demo")
    theirs = make_record(CareCase, "other", case_Key=mine.pk + 1000)
    page = client.get(admin_url(CareCaseClinicalTrial, "add"))
    assert 'data-ajax--url="/admin/demo/autocomplete/"' in page.content.decode()
    response = client.post(
        admin_url(CareCaseClinicalTrial, "add"), form_data(page, case_Key=str(theirs.pk), _save="Save")
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.context["adminform"].form.errors["case_Key"][0]
    response = client.post(
        admin_url(CareCaseClinicalTrial, "add"),
        form_data(page, case_Key=str(mine.pk), study_Title="Insulin pump", _save="Save"),
    )
    assert response.status_code == 302
    with using_client_database("demo"):
        assert CareCaseClinicalTrial.objects.get(study_Title="Insulin pump").case_Key_id == mine.pk


def test_autocomplete_of_cases_searches_the_selected_database(client, superuser):
    make_record(CareCase, "demo", case_ID="CASE-DEMO")
    make_record(CareCase, "other", case_ID="CASE-OTHER")
    url = (
        "/admin/{}/autocomplete/?app_label=carecases&model_name=carecaseclinicaltrial"
        "&field_name=case_Key&term=CASE"
    )
    for database in ("demo", "other"):
        (found,) = client.get(url.format(database)).json()["results"]
        with using_client_database(database):
            assert CareCase.objects.get(pk=found["id"]).case_ID == f"CASE-{database.upper()}"


def test_a_care_case_page_adds_and_edits_its_clinical_trials_inline(client, superuser):
    case = make_record(CareCase, "demo")
    existing = make_record(CareCaseClinicalTrial, "demo", case_Key=case, study_Title="Old title")
    url = admin_url(CareCase, "change", case.pk)
    page = client.get(url)
    assert "clinical_trials-TOTAL_FORMS" in page.content.decode()
    data = form_data(
        page,
        **{
            "clinical_trials-TOTAL_FORMS": "2",
            "clinical_trials-0-study_Title": "New title",
            "clinical_trials-1-study_Title": "Added inline",
            "clinical_trials-1-protocol_Number": "P-77",
            "_save": "Save",
        },
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    with using_client_database("demo"):
        trials = {t.study_Title: t for t in case.clinical_trials.all()}
    assert set(trials) == {"New title", "Added inline"}
    added, edited = trials["Added inline"], trials["New title"]
    assert added.protocol_Number == "P-77" and added.entry_User == added.update_User == "boss"
    assert edited.pk == existing.pk and (edited.entry_Date, edited.entry_User) == (OLD, OLD_USER)
    assert edited.update_User == "boss" and edited.update_Date > OLD
    # The inline's writes are in the trails, as the admin's, by boss.
    assert latest_change(CareCaseClinicalTrial, added.pk) == ("create", "boss", "admin")
    assert latest_change(CareCaseClinicalTrial, edited.pk) == ("update", "boss", "admin")


# --- actions --------------------------------------------------------------------------------


@EACH_MODEL
def test_csv_export_of_the_selected_rows_with_api_names(client, superuser, model):
    rng = random.Random(7)
    chosen = [make_record(model, "demo", rng) for _ in range(2)]
    make_record(model, "demo", rng)
    make_record(model, "other", rng)
    response = client.post(
        admin_url(model),
        {"action": "export_csv", "_selected_action": [str(r.pk) for r in chosen], "index": "0"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"{model._meta.model_name}-demo-" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    spec = entity_spec(model)
    assert rows[0] == [f.name for f in spec.fields]
    assert sorted(row[0] for row in rows[1:]) == sorted(str(r.pk) for r in chosen)
    first = next(row for row in rows[1:] if row[0] == str(chosen[0].pk))
    values = dict(zip(rows[0], first, strict=True))
    assert values["entry_Date"] == "2023-05-06T07:08:09Z" and values["entry_User"] == OLD_USER
    with using_client_database("demo"):
        record = model.objects.get(pk=chosen[0].pk)
    for field in spec.fields:
        value = getattr(record, field.attname)
        if value is None:
            assert values[field.name] == ""
        elif field.kind == "boolean":
            assert values[field.name] == ("true" if value else "false")
        elif field.kind == "datetime":
            assert dt.datetime.fromisoformat(values[field.name]) == value
        elif field.kind == "number":
            assert float(values[field.name]) == value
        else:
            assert values[field.name] == str(value)


def test_export_of_every_row_across_pages(client, superuser):
    for _ in range(3):
        make_record(ClaimPromptPay, "other")
    response = client.post(
        admin_url(ClaimPromptPay, database="other"),
        {"action": "export_csv", "select_across": "1", "_selected_action": ["1"], "index": "0"},
    )
    assert len(b"".join(response.streaming_content).decode().strip().splitlines()) == 4


def test_mark_resolved_sets_the_dates_that_are_missing(client, superuser):
    open_one = make_record(
        Grievance, "demo", grievance_Resolved=None, resolution_Date=None, grievance_Status="PENDING"
    )
    half = make_record(
        Grievance, "demo", grievance_Resolved=OLD, resolution_Date=None, grievance_Status="OPEN"
    )
    done = make_record(
        Grievance, "demo", grievance_Resolved=OLD, resolution_Date=OLD, grievance_Status="CLOSED"
    )
    before = timezone.now()
    selection = {
        "action": "mark_resolved",
        "_selected_action": [str(g.pk) for g in (open_one, half, done)],
        "index": "0",
    }
    # A confirmation page first (tests/test_grievance_queue.py), then the resolution.
    assert "Resolve 2 grievances" in client.post(admin_url(Grievance), selection).content.decode()
    response = client.post(
        admin_url(Grievance),
        {**selection, "post": "yes", "resolution_Type": "UPHELD", "resolution": "Explained."},
        follow=True,
    )
    assert "Resolved 2 grievances. 1 was resolved already." in response.content.decode()
    with using_client_database("demo"):
        open_one, half, done = (Grievance.objects.get(pk=g.pk) for g in (open_one, half, done))
    assert open_one.grievance_Resolved >= before and open_one.resolution_Date == open_one.grievance_Resolved
    assert half.grievance_Resolved == OLD and half.resolution_Date >= before
    assert open_one.grievance_Status == half.grievance_Status == "RESOLVED"
    assert open_one.update_User == half.update_User == "boss" and open_one.update_Date >= before
    assert (done.update_Date, done.update_User) == (OLD, OLD_USER)
    assert (
        latest_change(Grievance, open_one.pk)
        == latest_change(Grievance, half.pk)
        == ("update", "boss", "admin")
    )
    assert latest_change(Grievance, done.pk)[0] == "create"  # left alone


def test_deleting_in_the_admin_is_recorded(client, superuser):
    grievance = make_record(Grievance, "demo", subscriber_ID="GONE1")
    url = admin_url(Grievance, "delete", grievance.pk)
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert latest_change(Grievance, grievance.pk) == ("delete", "boss", "admin")


def test_mark_resolved_on_the_open_list_selected_across(client, superuser):
    for _ in range(3):
        make_record(Grievance, "demo", grievance_Resolved=None, grievance_Status="OPEN")
    make_record(Grievance, "demo", grievance_Resolved=OLD, resolution_Date=OLD)
    response = client.post(
        admin_url(Grievance) + "?state=open",
        {
            "action": "mark_resolved",
            "select_across": "1",
            "_selected_action": ["1"],
            "index": "0",
            "post": "yes",
            "resolution_Type": "WITHDRAWN",
            "resolution": "Member withdrew.",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "Resolved 3 grievances." in page and "already" not in page
    with using_client_database("demo"):
        assert not Grievance.objects.filter(grievance_Resolved__isnull=True).exists()


def test_mark_resolved_needs_the_change_permission(client):
    viewer = StaffFactory(username="viewer", databases=["demo"])
    viewer.user_permissions.set(Permission.objects.filter(codename="view_grievance"))
    client.force_login(viewer)
    grievance = make_record(Grievance, "demo", grievance_Resolved=None)
    page = client.get(admin_url(Grievance)).content.decode()
    assert 'value="export_csv"' in page and 'value="mark_resolved"' not in page
    client.post(admin_url(Grievance), {"action": "mark_resolved", "_selected_action": [str(grievance.pk)]})
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=grievance.pk).grievance_Resolved is None


# --- history and conflicts --------------------------------------------------------------------


def latest_change(model, key, database="demo"):
    """(action, user, via) of the record's newest history entry."""
    with using_client_database(database):
        entry = record_history(model, key).first()
    return entry.history_action, entry.history_user, entry.history_via


def test_a_records_history_page_shows_who_changed_what_from_what_to_what(client, superuser):
    grievance = make_record(Grievance, "demo", issue="before")
    url = admin_url(Grievance, "change", grievance.pk)
    assert client.post(url, form_data(client.get(url), issue="after", _save="Save")).status_code == 302
    page = client.get(admin_url(Grievance, "history", grievance.pk)).content.decode()
    assert "boss" in page and "the admin" in page and "Changed" in page
    assert "before" in page and "after" in page
    # The trail lives with the record's database: other's grievance of the same key has none of it.
    make_record(Grievance, "other", grievance_Key=grievance.pk)
    page = client.get(admin_url(Grievance, "history", grievance.pk, database="other")).content.decode()
    assert "after" not in page


def test_superusers_browse_every_change_of_a_database_and_staff_do_not(client, superuser):
    grievance = make_record(Grievance, "demo", issue="first")
    url = admin_url(Grievance, "change", grievance.pk)
    client.post(url, form_data(client.get(url), issue="second", _save="Save"))
    changes = reverse("admin:history_change_changelist", current_app=site_name("demo"))
    listed = client.get(changes, {"entity": "Grievance", "username": "boss"}).context["cl"].result_list
    assert [(c.record_key, c.action) for c in listed][:1] == [(str(grievance.pk), "update")]
    client.force_login(StaffFactory(username="clerk", databases=["demo"]))
    assert client.get(changes).status_code == 403


def test_recent_actions_are_the_users_changes_in_that_database(client, superuser):
    grievance = make_record(Grievance, "demo")
    url = admin_url(Grievance, "change", grievance.pk)
    client.post(url, form_data(client.get(url), issue="changed here", _save="Save"))
    assert f"grievance {grievance.pk}" in client.get("/admin/demo/").content.decode()
    assert f"grievance {grievance.pk}" not in client.get("/admin/other/").content.decode()


def test_saving_over_a_change_made_meanwhile_is_refused_and_says_what_changed(client, superuser, api):
    grievance = make_record(Grievance, "demo", issue="opened", subscriber_ID="S1")
    url = admin_url(Grievance, "change", grievance.pk)
    page = client.get(url)  # the care manager opens the form ...
    meanwhile = {"subscriber_ID": "S2", "issue": "by the API"}
    changed = api.put(f"/vbasoftware/grievances/{grievance.pk}", meanwhile)
    assert changed.status_code == 200  # ... an integration changes the record meanwhile ...
    response = client.post(url, form_data(page, issue="mine", _save="Save"))  # ... she saves.
    assert response.status_code == 200
    text = response.content.decode()
    assert "was changed after you opened it" in text and api.username in text and "the API" in text
    assert "subscriber_ID" in text and "Nothing was saved" in text
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=grievance.pk).issue == "by the API"
    # Reopened, the form saves.
    assert client.post(url, form_data(client.get(url), issue="mine", _save="Save")).status_code == 302
