"""The history of every write: each path records who, when, how and what, in its own database.

The triggers write it (vbaproject/history/); these tests write through every path a record
can change by and read the trail back through the history route and the history tables.
"""

from dataclasses import dataclass

import pytest
from django.core.management import call_command

from auths.models import Auth
from grievances.models import Grievance
from grievances.services import grievances_mark_resolved
from tests.support.answers import data_of
from vbaproject.db.routing import using_client_database
from vbaproject.engine.delete import delete_records
from vbaproject.engine.records import save_record
from vbaproject.history.context import writing_as
from vbaproject.history.models import Change
from vbaproject.history.selectors import record_history, with_changes
from vbaproject.spec.sample_data import sample_item

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])


@dataclass
class Entry:
    action: str
    changes: dict  # field -> [old, new], as the API writes values
    database: str
    username: str | None
    api_key: str | None
    activity_id: str | None
    via: str | None


def trail(model, key, database="demo"):
    """The changes of one record, oldest first, from its history table."""
    with using_client_database(database):
        entries = with_changes(model, record_history(model, key))
    return [
        Entry(
            e.history_action,
            {name: [old, new] for name, old, new in fields},
            e.history_database,
            e.history_user,
            e.history_api_key,
            e.history_activity_id,
            e.history_via,
        )
        for e, fields in reversed(entries)
    ]


def history_of(api, path, status=200, **params):
    response = api.get(path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""))
    assert response.status_code == status, response.content
    return response


def test_batch_creates_and_updates_record_who_what_and_how(api):
    first = api.put(
        "/vbasoftware/grievances-batch", [sample_item(Grievance, grievance_Key=5, subscriber_ID="S1")]
    )
    second = api.put(
        "/vbasoftware/grievances-batch",
        [sample_item(Grievance, grievance_Key=5, subscriber_ID="S2", issue=None, grievance_Status="OPEN")],
    )
    created, updated = trail(Grievance, 5)
    assert (created.action, updated.action) == ("create", "update")
    assert created.changes["subscriber_ID"] == [None, "S1"]
    assert updated.changes["subscriber_ID"] == ["S1", "S2"]
    assert "grievance_Key" not in created.changes and "update_Date" not in updated.changes
    for change, response in ((created, first), (updated, second)):
        assert change.database == "demo" and change.via == "api"
        assert change.username == api.username and change.api_key == api.api_key.name
        assert change.activity_id == response["x-activity-id"]


def test_the_history_route_pages_newest_first_with_values_as_the_api_writes_them(api):
    api.post(
        "/vbasoftware/grievances", {"grievance_Key": 9, "grievance_Received": "2024-05-31T13:45:00+02:00"}
    )
    api.put("/vbasoftware/grievances/9", {"grievance_Received": "2024-06-01T00:00:00Z", "subscriber_ID": "X"})
    api.put("/vbasoftware/grievances/9", {"grievance_Received": "2024-06-01T00:00:00Z", "subscriber_ID": "Y"})
    response = history_of(api, "/vbasoftware/grievances/9/history", pageSize=2)
    body = response.json()
    assert [c["action"] for c in body["data"]] == ["update", "update"]
    assert body["data"][0]["changes"] == [{"field": "subscriber_ID", "old": "X", "new": "Y"}]
    assert {"field": "grievance_Received", "old": "2024-05-31T11:45:00Z", "new": "2024-06-01T00:00:00Z"} in (
        body["data"][1]["changes"]
    )
    assert body["data"][0]["key"] == 9 and body["data"][0]["via"] == "api"
    assert body["data"][0]["api_Key_Name"] == api.api_key.name
    pagination = response["x-pagination"]
    assert '"TotalCount":3' in pagination and '"TotalPages":2' in pagination
    (oldest,) = history_of(api, "/vbasoftware/grievances/9/history", pageSize=2, page=2).json()["data"]
    assert oldest["action"] == "create"


