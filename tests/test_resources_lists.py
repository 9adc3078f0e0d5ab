"""Lists over real HTTP: paging, the x-pagination header, sorting, filters, and bad parameters."""

import datetime as dt
import json
import math
from urllib.parse import urlencode

import pytest

from carecases.models import CareCase, CareCaseClinicalTrial
from grievances.models import Grievance
from tests.support.answers import data_of, problem_of
from tests.support.entities import EACH_MODEL, collection_url, item_for, record_url
from vbaproject.api.lists import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from vbaproject.spec.entities import entity_spec

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

GRIEVANCES = collection_url(Grievance)


def listing(api, path, **params):
    response = api.get(f"{path}?{urlencode(params)}" if params else path)
    rows = data_of(response, 200)
    return rows, json.loads(response["x-pagination"])


def put_grievances(api, items):
    results = data_of(api.put("/vbasoftware/grievances-batch", items), 207)
    assert {r["status"] for r in results} <= {200, 201}, results
    return [r["id"][0]["value"] for r in results]


@EACH_MODEL
def test_every_entity_lists_what_it_reads(api, model):
    created = [data_of(api.post(collection_url(model), item_for(model)), 201) for _ in range(3)]
    rows, pagination = listing(api, collection_url(model))
    key_name = entity_spec(model).key.name
    assert sorted(rows, key=lambda r: r[key_name]) == sorted(created, key=lambda r: r[key_name])
    for row in rows:
        assert data_of(api.get(record_url(model, row[key_name])), 200) == row
    assert pagination == {
        "TotalCount": 3,
        "TotalPages": 1,
        "CurrentPage": 1,
        "PageSize": PAGE_SIZE_DEFAULT,
        "TotalCountExact": True,
        "NextCursor": None,
    }


def test_pages(api):
    keys = put_grievances(api, [item_for(Grievance) for _ in range(25)])
    pages = [listing(api, GRIEVANCES, page=p, pageSize=10) for p in (1, 2, 3)]
    assert [len(rows) for rows, _ in pages] == [10, 10, 5]
    assert [r["grievance_Key"] for rows, _ in pages for r in rows] == sorted(keys)
    assert [{k: v for k, v in p.items() if k != "NextCursor"} for _, p in pages] == [
        {"TotalCount": 25, "TotalPages": 3, "CurrentPage": n, "PageSize": 10, "TotalCountExact": True}
        for n in (1, 2, 3)
    ]
    assert [bool(p["NextCursor"]) for _, p in pages] == [True, True, False]
    past, pagination = listing(api, GRIEVANCES, page=4, pageSize=10)
    assert past == [] and pagination["CurrentPage"] == 4
    huge, pagination = listing(api, GRIEVANCES, page=2**31 - 1, pageSize=PAGE_SIZE_MAX)
    assert huge == [] and pagination["TotalCount"] == 25
    everything, pagination = listing(api, GRIEVANCES, pageSize=PAGE_SIZE_MAX)
    assert len(everything) == 25 and pagination["PageSize"] == PAGE_SIZE_MAX


def test_an_empty_list(api):
    rows, pagination = listing(api, GRIEVANCES)
    assert rows == []
    assert pagination == {
        "TotalCount": 0,
        "TotalPages": 0,
        "CurrentPage": 1,
        "PageSize": PAGE_SIZE_DEFAULT,
        "TotalCountExact": True,
        "NextCursor": None,
    }


def test_the_default_page_size_and_its_limit(api):
    put_grievances(api, [item_for(Grievance, fill=0.0) for _ in range(PAGE_SIZE_MAX + 1)])
    rows, pagination = listing(api, GRIEVANCES)
    assert len(rows) == PAGE_SIZE_DEFAULT
    assert pagination["TotalPages"] == math.ceil((PAGE_SIZE_MAX + 1) / PAGE_SIZE_DEFAULT)
    rows, pagination = listing(api, GRIEVANCES, pageSize=PAGE_SIZE_MAX, page=2)
    assert len(rows) == 1 and pagination["TotalPages"] == 2


def expected_order(keys, *order):
    """``keys`` sorted as sortBy promises: nulls first ascending, last descending, then by key in
    the direction of the last field."""
    out = sorted(keys, reverse=bool(order) and order[-1][1])
    for values, descending in reversed(order):
        out = sorted(out, key=lambda k: (values[k] is not None, values[k] or ""), reverse=descending)
    return out


