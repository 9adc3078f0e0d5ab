"""The grievance queue: the due-date rules (grievances/queue.py) and the admin built on them.

Unit tests of the rules need no database. The admin tests run through Django's test client on
both backends: the SQL due date agrees with the rules, the queue's order and filters, the home
page's counts, resolving through the confirmation page (the service, the status, the history),
search as people paste IDs, and record labels. On PostgreSQL the queue's default page and the
home page's counts are EXPLAINed over a few thousand ANALYZEd grievances: they read the open
ones through an index, never the whole table.
"""

import datetime as dt
import json
import zoneinfo

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from carecases.models import CareCase, CareCaseClinicalTrial
from grievances import queue
from grievances.models import Grievance
from grievances.services import grievances_resolve
from tests.support.factories import OLD, OLD_USER, StaffFactory, make_record
from vbaproject.admin.sites import site_name
from vbaproject.db.routing import using_client_database
from vbaproject.history.selectors import record_history

UTC = dt.UTC
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)

# --- the rules ---------------------------------------------------------------------------------


def test_the_medicare_limits_are_the_defaults_and_a_plan_overrides_them():
    assert queue.grievance_limits("") == {"STANDARD": 30, "EXPEDITED": 1}
    medicaid = queue.grievance_limits(json.dumps({"standard": 90, " expedited ": 3, "quality": 30}))
    assert medicaid == {"STANDARD": 90, "EXPEDITED": 3, "QUALITY": 30}
    assert queue.grievance_limits({"BILLING": 14}) == {"STANDARD": 30, "EXPEDITED": 1, "BILLING": 14}
    for bad in ('["EXPEDITED"]', '{"EXPEDITED": 0}', '{"EXPEDITED": "1"}', '{"X": true}', "{nope"):
        with pytest.raises(ValueError):
            queue.grievance_limits(bad)


def test_an_unknown_or_missing_type_gets_the_standard_limit():
    limits = queue.grievance_limits({"STANDARD": 90, "EXPEDITED": 3})
    assert queue.limit_days("expedited ", limits) == 3
    assert queue.limit_days("QUALITY", limits) == queue.limit_days(None, limits) == 90
    assert queue.limit_days("", queue.grievance_limits("")) == 30


def test_expedited_means_a_clock_of_at_most_three_days():
    limits = queue.grievance_limits({"URGENT": 2, "BILLING": 14})
    assert queue.expedited_types(limits) == ["EXPEDITED", "URGENT"]
    assert queue.is_expedited_type("urgent", limits) and not queue.is_expedited_type("BILLING", limits)
    assert not queue.is_expedited_type(None, limits)


def test_due_is_received_plus_the_limit_and_none_without_a_received_date():
    limits = queue.grievance_limits("")
    received = dt.datetime(2024, 5, 1, 22, 30, tzinfo=UTC)
    assert queue.due_at(received, "QUALITY", limits) == dt.datetime(2024, 5, 31, 22, 30, tzinfo=UTC)
    assert queue.due_at(received, "Expedited", limits) == received + dt.timedelta(hours=24)
    assert queue.due_at(None, "EXPEDITED", limits) is None


def test_open_means_no_resolved_date_and_a_status_that_is_not_done():
    assert queue.is_open(None, "PENDING") and queue.is_open(None, None) and queue.is_open(None, "")
    assert not queue.is_open(None, "resolved") and not queue.is_open(None, " CLOSED ")
    assert not queue.is_open(NOW, "PENDING")


def test_deadline_states_at_their_boundaries():
    limits = queue.grievance_limits("")
    received = NOW - 30 * DAY  # standard: due exactly now
    state = queue.deadline_state
    assert state(received, "QUALITY", NOW, 5, limits) == queue.DUE_SOON
    assert state(received, "QUALITY", NOW + dt.timedelta(seconds=1), 5, limits) == queue.OVERDUE
    assert state(received + 5 * DAY, "QUALITY", NOW, 5, limits) == queue.ON_TIME
    assert state(received + 5 * DAY - dt.timedelta(minutes=1), "QUALITY", NOW, 5, limits) == queue.DUE_SOON
    assert state(NOW - 25 * dt.timedelta(hours=1), "EXPEDITED", NOW, 5, limits) == queue.OVERDUE
    assert state(None, "EXPEDITED", NOW, 5, limits) == queue.NO_DATE