def test_deletes_are_recorded_and_a_deleted_records_history_stays_readable(api):
    api.post("/vbasoftware/grievances", {"grievance_Key": 11, "subscriber_ID": "GONE"})
    api.post("/vbasoftware/grievances", {"grievance_Key": 12})
    assert api.delete("/vbasoftware/grievances/11").status_code == 200
    assert api.delete("/vbasoftware/grievances-batch", [{"grievance_Key": 12}]).status_code == 207
    data = history_of(api, "/vbasoftware/grievances/11/history").json()["data"]
    assert [c["action"] for c in data] == ["delete", "create"]
    assert {"field": "subscriber_ID", "old": "GONE", "new": None} in data[0]["changes"]
    assert [c.action for c in trail(Grievance, 12)] == ["create", "delete"]
    history_of(api, "/vbasoftware/grievances/404/history", status=404)


def test_rejected_items_leave_no_trace(api):
    results = api.put(
        "/vbasoftware/grievances-batch",
        [{"grievance_Key": 20, "subscriber_ID": "0123456789"}, {"grievance_Key": 21}],
    ).json()["data"]
    assert [r["status"] for r in results] == [400, 201]
    assert trail(Grievance, 20) == [] and len(trail(Grievance, 21)) == 1


def test_string_keys_and_duplicates_within_a_batch_are_recorded_in_order(api):
    items = [sample_item(Auth, auth_Number="A-1", status=s) for s in ("OPEN", "PENDED", "APPROVED")]
    assert [r["status"] for r in api.put("/vbasoftware/auths", items).json()["data"]] == [201, 200, 200]
    changes = trail(Auth, "A-1")
    assert [c.action for c in changes] == ["create", "update", "update"]
    assert [c.changes["status"] for c in changes] == [
        [None, "OPEN"],
        ["OPEN", "PENDED"],
        ["PENDED", "APPROVED"],
    ]
    assert history_of(api, "/vbasoftware/auths/A-1/history").json()["data"][0]["key"] == "A-1"


def test_each_client_databases_history_stays_in_it(api):
    api.put("/vbasoftware/grievances-batch", [{"grievance_Key": 1, "subscriber_ID": "DEMO"}])
    api.database = "other"
    api.put("/vbasoftware/grievances-batch", [{"grievance_Key": 1, "subscriber_ID": "OTHER"}])
    (in_other,) = history_of(api, "/vbasoftware/grievances/1/history").json()["data"]
    assert in_other["database"] == "other" and in_other["changes"][-1]["new"] == "OTHER"
    ((demo,), (other,)) = trail(Grievance, 1), trail(Grievance, 1, "other")
    assert (demo.database, demo.changes["subscriber_ID"][1]) == ("demo", "DEMO")
    assert (other.database, other.changes["subscriber_ID"][1]) == ("other", "OTHER")


def test_engine_services_and_commands_record_their_context(db, settings):
    with using_client_database("demo"), writing_as("clerk", "admin"):
        grievance = Grievance(subscriber_ID="ADMIN1")
        save_record(grievance, "clerk", adding=True)
        grievance.subscriber_ID = "ADMIN2"
        save_record(grievance, "clerk", adding=False)
        grievances_mark_resolved(Grievance.objects.filter(pk=grievance.pk), "clerk")
        delete_records(Grievance.objects.filter(pk=grievance.pk))
    changes = trail(Grievance, grievance.pk)
    assert [c.action for c in changes] == ["create", "update", "update", "delete"]
    assert {(c.username, c.via, c.database) for c in changes} == {("clerk", "admin", "demo")}
    assert changes[1].changes == {"subscriber_ID": ["ADMIN1", "ADMIN2"]}
    assert set(changes[2].changes) == {"grievance_Resolved", "resolution_Date"}

    call_command("seed_demo", rows=2)
    with using_client_database("demo"):
        seeded = Change.objects.filter(entity="Auth", action="create")
        assert seeded.count() == 2 and {c.via for c in seeded} == {"command"}


def test_a_clinical_trials_history_names_its_case_by_key(api):
    case = data_of(
        api.post("/vbasoftware/care-plans/7/cases", {"case_Key": 0, "do_Not_Contact": False}), 201
    )["case_Key"]
    trial = data_of(api.post("/vbasoftware/care-case-clinical-trials", {"case_Key": case}), 201)
    key = trial["careCaseClinicalTrial_Key"]
    (created,) = history_of(api, f"/vbasoftware/care-case-clinical-trials/{key}/history").json()["data"]
    assert {"field": "case_Key", "old": None, "new": case} in created["changes"]
