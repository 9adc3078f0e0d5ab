"""The five PUT batch routes over real HTTP, as the README's *For API consumers* states them."""

import datetime as dt
import logging

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from claims.models import ClaimPromptPay
from grievances.models import Grievance
from tests.support.answers import data_of, problem_of
from tests.support.entities import EACH_MODEL, batch_url
from vbaproject.api.activity import ActivityIdFilter
from vbaproject.db.routing import using_client_database
from vbaproject.engine.upsert import upsert_batch
from vbaproject.spec.entities import entity_spec
from vbaproject.spec.sample_data import sample_item

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])


def put(api, model, items, **kwargs):
    return data_of(api.put(batch_url(model), items, **kwargs), 207)


def key_of(result):
    return result["id"][0]["value"]


def rows(model, database="demo"):
    with using_client_database(database):
        return {obj.pk: obj for obj in model.objects.all()}


@EACH_MODEL
def test_create_then_update_in_input_order(api, model):
    spec = entity_spec(model)
    first = put(api, model, [sample_item(model), sample_item(model), sample_item(model)])
    assert [r["status"] for r in first] == [201, 201, 201]
    assert [r["body"] for r in first] == ["Created"] * 3
    assert all(r["id"][0]["key"] == spec.key.name for r in first)
    keys = [key_of(r) for r in first]
    assert len(set(keys)) == 3 and set(rows(model)) == set(keys)
    again = put(api, model, [sample_item(model, **{spec.key.name: k}) for k in reversed(keys)])
    assert [(key_of(r), r["status"], r["body"]) for r in again] == [
        (k, 200, "Updated") for k in reversed(keys)
    ]
    assert len(rows(model)) == 3


def test_an_empty_array_answers_207_with_no_results(api):
    assert put(api, Grievance, []) == []


@EACH_MODEL
def test_put_replaces_nulls_what_is_left_out_and_keeps_the_entry_audit(api, model):
    spec = entity_spec(model)
    full = sample_item(model, fill=1.0)
    (created,) = put(api, model, [full])
    key = key_of(created)
    before = rows(model)[key]
    minimal = sample_item(model, fill=0.0, **{spec.key.name: key})
    (updated,) = put(api, model, [minimal])
    assert updated["status"] == 200
    after = rows(model)[key]
    for field in spec.client_fields:
        if field.is_key or field.name in minimal:
            continue
        assert getattr(after, field.attname) is None, field.name
    assert (after.entry_Date, after.entry_User) == (before.entry_Date, before.entry_User)
    assert after.update_Date >= before.update_Date
    assert after.update_User == api.username


def test_audit_values_sent_by_the_client_are_ignored(api):
    item = sample_item(Grievance, entry_User="mallory", entry_Date="1999-01-01", update_User="mallory")
    (created,) = put(api, Grievance, [item])
    row = rows(Grievance)[key_of(created)]
    assert (row.entry_User, row.update_User) == (api.username, api.username)
    assert row.entry_Date.year > 2000


def test_the_same_key_twice_is_applied_in_turn_and_the_last_valid_one_wins(api):
    items = [
        sample_item(Grievance, grievance_Key=70, subscriber_ID="FIRST"),
        sample_item(Grievance, grievance_Key=70, subscriber_ID="TOO-LONG-FOR-IT"),
        sample_item(Grievance, grievance_Key=70, subscriber_ID="THIRD"),
        sample_item(Grievance, grievance_Key=70, subscriber_ID="NOPE-TOO-LONG"),
    ]
    results = put(api, Grievance, items)
    assert [r["status"] for r in results] == [201, 400, 200, 400]
    assert rows(Grievance)[70].subscriber_ID == "THIRD"