def test_days_open_counts_days_in_the_users_time_zone():
    evening = dt.datetime(2024, 5, 1, 23, 30, tzinfo=NEW_YORK)  # 03:30 UTC on May 2
    now = dt.datetime(2024, 5, 3, 10, 0, tzinfo=NEW_YORK)
    assert queue.days_open(evening, now, NEW_YORK) == 2
    assert queue.days_open(evening, now, UTC) == 1
    assert queue.days_open(None, now, UTC) is None


# --- the admin ---------------------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db(databases=["default", "demo", "other"])


def admin_url(view="changelist", *args, model=Grievance, database="demo"):
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
    return reverse(name, args=args, current_app=site_name(database))


@pytest.fixture
def superuser(client):
    user = StaffFactory(username="boss", is_superuser=True)
    client.force_login(user)
    return user


def grievance(received, kind="QUALITY", status="OPEN", resolved=None, **values):
    values = {
        "grievance_Received": received,
        "grievance_Type": kind,
        "grievance_Status": status,
        "grievance_Resolved": resolved,
        "resolution_Date": resolved,
        "resolution_Type": None,
        "resolution": None,
        "call_Key": None,
        **values,
    }
    return make_record(Grievance, "demo", **values)


def keys(response):
    return [g.pk for g in response.context["cl"].result_list]


@pytestmark_db
def test_the_sql_due_date_agrees_with_the_rules(settings):
    settings.VBA_GRIEVANCE_LIMITS = json.dumps({"URGENT": 2, "BILLING": 14})
    made = [
        grievance(NOW - k * DAY, kind)
        for k, kind in enumerate(["QUALITY", "EXPEDITED", "expedited", "URGENT", "BILLING", None, ""])
    ]
    grievance(None, "EXPEDITED")
    with using_client_database("demo"):
        rows = queue.with_due(Grievance.objects.all())
        for row in rows:
            assert row.vba_due == queue.due_at(row.grievance_Received, row.grievance_Type), row.grievance_Type
        expedited = set(Grievance.objects.filter(queue.expedited_q()).values_list("pk", flat=True))
    assert expedited == {g.pk for g in made if queue.is_expedited_type(g.grievance_Type)} | {
        Grievance.objects.using("demo").get(grievance_Received__isnull=True).pk
    }


@pytestmark_db
def test_the_queue_lists_open_grievances_oldest_due_first_undated_last(client, superuser):
    now = timezone.now()
    standard_old = grievance(now - 20 * DAY)  # due in 10 days
    expedited_new = grievance(now - dt.timedelta(hours=2), "EXPEDITED")  # due in 22 hours
    standard_late = grievance(now - 40 * DAY, status="PENDING")  # 10 days overdue
    undated = grievance(None, "EXPEDITED")
    grievance(now - 50 * DAY, status="RESOLVED")  # marked done without a date: not open
    grievance(now - 60 * DAY, status="closed")
    grievance(now - 70 * DAY, status="OPEN", resolved=now - DAY)
    response = client.get(admin_url(), {"state": "open"})
    assert keys(response) == [standard_late.pk, expedited_new.pk, standard_old.pk, undated.pk]
    page = response.content.decode()
    assert "OVERDUE" in page and "DUE SOON" in page and "no received date" in page
    assert client.get(admin_url(), {"state": "resolved"}).context["cl"].result_count == 3
    # The home page's Grievances link opens the queue.
    home = client.get(reverse("admin:index", current_app=site_name("demo"))).content.decode()
    assert f'href="{admin_url()}?state=open"' in home


@pytestmark_db
def test_days_open_and_due_are_shown_in_the_users_time_zone(client, superuser, settings):
    settings.VBA_PLAN_TIME_ZONE = "America/New_York"
    now = timezone.now()
    # Half an hour before midnight in New York, ten days ago: the next UTC day already.
    evening = (now.astimezone(NEW_YORK) - 10 * DAY).replace(hour=23, minute=30, second=0, microsecond=0)
    one = grievance(evening.astimezone(UTC))
    page = client.get(admin_url(), {"state": "open"}).content.decode()
    due = queue.due_at(one.grievance_Received, "QUALITY").astimezone(NEW_YORK)
    assert f"{due:%Y-%m-%d %H:%M}" in page  # 23:30, or an hour off across a DST change
    assert f"{due.astimezone(UTC):%Y-%m-%d %H:%M}" not in page
    # Ten New York days, whatever the UTC days say (an evening receipt is that day, not the next).
    assert '<td class="field-days_open">10</td>' in page


