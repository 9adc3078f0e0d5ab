"""The entity forms as staff use them (vbaproject/admin/forms.py, vbaproject/spec/labels.py), through
Django's test client on the real client databases of the pass (SQLite or PostgreSQL).

The label table covers every field of every entity in words staff use; Y/N flags are boxes that
store VBA's Y/N; codes are saved in upper case (while the API keeps what it is sent); times are read
as typed; date-only facts are days at midnight UTC; dates out of order stop a save once, with a box
to confirm; errors are listed at the top; a 403 is a page; the urgent auths stand out.
"""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from grievances.models import Grievance
from tests.support.entities import MODELS
from tests.support.factories import StaffFactory, make_record
from tests.test_admin import admin_url, form_data
from vbaproject.admin.forms import CONFIRM_FIELD, parse_time
from vbaproject.db.routing import using_client_database
from vbaproject.spec import labels
from vbaproject.spec.entities import entity_spec

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

JARGON = re.compile(r"\bAPI\b|NOT NULL|\bnull\b|JSON|required by|Note:|database will", re.IGNORECASE)


@pytest.fixture
def superuser(client, settings):
    settings.VBA_PLAN_TIME_ZONE = "UTC"  # times below are read in the user's zone: the plan's
    user = StaffFactory(username="boss", is_superuser=True)
    client.force_login(user)
    return user


def fetch(model, key):
    with using_client_database("demo"):
        return model.objects.get(pk=key)


# --- the label table ------------------------------------------------------------------------


def test_every_field_of_every_entity_has_a_readable_label_and_a_staff_help_text():
    for model in MODELS:
        for field in entity_spec(model).fields:
            label, help_text = labels.field_label(model, field.name), labels.field_help(model, field.name)
            where = f"{model.__name__}.{field.name}"
            assert label and "_" not in label and label[0].isupper(), where
            # No mangled camel case ("DrG Category", "TPlan DownLoaded"): inner capitals only in
            # acronyms (DRG, ID, IVR).
            for word in re.findall(r"[A-Za-z]+", label):
                assert word.isupper() or word[1:].islower(), f"{where}: {label!r}"
            assert help_text.endswith(".") and len(help_text) > 10, where
            assert not JARGON.search(help_text), f"{where}: {help_text!r}"
    assert labels.field_label(Auth, "drG_Category") == "DRG category"
    assert labels.field_label(Auth, "tPlan_DownLoaded") == "Treatment plan downloaded"
    assert labels.field_label(Auth, "careManager_Key") == "Care manager"
    assert labels.lower_label(Auth, "drG_Category") == "DRG category"
    assert labels.lower_label(Grievance, "grievance_Status") == "status"


def test_the_kinds_name_real_fields_and_codes_are_normalised():
    for table in (labels.CODE_FIELDS, labels.YES_NO_FIELDS, labels.DATE_ONLY_FIELDS):
        for entity, names in table.items():
            model = next(m for m in MODELS if m.__name__ == entity)
            assert names <= {f.name for f in entity_spec(model).fields}, entity
    for entity, pairs in labels.DATE_ORDER.items():
        model = next(m for m in MODELS if m.__name__ == entity)
        for pair in pairs:
            assert all(model._meta.get_field(n).get_internal_type() == "DateTimeField" for n in pair)
    assert labels.normalise_code("  upheld ") == "UPHELD"
    assert labels.normalise_code("phase  3") == "PHASE 3"
    assert labels.normalise_code(None) is None


@pytest.mark.parametrize(
    ("typed", "time"),
    [
        ("9am", dt.time(9)),
        ("9 AM", dt.time(9)),
        ("9:30 pm", dt.time(21, 30)),
        ("9.30pm", dt.time(21, 30)),
        ("21:30", dt.time(21, 30)),
        ("21:30:15", dt.time(21, 30, 15)),
        ("0930", dt.time(9, 30)),
        ("12am", dt.time(0)),
        ("12 p.m.", dt.time(12)),
        ("noon", dt.time(12)),
    ],
)
def test_times_are_read_as_people_type_them(typed, time):
    assert parse_time(typed) == time


@pytest.mark.parametrize("typed", ["25:00", "13pm", "9:75", "soon", "0am"])
def test_what_is_no_time_is_refused(typed):
    assert parse_time(typed) is None


# --- the forms ------------------------------------------------------------------------------