def test_invalid_items_between_valid_ones_block_nothing(api):
    items = [sample_item(Grievance), {"grievance_Key": -1}, "not an object", sample_item(Grievance), None]
    results = put(api, Grievance, items)
    assert [r["status"] for r in results] == [201, 400, 400, 201, 400]
    assert results[1]["body"] == "grievance_Key: must not be negative"
    assert results[2]["body"] == results[4]["body"] == "the item must be a JSON object"
    assert len(rows(Grievance)) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subscriber_ID": "1234567890"}, "subscriber_ID: at most 9 characters (got 10)"),
        ({"call_Key": 2**31}, "call_Key: must be within the 32-bit integer range"),
        ({"call_Key": 1.5}, "call_Key: must be an integer"),
        ({"call_Key": True}, "call_Key: must be an integer"),
        ({"call_Key": "7"}, "call_Key: must be an integer"),
        ({"issue_Date": "yesterday"}, "issue_Date: must be an ISO 8601 date-time"),
        ({"issue_Date": 20240101}, "issue_Date: must be an ISO 8601 date-time string"),
        ({"issue": 5}, "issue: must be a string"),
        ({"issue": "a\u0000b"}, "issue: must not contain NUL characters"),
        ({"grievance_Key": "5"}, "grievance_Key: must be an integer"),
        ({"grievance_Key": None}, "grievance_Key: must not be null"),
        ({"Grievance_Status": "A", "grievance_status": "B"}, "grievance_Status: given more than once"),
        ({"subscriberId": "S1"}, "subscriberId: unknown field"),
    ],
)
def test_each_rule_is_a_readable_400(api, overrides, message):
    (result,) = put(api, Grievance, [sample_item(Grievance, **overrides)])
    assert result["status"] == 400
    assert message in result["body"]
    assert rows(Grievance) == {}


def test_the_400_names_every_bad_field(api):
    item = sample_item(CareCase, subscriber_ID="1234567890", case_Score="high", bogus=1)
    del item["do_Not_Contact"]
    (result,) = put(api, CareCase, [item])
    for part in [
        "subscriber_ID: at most 9",
        "case_Score: must be a number",
        "bogus: unknown field",
        "do_Not_Contact: is required",
    ]:
        assert part in result["body"]


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("case_Score", 3, True),
        ("case_Score", 2.5, True),
        ("case_Score", 1e308, True),
        ("do_Not_Contact", False, True),
        ("do_Not_Contact", 0, False),
        ("do_Not_Contact", "true", False),
        ("do_Not_Contact", None, False),
        ("carePlan_Key", -5, True),
        ("case_Priority", None, True),
        ("case_Start_Date", "2024-05-31", True),
        ("case_Start_Date", "2024-05-31T13:45:00Z", True),
        ("case_Start_Date", "2024-05-31T13:45:00.123+02:00", True),
        ("case_Start_Date", "2024-13-01", False),
    ],
)
def test_json_types(api, field, value, ok):
    (result,) = put(api, CareCase, [sample_item(CareCase, **{field: value})])
    assert (result["status"] == 201) is ok, result


def test_date_times_are_stored_as_instants_and_plain_dates_as_midnight_utc(api):
    (result,) = put(
        api,
        Grievance,
        [sample_item(Grievance, issue_Date="2024-05-31", grievance_Received="2024-05-31T13:45:00+02:00")],
    )
    row = rows(Grievance)[key_of(result)]
    assert row.issue_Date == dt.datetime(2024, 5, 31, tzinfo=dt.UTC)
    assert row.grievance_Received == dt.datetime(2024, 5, 31, 11, 45, tzinfo=dt.UTC)


def test_field_names_match_case_insensitively(api):
    (result,) = put(
        api, Grievance, [{"GRIEVANCE_KEY": 12, "Subscriber_id": "S9", "grievance_status": "OPEN"}]
    )
    assert result["status"] == 201 and key_of(result) == 12
    row = rows(Grievance)[12]
    assert (row.subscriber_ID, row.grievance_Status) == ("S9", "OPEN")