@pytestmark_db
def test_deadline_and_clock_filters(client, superuser, settings):
    settings.VBA_GRIEVANCE_DUE_SOON_DAYS = 5
    now = timezone.now()
    late = grievance(now - 31 * DAY)
    soon = grievance(now - 27 * DAY)
    later = grievance(now - 10 * DAY)
    expedited_late = grievance(now - 2 * DAY, "EXPEDITED")
    expedited_soon = grievance(now - dt.timedelta(hours=3), "expedited")
    undated = grievance(None)
    grievance(now - 40 * DAY, status="CLOSED")
    listed = {
        value: set(keys(client.get(admin_url(), {"deadline": value})))
        for value in ("overdue", "soon", "undated")
    }
    assert listed == {
        "overdue": {late.pk, expedited_late.pk},
        "soon": {soon.pk, expedited_soon.pk},
        "undated": {undated.pk},
    }
    assert set(keys(client.get(admin_url(), {"clock": "expedited", "state": "open"}))) == {
        expedited_late.pk,
        expedited_soon.pk,
    }
    standard = set(keys(client.get(admin_url(), {"clock": "standard", "state": "open"})))
    assert standard == {late.pk, soon.pk, later.pk, undated.pk}
    # The queue's order within a filter too: the most overdue first.
    assert keys(client.get(admin_url(), {"deadline": "overdue"})) == [late.pk, expedited_late.pk]


@pytestmark_db
def test_the_home_page_counts_open_due_soon_and_overdue_per_database(client, superuser):
    now = timezone.now()
    grievance(now - 31 * DAY)
    grievance(now - 32 * DAY, status="REVIEW")
    grievance(now - 27 * DAY)
    grievance(now - DAY)
    grievance(None)
    grievance(now - 40 * DAY, status="RESOLVED")
    make_record(
        Grievance,
        "other",
        grievance_Received=now - 40 * DAY,
        grievance_Status="OPEN",
        grievance_Resolved=None,
        grievance_Type="QUALITY",
    )
    response = client.get(reverse("admin:index", current_app=site_name("demo")))
    counts = {label: count for label, count, _url, _kind in response.context["vba_counts"]}
    assert counts == {"Open grievances": 5, "Due within 5 days": 1, "Overdue": 2, "No received date": 1}
    page = response.content.decode()
    assert f'href="{admin_url()}?state=open&amp;deadline=overdue"' in page
    other = client.get(reverse("admin:index", current_app=site_name("other"))).context["vba_counts"]
    assert {label: count for label, count, _u, _k in other}["Overdue"] == 1


@pytestmark_db
def test_a_viewer_without_grievance_permission_sees_no_counts(client):
    from django.contrib.auth.models import Permission

    clerk = StaffFactory(username="nobody", databases=["demo"])
    clerk.user_permissions.set(Permission.objects.filter(codename="view_auth"))
    client.force_login(clerk)
    response = client.get(reverse("admin:index", current_app=site_name("demo")))
    assert response.status_code == 200 and not response.context["vba_counts"]


def latest(pk):
    with using_client_database("demo"):
        entry = record_history(Grievance, pk).first()
    return entry.history_action, entry.history_user, entry.history_via


