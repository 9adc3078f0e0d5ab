"""The single-record routes of the five entities over real HTTP: create, read, update, delete."""

import datetime as dt
import re

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from grievances.models import Grievance
from tests.support.answers import data_of, problem_of
from tests.support.entities import EACH_MODEL, PLAN, batch_url, collection_url, item_for, record_url
from vbaproject.db.routing import using_client_database
from vbaproject.spec.entities import entity_spec
from vbaproject.spec.sample_data import sample_item

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def stored(model, key, database="demo"):
    with using_client_database(database):
        return model.objects.filter(pk=key).first()


def assert_matches_item(model, record, item):
    """The record answered holds exactly what the item said, in the API's names and types."""
    spec = entity_spec(model)
    assert list(record) == [f.name for f in spec.fields]
    for field in spec.client_fields:
        if field.is_key:
            continue
        sent = item.get(field.name)
        if field.kind == "datetime" and sent is not None:
            assert dt.datetime.fromisoformat(record[field.name]) == dt.datetime.fromisoformat(sent)
        else:
            assert record[field.name] == sent, field.name


@EACH_MODEL
def test_create_read_update_delete(api, model):
    spec = entity_spec(model)
    key_name = spec.key.name
    item = item_for(model, fill=1.0)
    created = data_of(api.post(collection_url(model), item), 201)
    key = created[key_name]
    assert key not in (None, 0, "")
    assert_matches_item(model, created, item)
    for field in spec.fields:
        if field.kind == "datetime" and created[field.name] is not None:
            assert ISO_UTC.match(created[field.name]), (field.name, created[field.name])
    assert created["entry_User"] and created["entry_User"] == created["update_User"]
    assert stored(model, key) is not None

    assert data_of(api.get(record_url(model, key)), 200) == created

    minimal = item_for(model, fill=0.0)
    updated = data_of(api.put(record_url(model, key), minimal), 200)
    assert updated[key_name] == key
    assert_matches_item(model, updated, minimal)
    assert (updated["entry_Date"], updated["entry_User"]) == (created["entry_Date"], created["entry_User"])
    assert updated["update_Date"] >= created["update_Date"]
    assert data_of(api.get(record_url(model, key)), 200) == updated

    assert data_of(api.delete(record_url(model, key)), 200) is None
    assert stored(model, key) is None
    problem_of(api.get(record_url(model, key)), 404)
    problem_of(api.delete(record_url(model, key)), 404)
    problem_of(api.put(record_url(model, key), minimal), 404)


@EACH_MODEL
def test_create_with_a_key_of_ones_own_and_then_a_conflict(api, model):
    key_name = entity_spec(model).key.name
    key = "MY-AUTH-1" if model is Auth else 4242
    created = data_of(api.post(collection_url(model), item_for(model, **{key_name: key})), 201)
    assert created[key_name] == key
    detail = problem_of(api.post(collection_url(model), item_for(model, **{key_name: key})), 409)["detail"]
    assert str(key) in detail
    assert_matches_item(model, data_of(api.get(record_url(model, key)), 200), {**created})


@EACH_MODEL
def test_invalid_bodies_answer_400_with_the_batch_items_message(api, model):
    spec = entity_spec(model)
    text = next(f for f in spec.client_fields if f.kind == "string" and not f.is_key)
    bad = item_for(model, **{text.name: 12, "no_Such_Field": 1})
    (batch_result,) = data_of(api.put(batch_url(model), [bad]), 207)
    assert batch_result["status"] == 400
    assert problem_of(api.post(collection_url(model), bad), 400)["detail"] == batch_result["body"]
    created = data_of(api.post(collection_url(model), item_for(model)), 201)
    key = created[entity_spec(model).key.name]
    assert problem_of(api.put(record_url(model, key), bad), 400)["detail"] == batch_result["body"]
    for body in ([item_for(model)], "text", 5, None):
        problem_of(api.post(collection_url(model), body if body is not None else b"null"), 400)
        problem_of(api.put(record_url(model, key), body if body is not None else b"null"), 400)
    assert data_of(api.get(record_url(model, key)), 200) == created


@EACH_MODEL
def test_the_body_key_must_be_the_paths(api, model):
    key_name = entity_spec(model).key.name
    created = data_of(api.post(collection_url(model), item_for(model)), 201)
    key = created[key_name]
    other = "OTHER-1" if model is Auth else key + 1
    detail = problem_of(api.put(record_url(model, key), item_for(model, **{key_name: other})), 400)["detail"]
    assert key_name in detail and "cannot be changed" in detail
    empty = "" if model is Auth else 0
    for same in (key, empty):
        updated = data_of(api.put(record_url(model, key), item_for(model, **{key_name: same})), 200)
        assert updated[key_name] == key
    # Field names ignore case, the key's too.
    upper = {key_name.upper(): key, **{k: v for k, v in item_for(model).items() if k != key_name}}
    assert data_of(api.put(record_url(model, key), upper), 200)[key_name] == key
    assert stored(model, other) is None