def test_auth_numbers(api):
    results = put(
        api,
        Auth,
        [
            sample_item(Auth, auth_Number="AUTH-1"),
            sample_item(Auth, auth_Number=""),
            sample_item(Auth, auth_Number=None),
            sample_item(Auth),
            sample_item(Auth, auth_Number="X" * 21),
            sample_item(Auth, tPlan_Printed=""),
        ],
    )
    assert [r["status"] for r in results] == [201, 201, 201, 201, 400, 400]
    assert key_of(results[0]) == "AUTH-1"
    assert len({key_of(r) for r in results[:4]}) == 4
    assert "auth_Number: at most 20 characters" in results[4]["body"]
    assert "tPlan_Printed: at least 1 character" in results[5]["body"]


def test_required_booleans_with_database_defaults_are_still_required(api):
    item = sample_item(Auth)
    del item["urgent"]
    (result,) = put(api, Auth, [item])
    assert result["status"] == 400 and "urgent: is required" in result["body"]


def test_a_clinical_trial_must_name_a_care_case_of_the_same_database(api):
    (case,) = put(api, CareCase, [sample_item(CareCase)])
    api.database = "other"
    (elsewhere,) = put(api, CareCase, [sample_item(CareCase, case_Key=key_of(case) + 100)])
    api.database = "demo"
    results = put(
        api,
        CareCaseClinicalTrial,
        [
            sample_item(CareCaseClinicalTrial, case_Key=key_of(case)),
            sample_item(CareCaseClinicalTrial, case_Key=key_of(elsewhere)),
            sample_item(CareCaseClinicalTrial, case_Key=None),
        ],
    )
    assert [r["status"] for r in results] == [201, 400, 201]
    assert f"case_Key: there is no care case {key_of(elsewhere)} in this database" == results[1]["body"]


def test_databases_are_isolated_through_the_api(api):
    (created,) = put(api, Grievance, [sample_item(Grievance, grievance_Key=5)])
    api.database = "other"
    (other,) = put(api, Grievance, [sample_item(Grievance, grievance_Key=5)])
    assert (created["status"], other["status"]) == (201, 201)
    assert set(rows(Grievance, "demo")) == set(rows(Grievance, "other")) == {5}


# Whole-request failures -------------------------------------------------------------------------


def test_missing_database_header_is_400(api):
    error = problem_of(api.put(batch_url(Grievance), [], database=None), 400)
    assert "vbasoftware-database" in error["detail"]


def test_unknown_database_is_403(api):
    problem_of(api.put(batch_url(Grievance), [], database="nope"), 403)
    problem_of(api.put(batch_url(Grievance), [], database="default"), 403)


@pytest.mark.parametrize("body", [b"{", b"[1,", b"\xff\xfe", b"NaN", b'"text"', b"{}", b"12", b"null", b""])
def test_invalid_json_or_not_an_array_is_400(api, body):
    problem_of(api.put(batch_url(Grievance), body), 400)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x", ""]
)
def test_a_non_json_content_type_is_415(api, content_type):
    problem_of(api.put(batch_url(Grievance), b"[]", content_type=content_type), 415)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "text/json", "application/vnd.x+json"]
)
def test_every_json_content_type_is_accepted(api, content_type):
    assert api.put(batch_url(Grievance), b"[]", content_type=content_type).status_code == 207


def test_too_many_items_is_413(api, settings):
    settings.VBA_BATCH_MAX_ITEMS = 3
    assert api.put(batch_url(Grievance), [sample_item(Grievance) for _ in range(3)]).status_code == 207
    error = problem_of(api.put(batch_url(Grievance), [sample_item(Grievance) for _ in range(4)]), 413)
    assert "VBA_BATCH_MAX_ITEMS" in error["detail"]


def test_too_large_a_body_is_413(api, settings):
    settings.VBA_BATCH_MAX_BYTES = 1000
    error = problem_of(api.put(batch_url(Grievance), [sample_item(Grievance, issue="x" * 2000)]), 413)
    assert "VBA_BATCH_MAX_BYTES" in error["detail"]


def test_an_unreachable_database_is_503(api, offline_database):
    api.allow_database(offline_database)
    response = api.put(batch_url(Grievance), [sample_item(Grievance)], database=offline_database)
    problem_of(response, 503)
    assert response["Retry-After"]


