"""The PUT batch routes' options, allOrNone and validateOnly (vbaproject.engine.options).

The property test (tests/test_batch_property.py) checks both against the one-at-a-time oracle
on generated batches; here: what a reader of the README expects, 400 for a bad value, the
OpenAPI document, and a connection lost in the middle of an allOrNone batch (PostgreSQL).
"""

import pytest
from django.db import connections

from grievances.models import Grievance
from tests.support.answers import data_of, problem_of
from vbaproject.db.routing import using_client_database
from vbaproject.engine import faults
from vbaproject.history.models import history_model

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])
ROUTE = "/vbasoftware/grievances-batch"


def rows():
    with using_client_database("demo"):
        return {g.pk: g.subscriber_ID for g in Grievance.objects.all()}


def history_count():
    with using_client_database("demo"):
        return history_model(Grievance).objects.count()


def statuses(results):
    return [r["status"] for r in results]


def test_all_or_none_writes_nothing_when_an_item_fails(api):
    items = [{"grievance_Key": 0, "subscriber_ID": "A"}, {"grievance_Key": 7, "subscriber_ID": "B"}]
    items.append({"grievance_Key": 8, "subscriber_ID": "TOO-LONG-ID"})
    results = data_of(api.put(f"{ROUTE}?allOrNone=true", items), 207)
    assert statuses(results) == [424, 424, 400]
    assert [r["id"][0]["value"] for r in results] == [0, 7, 8]  # as sent; 0 for a key to assign
    assert results[0]["body"] == "Not written: another item of this allOrNone batch failed"
    assert "subscriber_ID" in results[2]["body"]
    assert rows() == {} and history_count() == 0


def test_all_or_none_writes_everything_when_every_item_passes(api):
    items = [{"grievance_Key": 0, "subscriber_ID": "A"}, {"grievance_Key": 7, "subscriber_ID": "B"}]
    results = data_of(api.put(f"{ROUTE}?allornone=TRUE", items), 207)  # names and values ignore case
    assert statuses(results) == [201, 201]
    assigned = results[0]["id"][0]["value"]
    assert rows() == {assigned: "A", 7: "B"} and history_count() == 2


def test_validate_only_answers_as_the_real_call_and_writes_nothing(api):
    api.put(ROUTE, [{"grievance_Key": 7, "subscriber_ID": "OLD"}])
    before = (rows(), history_count())
    items = [
        {"grievance_Key": 0, "subscriber_ID": "A"},
        {"grievance_Key": 7, "subscriber_ID": "B"},
        {"grievance_Key": 9, "subscriber_ID": "TOO-LONG-ID"},
        {"grievance_Key": 9, "subscriber_ID": "C"},
        {"grievance_Key": 9, "subscriber_ID": "D"},
    ]
    checked = data_of(api.put(f"{ROUTE}?validateOnly=true", items), 207)
    assert (rows(), history_count()) == before
    real = data_of(api.put(ROUTE, items), 207)
    assert statuses(checked) == statuses(real) == [201, 200, 400, 201, 200]
    assert [r["body"] for r in checked] == [r["body"] for r in real]
    assert [r["id"] for r in checked[1:]] == [r["id"] for r in real[1:]]  # an assigned key is not kept


def test_both_options_together(api):
    items = [{"grievance_Key": 7}, {"grievance_Key": -1}]
    assert statuses(data_of(api.put(f"{ROUTE}?allOrNone=true&validateOnly=true", items), 207)) == [424, 400]
    assert statuses(data_of(api.put(f"{ROUTE}?allOrNone=true&validateOnly=true", items[:1]), 207)) == [201]
    assert rows() == {}


@pytest.mark.parametrize(
    "query", ["allOrNone=maybe", "validateOnly=1", "allOrNone=", "allOrNone=true&allOrNone=false"]
)
def test_a_bad_option_value_is_a_400_and_writes_nothing(api, query):
    error = problem_of(api.put(f"{ROUTE}?{query}", [{"grievance_Key": 7}]), 400)
    assert "must be true or false" in error["detail"]
    assert rows() == {}


def test_false_is_the_default(api):
    items = [{"grievance_Key": 7}, {"grievance_Key": -1}]
    results = data_of(api.put(f"{ROUTE}?allOrNone=false&validateOnly=false", items), 207)
    assert statuses(results) == [201, 400] and list(rows()) == [7]


def test_the_options_are_documented_as_extensions(client):
    document = client.get("/vbasoftware/openapi.json").json()
    parameters = document["components"]["parameters"]
    for name in ("allOrNone", "validateOnly"):
        (parameter,) = [p for p in parameters.values() if p["name"] == name]
        assert parameter["in"] == "query" and parameter["required"] is False
        assert parameter["x-vbaproject-extension"] is True
        assert parameter["schema"] == {"type": "boolean", "default": False}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            refs = {p.get("$ref", "").rsplit("/", 1)[-1] for p in operation.get("parameters", [])}
            batch = method == "put" and operation["operationId"].startswith("CreateOrUpdateBatch")
            assert ({"AllOrNone", "ValidateOnly"} <= refs) == batch, (path, method)


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "demo", "other"], transaction=True)
@pytest.mark.parametrize("query", ["allOrNone=true", "validateOnly=true"])
def test_a_connection_lost_after_a_chunk_is_a_whole_503_with_nothing_written(api, settings, query):
    """The engine's second chunk loses its backend after the first was "committed": inside the
    outer transaction nothing was, so the answer is a 503 for the whole request, not a 207."""
    settings.VBA_BATCH_CHUNK_ROWS = 2
    items = [{"grievance_Key": key, "subscriber_ID": "A"} for key in range(1, 6)]
    with faults.installed({("before_commit", 2): None}):
        response = api.put(f"{ROUTE}?{query}", items)
    error = problem_of(response, 503)
    assert "nothing was written" in error["detail"] and response["Retry-After"]
    connections["demo"].close()
    assert rows() == {} and history_count() == 0