@pytest.mark.parametrize("key", ["0", "2147483648", "99999999999999999999999", "-1", "abc"])
def test_keys_no_record_can_have_are_404(api, key):
    problem_of(api.get(f"/vbasoftware/grievances/{key}"), 404)
    problem_of(api.put(f"/vbasoftware/grievances/{key}", item_for(Grievance)), 404)
    problem_of(api.delete(f"/vbasoftware/grievances/{key}"), 404)


@pytest.mark.parametrize("number", ["X" * 21, "A%00B", "%20"])
def test_auth_numbers_no_record_can_have_are_404(api, number):
    problem_of(api.get(f"/vbasoftware/auths/{number}"), 404)


def test_auths_get_an_assigned_number_and_keep_their_batch_route(api):
    first = data_of(api.post("/vbasoftware/auths", item_for(Auth)), 201)
    second = data_of(api.post("/vbasoftware/auths", item_for(Auth, auth_Number="")), 201)
    assert isinstance(first["auth_Number"], str) and first["auth_Number"] != second["auth_Number"]
    (result,) = data_of(
        api.put("/vbasoftware/auths", [item_for(Auth, auth_Number=first["auth_Number"])]), 207
    )
    assert (result["status"], result["body"]) == (200, "Updated")
    listed = data_of(api.get("/vbasoftware/auths"), 200)
    assert {a["auth_Number"] for a in listed} == {first["auth_Number"], second["auth_Number"]}


@pytest.mark.parametrize("model", [Grievance, Auth], ids=["Grievance", "Auth"])
def test_databases_are_separate(api, model):
    created = data_of(api.post(collection_url(model), item_for(model)), 201)
    key = created[entity_spec(model).key.name]
    api.database = "other"
    problem_of(api.get(record_url(model, key)), 404)
    problem_of(api.delete(record_url(model, key)), 404)
    api.database = "demo"
    assert data_of(api.get(record_url(model, key)), 200) == created


def test_the_database_header_is_required_and_checked(api):
    problem_of(api.get("/vbasoftware/grievances/1", database=None), 400)
    problem_of(api.get("/vbasoftware/grievances", database=None), 400)
    problem_of(api.post("/vbasoftware/grievances", item_for(Grievance), database=None), 400)
    problem_of(api.get("/vbasoftware/grievances/1", database="nope"), 403)
    problem_of(api.delete("/vbasoftware/grievances-batch", [{"grievance_Key": 1}], database="nope"), 403)


def test_a_non_json_content_type_is_415(api):
    problem_of(
        api.post("/vbasoftware/grievances", "a=b", content_type="application/x-www-form-urlencoded"), 415
    )


@pytest.mark.usefixtures("keep_key_sequences")
def test_a_client_key_at_the_top_of_the_range_leaves_key_assignment_working(api):
    top = 2**31 - 1
    (result,) = data_of(api.put(batch_url(Grievance), [item_for(Grievance, grievance_Key=top)]), 207)
    assert result["status"] == 201
    assigned = data_of(api.post(collection_url(Grievance), item_for(Grievance)), 201)["grievance_Key"]
    assert 0 < assigned < top


# Care cases under their care plan ---------------------------------------------------------------


def test_care_cases_live_under_their_care_plan(api):
    other_plan = f"/vbasoftware/care-plans/{PLAN + 1}/cases"
    # The plan in the path wins over the body's.
    created = data_of(api.post(collection_url(CareCase), item_for(CareCase, carePlan_Key=99)), 201)
    assert created["carePlan_Key"] == PLAN
    key = created["case_Key"]
    elsewhere = data_of(api.post(other_plan, sample_item(CareCase)), 201)
    assert elsewhere["carePlan_Key"] == PLAN + 1

    assert [c["case_Key"] for c in data_of(api.get(collection_url(CareCase)), 200)] == [key]
    problem_of(api.get(f"{other_plan}/{key}"), 404)
    problem_of(api.put(f"{other_plan}/{key}", sample_item(CareCase)), 404)
    problem_of(api.delete(f"{other_plan}/{key}"), 404)
    assert stored(CareCase, key).carePlan_Key == PLAN

    updated = data_of(api.put(record_url(CareCase, key), sample_item(CareCase, carePlan_Key=PLAN + 5)), 200)
    assert updated["carePlan_Key"] == PLAN