@pytestmark_db
def test_mark_resolved_asks_for_the_resolution_on_a_confirmation_page(client, superuser):
    now = timezone.now()
    pending = grievance(now - 3 * DAY, status="PENDING", subscriber_ID="S615226", member_Seq="01")
    marked = grievance(now - 4 * DAY, status="RESOLVED")  # status set, dates missing
    done = grievance(now - 5 * DAY, status="CLOSED", resolved=OLD, resolution_Type="UPHELD")
    selection = {"action": "mark_resolved", "_selected_action": [str(g.pk) for g in (pending, marked, done)]}
    page = client.post(admin_url(), {**selection, "index": "0"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Resolve 2 grievances" in html and f"Grievance {pending.pk} · S615226-01" in html
    assert "1 of the selected is resolved already" in html
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=pending.pk).grievance_Status == "PENDING"  # nothing written yet
    # Without the text: the page again, with the error, nothing written.
    again = client.post(admin_url(), {**selection, "index": "0", "post": "yes", "resolution_Type": "upheld"})
    assert again.status_code == 200 and "Please give the resolution type and text" in again.content.decode()
    before = timezone.now()
    response = client.post(
        admin_url(),
        {
            **selection,
            "index": "0",
            "post": "yes",
            "resolution_Type": " upheld ",
            "resolution": "Apologised.",
        },
        follow=True,
    )
    assert "Resolved 2 grievances. 1 was resolved already." in response.content.decode()
    with using_client_database("demo"):
        pending, marked, done = (Grievance.objects.get(pk=g.pk) for g in (pending, marked, done))
    for g in (pending, marked):
        assert g.grievance_Status == "RESOLVED" and g.grievance_Resolved >= before
        assert g.resolution_Date == g.grievance_Resolved
        assert (g.resolution_Type, g.resolution, g.update_User) == ("UPHELD", "Apologised.", "boss")
        assert latest(g.pk) == ("update", "boss", "admin")
    assert (done.update_Date, done.update_User, done.resolution_Type) == (OLD, OLD_USER, "UPHELD")
    assert latest(done.pk)[0] == "create"
    # The one status model: both out of the queue, both under Resolved.
    assert not {pending.pk, marked.pk} & set(keys(client.get(admin_url(), {"state": "open"})))


@pytestmark_db
def test_select_across_the_queue_resolves_every_open_grievance(client, superuser):
    now = timezone.now()
    for k in range(3):
        grievance(now - k * DAY)
    grievance(now, status="OPEN", resolved=OLD)
    url = admin_url() + "?state=open"
    data = {"action": "mark_resolved", "select_across": "1", "_selected_action": ["1"], "index": "0"}
    assert "Resolve 3 grievances" in client.post(url, data).content.decode()
    response = client.post(
        url, {**data, "post": "yes", "resolution_Type": "X", "resolution": "y"}, follow=True
    )
    assert "Resolved 3 grievances." in response.content.decode()
    with using_client_database("demo"):
        assert not Grievance.objects.filter(queue.open_q()).exists()


@pytestmark_db
def test_resolving_from_the_change_form(client, superuser):
    one = grievance(timezone.now() - DAY, status="REVIEW")
    form = client.get(admin_url("change", one.pk)).content.decode()
    resolve_url = admin_url("resolve", one.pk)
    assert f'href="{resolve_url}"' in form
    page = client.get(resolve_url).content.decode()
    assert "Resolve 1 grievance" in page and 'name="resolution"' in page
    response = client.post(resolve_url, {"post": "yes", "resolution_Type": "OVERTURN", "resolution": "Paid."})
    assert response.status_code == 302 and response["Location"] == admin_url("change", one.pk)
    with using_client_database("demo"):
        one = Grievance.objects.get(pk=one.pk)
    assert (one.grievance_Status, one.resolution_Type, one.resolution) == ("RESOLVED", "OVERTURN", "Paid.")
    assert one.grievance_Resolved is not None and latest(one.pk) == ("update", "boss", "admin")
    # Resolved: no button any more.
    assert f'href="{resolve_url}"' not in client.get(admin_url("change", one.pk)).content.decode()


@pytestmark_db
def test_a_resolved_date_typed_into_the_form_resolves_the_status_too(client, superuser):
    from tests.test_admin import form_data

    one = grievance(timezone.now() - 3 * DAY, status="PENDING")
    page = client.get(admin_url("change", one.pk))
    resolved = timezone.now().replace(microsecond=0)
    data = form_data(
        page,
        grievance_Resolved_0=resolved.date().isoformat(),
        grievance_Resolved_1=resolved.strftime("%H:%M:%S"),
        _continue="1",
    )
    response = client.post(admin_url("change", one.pk), data, follow=True)
    assert "its status is now RESOLVED" in response.content.decode()
    with using_client_database("demo"):
        one = Grievance.objects.get(pk=one.pk)
    assert one.grievance_Status == "RESOLVED" and one.grievance_Resolved == resolved
    assert not queue.is_open(one.grievance_Resolved, one.grievance_Status)


@pytestmark_db
def test_a_form_save_that_fails_leaves_no_resolved_message(client, superuser, monkeypatch):
    from django.db import OperationalError

    from tests.test_admin import form_data
    from vbaproject.admin import base

    one = grievance(timezone.now() - 3 * DAY, status="PENDING")
    page = client.get(admin_url("change", one.pk))
    resolved = timezone.now().replace(microsecond=0)
    data = form_data(
        page,
        grievance_Resolved_0=resolved.date().isoformat(),
        grievance_Resolved_1=resolved.strftime("%H:%M:%S"),
        _continue="1",
    )

    def lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(base, "save_record", lost)
    client.raise_request_exception = False
    assert client.post(admin_url("change", one.pk), data).status_code == 500
    assert "its status is now RESOLVED" not in client.get(admin_url("change", one.pk)).content.decode()
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=one.pk).grievance_Status == "PENDING"