def test_the_auth_form_speaks_to_staff(client, superuser):
    page = client.get(admin_url(Auth, "add")).content.decode()
    for label in ["DRG category", "Treatment plan downloaded", "Care manager", "Auto accident"]:
        assert re.search(f">{label}:?</label>", page), label  # a check box's label has no colon
    assert "NOT NULL" not in page and "Check this box" not in page and "DrG Category" not in page
    assert 'data-vba-tabs="1"' in page and page.count('class="vba-section"') >= 10
    # Y/N flags are check boxes; date-only facts one date box; codes suggest values.
    assert re.search(r'<input type="checkbox" name="auto_Accident"', page)
    assert 'name="injury_Date"' in page and 'name="injury_Date_1"' not in page
    assert re.search(r'<input type="text" name="status"[^>]*list="id_status-codes"', page)
    assert '<option value="APPROVED">' in page


def test_yes_no_flags_store_y_and_n_and_an_untouched_empty_flag_stays_empty(client, superuser):
    page = client.get(admin_url(Auth, "add"))
    response = client.post(
        admin_url(Auth, "add"),
        form_data(page, auth_Number="YN1", auto_Accident="on", work_Related="", _save="Save"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    auth = fetch(Auth, "YN1")
    assert (auth.auto_Accident, auth.work_Related, auth.tPlan_Printed) == ("Y", "N", "N")

    url = admin_url(Auth, "change", "YN1")
    page = client.get(url)
    box = re.search(r'<input type="checkbox" name="auto_Accident"[^>]*>', page.content.decode())[0]
    assert "checked" in box and "value=" not in box  # a ticked box posts "on", as browsers send it
    data = form_data(page, _save="Save")
    data.pop("auto_Accident")  # untick
    data["tPlan_Printed"] = "on"
    assert client.post(url, data).status_code == 302
    auth = fetch(Auth, "YN1")
    assert (auth.auto_Accident, auth.tPlan_Printed) == ("N", "Y")

    # A flag VBA left empty stays empty when someone saves the form without touching it.
    empty = make_record(Auth, "demo", auth_Number="YN2", ivR_Flag=None, tPlan_Printed="Y")
    url = admin_url(Auth, "change", empty.pk)
    assert client.post(url, form_data(client.get(url), notes="edited", _save="Save")).status_code == 302
    auth = fetch(Auth, "YN2")
    assert auth.ivR_Flag is None and auth.notes == "edited" and auth.tPlan_Printed == "Y"


def test_codes_are_saved_in_upper_case_and_suggest_the_values_in_use(client, superuser, api):
    client.force_login(superuser)
    make_record(Grievance, "demo", grievance_Status="Review ", resolution_Type="overturn")
    page = client.get(admin_url(Grievance, "add"))
    html = page.content.decode()
    assert '<option value="OVERTURN">' in html and '<option value="UPHELD">' in html
    response = client.post(
        admin_url(Grievance, "add"),
        form_data(
            page, subscriber_ID="S55", grievance_Status=" pending", resolution_Type="upheld", _save="Save"
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    with using_client_database("demo"):
        saved = Grievance.objects.get(subscriber_ID="S55")
    assert (saved.grievance_Status, saved.resolution_Type) == ("PENDING", "UPHELD")

    # The API keeps accepting what VBAPI accepts, exactly as sent.
    answer = api.put("/vbasoftware/grievances-batch", [{"grievance_Key": 0, "resolution_Type": "upheld"}])
    (item,) = answer.json()["data"]
    assert item["status"] == 201, answer.content
    key = item["id"][0]["value"]
    assert fetch(Grievance, key).resolution_Type == "upheld"


def test_a_form_opens_without_suggestions_when_reading_them_fails(client, superuser, monkeypatch):
    from django.core.cache import cache
    from django.db import connections

    from vbaproject.admin import scale

    def failing(queryset, name, limit):
        with connections[queryset.db].cursor() as cursor:
            cursor.execute("SELECT * FROM vba_no_such_table")  # a failed statement (PostgreSQL: aborts)

    cache.clear()
    monkeypatch.setattr(scale, "distinct_values", failing)
    grievance = make_record(Grievance, "demo", grievance_Status="OPEN")
    page = client.get(admin_url(Grievance, "change", grievance.pk))
    assert page.status_code == 200 and 'name="grievance_Status"' in page.content.decode()


def test_times_are_entered_flexibly_and_date_only_facts_are_days(client, superuser):
    page = client.get(admin_url(Auth, "add"))
    response = client.post(
        admin_url(Auth, "add"),
        form_data(
            page,
            auth_Number="T1",
            received_Date_0="2026-01-15",
            received_Date_1="9:30 pm",
            injury_Date="2026-01-02",
            _save="Save",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    auth = fetch(Auth, "T1")
    assert auth.received_Date == dt.datetime(2026, 1, 15, 21, 30, tzinfo=dt.UTC)
    assert auth.injury_Date == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)  # as the API stores "2026-01-02"

    # A day with a time from the API shows as its day and keeps its time when not touched.
    make_record(Auth, "demo", auth_Number="T2", discharge_Date=dt.datetime(2026, 2, 3, 17, 45, tzinfo=dt.UTC))
    url = admin_url(Auth, "change", "T2")
    page = client.get(url)
    assert 'name="discharge_Date" value="2026-02-03"' in page.content.decode()
    assert client.post(url, form_data(page, notes="x", _save="Save")).status_code == 302
    assert fetch(Auth, "T2").discharge_Date == dt.datetime(2026, 2, 3, 17, 45, tzinfo=dt.UTC)

    # What is no time is refused beside the field, and listed at the top.
    page = client.get(admin_url(Auth, "add"))
    response = client.post(
        admin_url(Auth, "add"),
        form_data(
            page, auth_Number="T3", received_Date_0="2026-01-15", received_Date_1="half past", _save="Save"
        ),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "Enter a time such as 9am, 9:30 pm or 21:30."
        in response.context["adminform"].form.errors["received_Date"]
    )
    summary = html[html.index('id="vba-error-summary"') : html.index('id="vba-sections"')]
    assert 'href="#id_received_Date_0"' in summary and "Received</a>" in summary


def test_dates_out_of_order_are_a_warning_staff_confirm_past(client, superuser):
    grievance = make_record(
        Grievance,
        "demo",
        grievance_Received=dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC),
        grievance_Resolved=None,
    )
    url = admin_url(Grievance, "change", grievance.pk)
    page = client.get(url)
    assert CONFIRM_FIELD not in form_data(page)  # no box until there is something to confirm
    data = form_data(page, grievance_Resolved_0="2026-03-01", grievance_Resolved_1="10am", _save="Save")
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Resolved (2026-03-01) is before received (2026-03-10)" in errors["grievance_Resolved"][0]
    html = response.content.decode()
    assert 'id="vba-warnings"' in html and f'name="{CONFIRM_FIELD}"' in html and "Save anyway" in html
    assert fetch(Grievance, grievance.pk).grievance_Resolved is None

    response = client.post(url, {**data, CONFIRM_FIELD: "on"})
    assert response.status_code == 302
    assert fetch(Grievance, grievance.pk).grievance_Resolved == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)

    # An auth approved through a day before it is approved from: the same.
    page = client.get(admin_url(Auth, "add"))
    data = form_data(
        page, auth_Number="W1", approved_From="2026-05-10", approved_Thru="2026-05-01", _save="Save"
    )
    response = client.post(admin_url(Auth, "add"), data)
    assert response.status_code == 200 and "approved_Thru" in response.context["adminform"].form.errors
    assert client.post(admin_url(Auth, "add"), {**data, CONFIRM_FIELD: "on"}).status_code == 302
    assert fetch(Auth, "W1").approved_Thru == dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


def test_labels_head_the_list_columns_and_filters_and_only_urgent_auths_stand_out(client, superuser):
    make_record(Auth, "demo", auth_Number="U1", urgent=True)
    make_record(Auth, "demo", auth_Number="U2", urgent=False)
    response = client.get(admin_url(Auth))
    html = response.content.decode()
    assert html.count(">URGENT</span>") == 1
    assert "icon-no.svg" not in html  # no red ✗ for every auth that is not urgent
    titles = {spec.title for spec in response.context["cl"].filter_specs}
    assert {"status", "auth type", "treatment type", "urgent"} <= titles
    assert ">Approved from</a>" in html and "approved From" not in html


def test_a_care_case_shows_its_trials_as_compact_rows(client, superuser):
    case = make_record(CareCase, "demo")
    make_record(CareCaseClinicalTrial, "demo", case_Key=case, study_Title="Pump study")
    html = client.get(admin_url(CareCase, "change", case.pk)).content.decode()
    assert 'class="js-inline-admin-formset inline-group"' in html and "tabular" in html
    assert 'value="Pump study"' in html


def test_a_forbidden_page_is_a_page(client):
    clerk = StaffFactory(username="viewer", databases=["demo"])
    clerk.user_permissions.set(Permission.objects.filter(codename="view_grievance"))
    client.force_login(clerk)
    grievance = make_record(Grievance, "demo")
    response = client.post(admin_url(Grievance, "delete", grievance.pk), {"post": "yes"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "You may not open this page" in html and 'id="header"' in html