def test_sorting(api):
    statuses = ["B", "A", None, "B", "A", None]
    calls = [1, 1, 2, 2, None, 3]
    items = [
        item_for(Grievance, grievance_Status=s, call_Key=c) for s, c in zip(statuses, calls, strict=True)
    ]
    keys = put_grievances(api, items)
    status = dict(zip(keys, statuses, strict=True))
    call = dict(zip(keys, calls, strict=True))

    def order(sort_by):
        rows, _ = listing(api, GRIEVANCES, sortBy=sort_by)
        return [r["grievance_Key"] for r in rows]

    assert order("grievance_Status") == expected_order(keys, (status, False))
    assert order("grievance_Status:asc") == order("GRIEVANCE_STATUS:ASC") == order("grievance_Status")
    assert order("grievance_Status:desc") == expected_order(keys, (status, True))
    assert order("grievance_Status:desc,call_Key:desc") == expected_order(keys, (status, True), (call, True))
    assert order("call_Key,grievance_Status:desc") == expected_order(keys, (call, False), (status, True))
    assert order("grievance_Key:desc") == sorted(keys, reverse=True)
    assert order(" call_Key : desc , ") == expected_order(keys, (call, True))
    assert order("") == sorted(keys)


def test_filters_on_codes_keys_and_date_ranges(api):
    day = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    items = [
        item_for(
            Grievance,
            grievance_Status=status,
            grievance_Type=kind,
            call_Key=call,
            subscriber_ID=f"S{n}",
            grievance_Received=(day + dt.timedelta(days=n)).isoformat(),
        )
        for n, (status, kind, call) in enumerate(
            [("OPEN", "QUALITY", 1), ("OPEN", "ACCESS", 2), ("CLOSED", "QUALITY", 1), ("CLOSED", "ACCESS", 3)]
        )
    ]
    keys = put_grievances(api, items)

    def found(**params):
        rows, pagination = listing(api, GRIEVANCES, **params)
        assert pagination["TotalCount"] == len(rows)
        return sorted(r["grievance_Key"] for r in rows)

    assert found(grievance_Status="OPEN") == keys[:2]
    assert found(grievance_Status="OPEN", grievance_Type="QUALITY") == keys[:1]
    assert found(GRIEVANCE_STATUS="CLOSED") == keys[2:]
    assert found(grievance_Status="open") == []  # exact, as stored
    assert found(call_Key=1) == [keys[0], keys[2]]
    assert found(grievance_Key=keys[3]) == [keys[3]]
    assert found(subscriber_ID="S2") == [keys[2]]
    assert (
        found(grievance_Received_from="2024-03-02", grievance_Received_to="2024-03-03T00:00:00Z") == keys[1:3]
    )
    assert found(grievance_Received_from="2024-03-03T02:00:00+02:00") == keys[2:]
    assert found(grievance_Received_to="2024-03-01") == keys[:1]
    assert found(grievance_Status="") == keys  # an empty value filters nothing
    assert found(update_Date_from="2000-01-01") == keys


def test_care_cases_filter_within_their_plan_and_trials_by_case(api):
    case = data_of(api.post(collection_url(CareCase), item_for(CareCase, case_Status="OPEN")), 201)
    other = data_of(api.post(collection_url(CareCase), item_for(CareCase, case_Status="CLOSED")), 201)
    rows, _ = listing(api, collection_url(CareCase), case_Status="OPEN")
    assert [r["case_Key"] for r in rows] == [case["case_Key"]]
    trials = [
        data_of(
            api.post(collection_url(CareCaseClinicalTrial), item_for(CareCaseClinicalTrial, case_Key=k)), 201
        )
        for k in (case["case_Key"], other["case_Key"], None)
    ]
    rows, _ = listing(api, collection_url(CareCaseClinicalTrial), case_Key=other["case_Key"])
    assert rows == [trials[1]]
    problem_of(api.get(f"{collection_url(CareCase)}?carePlan_Key=1"), 400)  # the path binds it


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=2147483648", "page"),
        ("page=99999999999999999999999999", "page"),
        ("pageSize=0", "pageSize"),
        ("pageSize=1001", "pageSize"),
        ("pageSize=ten", "pageSize"),
        ("sortBy=nope", "sortBy"),
        ("sortBy=grievance_Key:up", "sortBy"),
        ("sortBy=call_Key,CALL_KEY:desc", "sortBy"),
        ("grievance_Key=abc", "grievance_Key"),
        ("call_Key=1.5", "call_Key"),
        ("call_Key=1.0", "call_Key"),
        ("call_Key=2147483648", "call_Key"),
        ("grievance_Received_from=yesterday", "grievance_Received_from"),
        ("grievance_Received_to=2024-02-30", "grievance_Received_to"),
        ("provider_ID=A%00B", "provider_ID"),
        ("issue=x", "issue"),
        ("grievance_Status=A&grievance_status=B", "grievance_Status"),
        ("page=1&page=2", "page"),
    ],
)
def test_bad_parameters_are_a_400_that_names_them(api, query, names):
    put_grievances(api, [item_for(Grievance)])
    assert names in problem_of(api.get(f"{GRIEVANCES}?{query}"), 400)["detail"]