def test_unknown_routes_and_methods_answer_in_the_envelope(api):
    problem_of(api.put("/vbasoftware/no-such-batch", []), 404)
    problem_of(api.request("PATCH", batch_url(Grievance), []), 405)


def test_log_lines_of_a_request_carry_its_activity_id(api, caplog):
    caplog.handler.addFilter(ActivityIdFilter())
    with caplog.at_level(logging.INFO):
        response = api.put(batch_url(Grievance), b"{", database="demo")
    ours = [r for r in caplog.records if r.name == "django.request"]
    assert ours and all(r.activity_id == response["x-activity-id"] for r in ours)


# Cost -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("assigned", [False, True], ids=["explicit-keys", "assigned-keys"])
def test_statements_do_not_grow_with_the_batch(api, settings, assigned):
    """10 items and 2,000 items: the same statements per chunk, none per item."""

    def statements(count, offset):
        items = [
            sample_item(Auth, **({} if assigned else {"auth_Number": f"Q{offset + i}"})) for i in range(count)
        ]
        with CaptureQueriesContext(connections["demo"]) as queries:
            results = put(api, Auth, items)
        assert {r["status"] for r in results} == {201}
        return len(queries)

    settings.VBA_BATCH_SMALL_ROWS = 0  # 10 items through the staging table too
    settings.VBA_BATCH_CHUNK_ROWS = 5000  # both batches fit one chunk
    statements(10, 40_000)  # the writer's staging table is in use from now on
    assert statements(10, 0) == statements(2000, 10_000)
    settings.VBA_BATCH_CHUNK_ROWS = 1000  # 2,000 items are two chunks of 1,000
    one_chunk = statements(10, 20_000)
    assert statements(2000, 30_000) == 2 * one_chunk


@pytest.mark.parametrize("assigned", [False, True], ids=["explicit-keys", "assigned-keys"])
def test_a_small_write_is_one_statement_whatever_its_size(api, settings, assigned):
    """Up to VBA_BATCH_SMALL_ROWS items: no staging table, the same statements for 1 item as for 50."""

    def statements(count, offset):
        items = [
            sample_item(Auth, **({} if assigned else {"auth_Number": f"M{offset + i}"})) for i in range(count)
        ]
        with CaptureQueriesContext(connections["demo"]) as queries:
            results = put(api, Auth, items)
        assert {r["status"] for r in results} == {201}
        return [q["sql"] for q in queries]

    settings.VBA_BATCH_SMALL_ROWS = 50
    one, fifty = statements(1, 0), statements(50, 100)
    assert len(one) == len(fifty)
    assert not any("COPY" in sql or "vba_stage_" in sql for sql in one + fifty)


def test_create_only_never_replaces_a_record(api):
    """POST's mode of the engine: the insert itself decides that a key is taken (409)."""
    put(api, Grievance, [sample_item(Grievance, grievance_Key=31, subscriber_ID="KEEP")])
    with using_client_database("demo"):
        results = upsert_batch(
            Grievance,
            [
                sample_item(Grievance, grievance_Key=31, subscriber_ID="LOSE"),
                sample_item(Grievance, grievance_Key=32, subscriber_ID="NEW"),
            ],
            user="t",
            create_only=True,
        )
    assert [(r.status, r.body) for r in results] == [
        (409, "there is a grievance 31 already"),
        (201, "Created"),
    ]
    assert {k: g.subscriber_ID for k, g in rows(Grievance).items()} == {31: "KEEP", 32: "NEW"}


def test_long_user_names_are_cut_to_each_audit_column(demo_db):
    name = "a-very-long-user-name-from-the-directory"  # 40 characters
    (created,) = upsert_batch(ClaimPromptPay, [sample_item(ClaimPromptPay)], user=name)
    row = ClaimPromptPay.objects.get(pk=created.key)
    assert (row.entry_User, row.update_User) == (name, name[:20])  # entry_User holds 200, update_User 20
