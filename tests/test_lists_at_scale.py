"""API lists on large tables: plans that read an index, bounded counts, keyset cursors, bounded offsets.

The timings are ``make bench-scale``'s (README, *At scale*); here are the shapes that make them:
on PostgreSQL, with 12,000 grievances loaded and ANALYZEd, each list query's plan reads an index
in the order asked (no Seq Scan of the table, no Sort over more than an index condition's rows),
a list request sends a fixed, small number of queries, ``TotalCount`` past the exact-count limit
is the planner's estimate flagged ``TotalCountExact: false``, and an offset past the bound is a
400. The cursor walk (every record present throughout answered exactly once, in order, while
records are added) runs on both backends.
"""

import datetime as dt
import json
from urllib.parse import urlencode

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from grievances.models import Grievance
from tests.support.answers import data_of, problem_of
from tests.support.entities import item_for
from vbaproject.api.lists import EXACT_COUNT_MAX, OFFSET_MAX

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

GRIEVANCES = "/vbasoftware/grievances"
TABLE = Grievance._meta.db_table
LOADED = 12_000  # past EXACT_COUNT_MAX, so the estimate is what answers
STATUSES = ["OPEN", "PENDING", "REVIEW", "RESOLVED", "CLOSED"]


def listing(api, **params):
    response = api.get(f"{GRIEVANCES}?{urlencode(params)}" if params else GRIEVANCES)
    return data_of(response, 200), json.loads(response["x-pagination"])


def load(count):
    """``count`` grievances straight into the table (a few statuses, received dates, 4% null), ANALYZEd."""
    with connections["demo"].cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {TABLE} ("entry_Date", "update_Date", "grievance_Status", "grievance_Received", '
            '"subscriber_ID", "member_Seq") '
            "SELECT now(), now(), (ARRAY['OPEN','PENDING','REVIEW','RESOLVED','CLOSED'])[1 + i %% 5], "
            "CASE WHEN i %% 25 = 0 THEN NULL "
            "ELSE timestamptz '2024-01-01 00:00:00+00' + (i * 7919 %% %s) * interval '1 minute' END, "
            "'S' || (100000 + i %% 3000), '01' FROM generate_series(1, %s) AS i",
            [count, count],
        )
        cursor.execute(f"ANALYZE {TABLE}")


def nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def plan_of(sql):
    with connections["demo"].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def shape(plan):
    return [(n["Node Type"], n.get("Index Name"), n.get("Plan Rows")) for n in nodes(plan)]