def test_the_care_plan_batch_applies_the_paths_plan_to_every_item(api):
    items = [
        sample_item(CareCase),
        sample_item(CareCase, carePlan_Key=1),
        sample_item(CareCase, CAREPLAN_KEY=2),
        "not an object",
        sample_item(CareCase, subscriber_ID="1234567890"),
    ]
    results = data_of(api.put(f"/vbasoftware/care-plans/{PLAN}/cases-batch", items), 207)
    assert [r["status"] for r in results] == [201, 201, 201, 400, 400]
    assert results[3]["body"] == "the item must be a JSON object"
    assert "subscriber_ID: at most 9" in results[4]["body"]
    for created in results[:3]:
        assert stored(CareCase, created["id"][0]["value"]).carePlan_Key == PLAN


@pytest.mark.parametrize("plan", ["2147483648", "-1", "x"])
def test_care_plans_outside_the_integer_range(api, plan):
    response = api.get(f"/vbasoftware/care-plans/{plan}/cases")
    assert response.status_code in (400, 404)
    problem_of(response, response.status_code)


def test_a_care_case_with_clinical_trials_cannot_be_deleted(api):
    case = data_of(api.post(collection_url(CareCase), item_for(CareCase)), 201)
    trial = data_of(
        api.post(
            collection_url(CareCaseClinicalTrial), item_for(CareCaseClinicalTrial, case_Key=case["case_Key"])
        ),
        201,
    )
    detail = problem_of(api.delete(record_url(CareCase, case["case_Key"])), 409)["detail"]
    assert "clinical trial" in detail
    assert stored(CareCase, case["case_Key"]) is not None
    data_of(api.delete(record_url(CareCaseClinicalTrial, trial["careCaseClinicalTrial_Key"])), 200)
    assert data_of(api.delete(record_url(CareCase, case["case_Key"])), 200) is None


def test_a_clinical_trial_must_name_an_existing_care_case(api):
    error = problem_of(
        api.post(collection_url(CareCaseClinicalTrial), item_for(CareCaseClinicalTrial, case_Key=999)), 400
    )
    assert error["detail"] == "case_Key: there is no care case 999 in this database"


# DELETE /grievances-batch -----------------------------------------------------------------------


def test_the_grievance_batch_delete(api):
    keys = [
        data_of(api.post(collection_url(Grievance), item_for(Grievance)), 201)["grievance_Key"]
        for _ in range(3)
    ]
    items = [
        {"grievance_Key": keys[0]},
        item_for(Grievance, grievance_Key=keys[1]),
        {"grievance_Key": 987654},
        {"Grievance_key": keys[0]},
        {"grievance_Key": -3},
        {"grievance_Key": "1"},
        {"subscriber_ID": "S1"},
        "not an object",
        {"grievance_Key": 0},
    ]
    results = data_of(api.delete("/vbasoftware/grievances-batch", items), 207)
    assert [(r["status"], r["body"]) for r in results[:4]] == [
        (200, "Deleted"),
        (200, "Deleted"),
        (404, "Not found"),
        (404, "Not found"),
    ]
    assert [r["id"][0] for r in results[:4]] == [
        {"key": "grievance_Key", "value": v} for v in (keys[0], keys[1], 987654, keys[0])
    ]
    assert [r["status"] for r in results[4:]] == [400] * 5
    assert results[4]["body"] == "grievance_Key: must not be negative"  # the batch item's message
    assert results[5]["body"] == "grievance_Key: must be an integer"
    assert results[8]["body"] == "grievance_Key: must name a record (0 or empty asks for a new key)"
    assert results[6]["body"] == "grievance_Key: is required"
    assert results[7]["body"] == "the item must be a JSON object"
    with using_client_database("demo"):
        assert list(Grievance.objects.values_list("pk", flat=True)) == [keys[2]]
    assert data_of(api.delete("/vbasoftware/grievances-batch", []), 207) == []
    problem_of(api.delete("/vbasoftware/grievances-batch", {"grievance_Key": keys[2]}), 400)


def test_the_grievance_batch_delete_does_not_query_per_item(api):
    def statements(count, start):
        items = [item_for(Grievance, grievance_Key=start + i) for i in range(count)]
        data_of(api.put("/vbasoftware/grievances-batch", items), 207)
        doomed = [{"grievance_Key": start + i} for i in range(count)] + [{"grievance_Key": start + count + 5}]
        with CaptureQueriesContext(connections["demo"]) as queries:
            results = data_of(api.delete("/vbasoftware/grievances-batch", doomed), 207)
        assert [r["status"] for r in results] == [200] * count + [404]
        return len(queries)

    assert statements(3, 1000) == statements(400, 5000)


def test_the_grievance_batch_delete_is_limited_like_the_upsert(api, settings):
    settings.VBA_BATCH_MAX_ITEMS = 2
    problem_of(api.delete("/vbasoftware/grievances-batch", [{"grievance_Key": i} for i in (1, 2, 3)]), 413)