@pytestmark_db
def test_resolving_needs_the_change_permission(client):
    from django.contrib.auth.models import Permission

    viewer = StaffFactory(username="viewer", databases=["demo"])
    viewer.user_permissions.set(Permission.objects.filter(codename="view_grievance"))
    client.force_login(viewer)
    one = grievance(timezone.now())
    assert client.get(admin_url("resolve", one.pk)).status_code == 403
    client.post(admin_url(), {"action": "mark_resolved", "_selected_action": [str(one.pk)], "index": "0"})
    with using_client_database("demo"):
        assert Grievance.objects.get(pk=one.pk).grievance_Status == "OPEN"


@pytestmark_db
def test_the_service_refuses_a_resolution_without_type_or_text():
    one = grievance(NOW)
    with using_client_database("demo"):
        for kind, text in (("", "x"), ("X", " "), ("X" * 33, "x")):
            with pytest.raises(ValueError):
                grievances_resolve(Grievance.objects.filter(pk=one.pk), "clerk", kind, text)
        assert Grievance.objects.get(pk=one.pk).grievance_Resolved is None


# --- search as people paste ---------------------------------------------------------------------


def test_a_pasted_member_splits_into_subscriber_and_sequence():
    from vbaproject.admin.member_search import split_member

    assert split_member(" s615226-01 ") == ("S615226", "01")
    assert split_member("S615226-1") == ("S615226", "01")
    for other in ("S615226", "S615226-", "-01", "S615226-001", "S6152260001-01", "S 615226-01"):
        assert split_member(other) is None, other


@pytestmark_db
def test_search_finds_what_people_paste(client, superuser):
    from auths.models import Auth

    mine = grievance(NOW, subscriber_ID="S615226", member_Seq="01", provider_ID="P0042")
    sibling = grievance(NOW, subscriber_ID="S615226", member_Seq="02", provider_ID="P0043")
    lookalike = grievance(NOW, subscriber_ID="S6152261", member_Seq="01", provider_ID="P9999")

    def found(term, model=Grievance):
        response = client.get(admin_url(model=model), {"q": term})
        assert response.status_code == 200
        return set(keys(response))

    assert found("S615226-01") == found("s615226-01") == found("  S615226-1 ") == {mine.pk}
    assert found("S615226-02") == {sibling.pk}
    assert found("S615226") == {mine.pk, sibling.pk, lookalike.pk}  # a subscriber ID alone: prefix
    assert found("S615226-01 P0042") == {mine.pk} and not found("S615226-01 P0043")
    assert found("P0043") == {sibling.pk}  # a provider ID
    assert found(str(lookalike.pk)) == {lookalike.pk}  # the key
    auth = make_record(
        Auth, "demo", auth_Number="A2024-0001", subscriber_ID="S615226", member_Seq="01", case_Number="C77"
    )
    make_record(Auth, "demo", auth_Number="A2024-0002", subscriber_ID="S615226", member_Seq="03")
    assert found("S615226-01", Auth) == found("A2024-0001", Auth) == found("c77", Auth) == {auth.pk}
    # The case picker of a clinical trial searches care cases the same way.
    case = make_record(CareCase, "demo", subscriber_ID="S615226", member_Seq="01")
    make_record(CareCase, "demo", subscriber_ID="S615226", member_Seq="04")
    picker = client.get(
        reverse("admin:autocomplete", current_app=site_name("demo")),
        {
            "term": "S615226-01",
            "app_label": "carecases",
            "model_name": "carecaseclinicaltrial",
            "field_name": "case_Key",
        },
    )
    assert [r["id"] for r in picker.json()["results"]] == [str(case.pk)]
    assert picker.json()["results"][0]["text"].startswith(f"Care case {case.pk} · S615226-01")