def assert_index_shaped(sql):
    """The page query reads the table through an index in the order asked."""
    plan = plan_of(sql)
    found = list(nodes(plan))
    sql = (sql[-200:], shape(plan))
    on_table = [n for n in found if n.get("Relation Name") == TABLE]
    assert on_table, sql
    assert all(n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan") for n in on_table), sql
    for node in found:
        if "Sort" in node["Node Type"]:  # only over the rows an index condition picked, never the table
            below = list(nodes(node))
            assert any("Index Cond" in n or "Recheck Cond" in n for n in below), sql


def page_queries(captured):
    return [q["sql"] for q in captured if TABLE in q["sql"] and "ORDER BY" in q["sql"]]


@pytest.mark.postgres
def test_list_plans_read_an_index_and_counts_are_bounded(api):
    load(LOADED)
    some = Grievance.objects.using("demo").filter(grievance_Received__isnull=False).order_by("pk")[500]
    demo = connections["demo"]
    cases = [
        ({}, 3),  # the estimate, a count up to the limit (past it), the page
        ({"grievance_Status": "OPEN"}, 3),  # 2,400 rows: counted exactly
        ({"subscriber_ID": some.subscriber_ID}, 3),
        ({"sortBy": "grievance_Received:desc"}, 3),
        ({"sortBy": "grievance_Received:asc"}, 3),
        ({"sortBy": "grievance_Received:desc", "grievance_Status": "OPEN"}, 3),
        ({"grievance_Status": "OPEN", "sortBy": "grievance_Status:desc"}, 3),
        ({"page": OFFSET_MAX // 100 + 1}, 3),  # the deepest page an offset reaches
    ]
    for params, queries in cases:
        with CaptureQueriesContext(demo) as captured:
            rows, pagination = listing(api, **params)
        assert rows, params
        on_table = [q for q in captured if TABLE in q["sql"]]
        assert len(on_table) == queries, (params, [q["sql"] for q in on_table])
        (page_sql,) = page_queries(captured)
        assert_index_shaped(page_sql)
        cursor = pagination["NextCursor"]
        if cursor is None:  # a short list: one page
            assert pagination["TotalCount"] == len(rows)
            continue
        with CaptureQueriesContext(demo) as captured:
            query = {k: v for k, v in params.items() if k != "page"}
            response = api.get(f"{GRIEVANCES}?{urlencode({**query, 'after': cursor})}")
            assert response.status_code == 200, (params, response.content)
        for sql in page_queries(captured):
            assert_index_shaped(sql)

    # The count: exact up to the limit, the planner's estimate past it (and says so).
    _, pagination = listing(api)
    assert pagination["TotalCountExact"] is False
    assert pagination["TotalCount"] > EXACT_COUNT_MAX and abs(pagination["TotalCount"] - LOADED) < LOADED / 10
    assert pagination["TotalPages"] == -(-pagination["TotalCount"] // 100)
    _, pagination = listing(api, grievance_Status="OPEN")
    assert pagination == {**pagination, "TotalCount": LOADED // 5, "TotalCountExact": True}

    # Offsets are bounded: past OFFSET_MAX records, the answer says to use the cursor.
    response = api.get(f"{GRIEVANCES}?page={OFFSET_MAX // 100 + 2}")
    assert "after=" in problem_of(response, 400)["detail"]
    # A short list keeps answering an empty page past its end, as it always has.
    rows, pagination = listing(api, grievance_Status="OPEN", page=10**6)
    assert rows == [] and pagination["TotalCount"] == LOADED // 5


@pytest.mark.postgres
def test_the_sort_indexes_sort_nulls_first():
    with connections["demo"].cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'grievance_received_sort'")
        (definition,) = cursor.fetchone()
    assert '("grievance_Received" NULLS FIRST, "grievance_Key")' in definition


# The cursor walk, on both backends -----------------------------------------------------------------


def put_grievances(api, items):
    results = data_of(api.put("/vbasoftware/grievances-batch", items), 207)
    assert {r["status"] for r in results} <= {200, 201}, results
    return [r["id"][0]["value"] for r in results]


def expected(rows, sort):
    """Keys of ``rows`` in the order sortBy promises: nulls smallest, the key last in the direction
    of the last field."""
    out = sorted(rows, key=lambda r: r["grievance_Key"], reverse=bool(sort) and sort[-1][1])
    for name, descending in reversed(sort):
        out = sorted(out, key=lambda r: (r[name] is not None, r[name] or ""), reverse=descending)
    return [r["grievance_Key"] for r in out]


def walk(api, params, during=None):
    """Every page of a list by cursor: (keys in the order answered, pages)."""
    rows, pagination = listing(api, **params)
    keys, pages = [r["grievance_Key"] for r in rows], 1
    while pagination["NextCursor"]:
        assert pagination["CurrentPage"] == pages
        if during and pages == 2:
            during()
        rows, pagination = listing(api, **params, after=pagination["NextCursor"])
        keys += [r["grievance_Key"] for r in rows]
        pages += 1
        assert pages < 100
    return keys, pages


def test_a_cursor_walk_answers_every_record_once_in_order_while_records_are_added(api):
    base = dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    items = [
        item_for(
            Grievance,
            fill=0.0,
            grievance_Status=[None, "OPEN", "CLOSED", "REVIEW"][n % 4],
            grievance_Type=["QUALITY", "ACCESS"][n % 2],
            # ties, nulls and microseconds: the cursor must keep all three apart
            grievance_Received=None if n % 6 == 0 else (base + dt.timedelta(microseconds=n % 9)).isoformat(),
        )
        for n in range(45)
    ]
    put_grievances(api, items)

    def current():
        rows, _ = listing(api, pageSize=1000)
        for row in rows:
            if row["grievance_Received"]:
                row["grievance_Received"] = dt.datetime.fromisoformat(row["grievance_Received"])
        return rows

    added = []

    def add():  # between pages: records that sort before the cursor, after it, and among nulls
        more = [item_for(Grievance, fill=0.0, grievance_Type="QUALITY", grievance_Status=s) for s in STATUSES]
        added.extend(put_grievances(api, more))

    sorts = [
        [],
        [("grievance_Key", True)],
        [("grievance_Received", False)],
        [("grievance_Received", True)],
        [("grievance_Status", True)],
        [("grievance_Status", False), ("grievance_Received", True)],
    ]
    for sort in sorts:
        sort_by = ",".join(f"{name}:{'desc' if desc else 'asc'}" for name, desc in sort)
        for filters in ({}, {"grievance_Type": "QUALITY"}):
            params = {"pageSize": 4, **filters, **({"sortBy": sort_by} if sort_by else {})}
            present = [r for r in current() if filters.get("grievance_Type") in (None, r["grievance_Type"])]
            added.clear()
            keys, pages = walk(api, params, during=add)
            assert pages > 3 and len(keys) == len(set(keys)), (params, keys)  # nothing twice
            new = set(added)
            assert [k for k in keys if k not in new] == expected(present, sort), params  # all, in order


def test_a_cursor_belongs_to_its_list(api):
    put_grievances(api, [item_for(Grievance, fill=0.0, grievance_Type="QUALITY") for _ in range(5)])
    _, pagination = listing(api, pageSize=2)
    cursor = pagination["NextCursor"]
    rows, pagination = listing(api, pageSize=2, after=cursor)
    assert len(rows) == 2 and pagination["CurrentPage"] == 2
    for params in (
        {"sortBy": "grievance_Key:desc"},  # another sort
        {"grievance_Type": "QUALITY"},  # other filters
        {"page": 2},  # both ways at once
    ):
        response = api.get(f"{GRIEVANCES}?{urlencode({'pageSize': 2, 'after': cursor, **params})}")
        assert problem_of(response, 400)["detail"].startswith("after")
    for garbage in ("x", "!!!", cursor[:-3], "eyJzIjoxfQ"):
        assert problem_of(api.get(f"{GRIEVANCES}?after={garbage}"), 400)["detail"].startswith("after")