# --- record labels -----------------------------------------------------------------------------


@pytestmark_db
def test_record_labels_say_who_everywhere_a_record_is_named(client, superuser):
    received = dt.datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
    one = grievance(received, subscriber_ID="S615226", member_Seq="01")
    label = f"Grievance {one.pk} · S615226-01 · received 2024-05-01"
    assert str(one) == label
    for view in ("change", "history", "delete"):
        page = client.get(admin_url(view, one.pk)).content.decode()
        assert label in page, view
    case = make_record(
        CareCase,
        "demo",
        subscriber_ID="S615226",
        member_Seq="02",
        case_Start_Date=dt.datetime(2024, 4, 2, tzinfo=UTC),
    )
    assert str(case) == f"Care case {case.pk} · S615226-02 · from 2024-04-02"
    trial = make_record(CareCaseClinicalTrial, "demo", case_Key=case)
    page = client.get(admin_url("change", trial.pk, model=CareCaseClinicalTrial)).content.decode()
    assert f"Care case {case.pk} · S615226-02" in page  # the case picker's label
    assert str(trial) == f"Clinical trial {trial.pk} · care case {case.pk}"


# --- the queue at scale (PostgreSQL) ------------------------------------------------------------


@pytest.mark.postgres
@pytestmark_db
def test_the_queues_page_and_counts_read_the_open_grievances_through_an_index(client, superuser):
    now = timezone.now()
    kinds = ["QUALITY", "ACCESS", "EXPEDITED", "BILLING"]
    rows = [
        Grievance(
            grievance_Received=now - dt.timedelta(hours=7 * n),
            grievance_Type=kinds[n % 4],
            grievance_Status="OPEN" if n % 50 == 0 else "CLOSED",
            grievance_Resolved=None if n % 50 == 0 else now - dt.timedelta(hours=n),
            subscriber_ID=f"S{n:06d}",
            member_Seq="01",
            entry_Date=OLD,
            update_Date=OLD,
        )
        for n in range(4000)
    ]
    with using_client_database("demo"):
        Grievance.objects.bulk_create(rows, batch_size=1000)
    with connections["demo"].cursor() as cursor:
        cursor.execute(f'ANALYZE "{Grievance._meta.db_table}"')
    with CaptureQueriesContext(connections["demo"]) as captured:
        response = client.get(admin_url(), {"state": "open"})
    assert response.status_code == 200 and response.context["cl"].result_count == 80
    table = Grievance._meta.db_table
    (page,) = [
        q["sql"]
        for q in captured.captured_queries
        if f'FROM "{table}"' in q["sql"] and "LIMIT 50" in q["sql"] and "ORDER BY" in q["sql"]
    ]
    with connections["demo"].cursor() as cursor:
        cursor.execute(f"EXPLAIN {page}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index" in plan and "Seq Scan" not in plan, plan
    due = [queue.due_at(g.grievance_Received, g.grievance_Type) for g in response.context["cl"].result_list]
    assert due == sorted(due)
    # A pasted member is found through an index too.
    with CaptureQueriesContext(connections["demo"]) as captured:
        response = client.get(admin_url(), {"q": "s001234-01"})
    assert [g.subscriber_ID for g in response.context["cl"].result_list] == ["S001234"]
    # (The filters' choices are vbaproject.admin.scale's, checked in tests/test_admin_at_scale.py.)
    searched = [q["sql"] for q in captured.captured_queries if "UPPER('s001234-01%')" in q["sql"]]
    assert searched
    for sql in searched:
        with connections["demo"].cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert f"Seq Scan on {table}" not in plan, f"{sql}\n{plan}"
    # The home page's counts read the same index.
    with CaptureQueriesContext(connections["demo"]) as captured:
        client.get(reverse("admin:index", current_app=site_name("demo")))
    (counts,) = [
        q["sql"] for q in captured.captured_queries if "COUNT" in q["sql"] and f'"{table}"' in q["sql"]
    ]
    with connections["demo"].cursor() as cursor:
        cursor.execute(f"EXPLAIN {counts}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index" in plan and "Seq Scan" not in plan, plan
