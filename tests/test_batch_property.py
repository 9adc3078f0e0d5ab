"""Property: a batch has exactly the outcome of applying its items one at a time, in order."""

import datetime as dt

import pytest
from django.db import connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auths.models import Auth
from grievances.models import Grievance
from tests.support.answers import data_of
from tests.support.entities import batch_url
from tests.support.oracle import ABSENT, EXPLODES, REJECTED, TRACKED, Case, run, with_options
from vbaproject.db.routing import using_client_database
from vbaproject.history.context import recorded_transaction, writing_as
from vbaproject.history.models import history_model
from vbaproject.spec.sample_data import sample_item

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])
KEYS = {
    Grievance: dict(pool=[ABSENT, 0, 1, 2, 3, 4, -1, None], initial=[2, 3]),
    Auth: dict(pool=[ABSENT, "", None, "A1", "A2", "7", "8", "X" * 21], initial=["A2", "7"]),
}
SUBSCRIBERS = [ABSENT, None, "S1", "S2", "TOO-LONG-ID", REJECTED, EXPLODES]
SEQS = [ABSENT, None, "01", "02", "123"]
OLD = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def refusing_database(demo_db):
    """Triggers that make the database itself refuse or fail on chosen values."""
    db = connections[demo_db]
    with db.cursor() as cursor:
        for model in (Grievance, Auth):
            table = db.ops.quote_name(model._meta.db_table)
            if db.vendor == "sqlite":
                for event in ("INSERT", "UPDATE"):
                    cursor.execute(
                        f"CREATE TRIGGER refuse_{model._meta.model_name}_{event} BEFORE {event} ON {table} "
                        f"WHEN NEW.\"subscriber_ID\" = '{REJECTED}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                    )
                    cursor.execute(
                        f"CREATE TRIGGER explode_{model._meta.model_name}_{event} BEFORE {event} ON {table} "
                        f"WHEN NEW.\"subscriber_ID\" = '{EXPLODES}' "
                        f"BEGIN SELECT abs(-9223372036854775808); END"
                    )
            else:
                cursor.execute(f"""
                    CREATE FUNCTION refuse_{model._meta.model_name}() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF NEW."subscriber_ID" = '{REJECTED}' THEN
                            RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation';
                        ELSIF NEW."subscriber_ID" = '{EXPLODES}' THEN
                            RAISE EXCEPTION 'kaboom';
                        END IF;
                        RETURN NEW;
                    END $$""")
                cursor.execute(
                    f"CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION refuse_{model._meta.model_name}()"
                )
    return demo_db


def items_for(model):
    keys = KEYS[model]

    @st.composite
    def item(draw):
        if draw(st.integers(0, 11)) == 0:
            return draw(
                st.one_of(
                    st.none(),
                    st.integers(-(2**63), 2**63 - 1),
                    st.text(max_size=3),
                    st.lists(st.booleans(), max_size=2),
                )
            )
        value = sample_item(model, fill=0.0)
        for name, pool in (
            (model._meta.pk.name, keys["pool"]),
            ("subscriber_ID", SUBSCRIBERS),
            ("member_Seq", SEQS),
        ):
            choice = draw(st.sampled_from(pool))
            if choice is not ABSENT:
                value[name] = choice
        if draw(st.integers(0, 15)) == 0:
            value["bogus"] = 1
        return value

    return st.lists(item(), max_size=12)


def seed(model, keys):
    extra = {"tPlan_Printed": "N"} if model is Auth else {}
    with writing_as("seed-history", "command"), recorded_transaction("demo"):
        _seed(model, keys, extra)


def _seed(model, keys, extra):
    model.objects.bulk_create(
        [
            model(
                pk=k,
                subscriber_ID=f"OLD{k}"[:9],
                member_Seq="09",
                entry_Date=OLD,
                entry_User="seed",
                update_Date=OLD,
                update_User="seed",
                **extra,
            )
            for k in keys
        ]
    )


OPTIONS = {  # the query string, and the options it asks for
    "": {},
    "?allOrNone=true": {"all_or_none": True},
    "?validateOnly=true": {"validate_only": True},
    "?allOrNone=true&validateOnly=true": {"all_or_none": True, "validate_only": True},
}


def check(api, model, items, chunk_rows, django_settings, query="", small_rows=50):
    django_settings.VBA_BATCH_CHUNK_ROWS = chunk_rows
    django_settings.VBA_BATCH_SMALL_ROWS = small_rows  # PostgreSQL: staging table or not
    keys = KEYS[model]
    case = run(
        Case(
            model._meta.pk.name,
            model is Grievance,
            {k: {"subscriber_ID": f"OLD{k}"[:9], "member_Seq": "09"} for k in keys["initial"]},
            items,
        )
    )
    case = with_options(case, **OPTIONS[query])
    with using_client_database("demo"), transaction.atomic(using="demo"):
        seed(model, keys["initial"])
        response = api.put(batch_url(model) + query, items)
        results = data_of(response, 207)
        assert [r["status"] for r in results] == case.statuses, (items, results)
        final = {}
        for key, values in case.final.items():
            if isinstance(key, tuple):  # assigned by the server: take the key it reported
                key = results[key[1]]["id"][0]["value"]
            final[key] = values
        check_history(model, case, results)
        assert len(final) == len(case.final), "an assigned key collided with another key"
        rows = {obj.pk: obj for obj in model.objects.all()}
        assert {k: {n: getattr(rows[k], n) for n in TRACKED} for k in rows} == final
        for key in keys["initial"]:
            assert (rows[key].entry_Date, rows[key].entry_User) == (OLD, "seed")
        for result, item, status in zip(results, items, case.statuses, strict=True):
            if status == 500:
                assert response["x-activity-id"] in result["body"]
            sent = item.get(model._meta.pk.name) if isinstance(item, dict) else None
            if status in (200, 201) and sent not in (None, 0, ""):
                assert result["id"][0]["value"] == sent
            if status == 424:  # not applied: the key as sent, or 0 for one to be assigned
                assert result["id"][0]["value"] == (0 if sent in (None, 0, "") else sent)
        transaction.set_rollback(True, using="demo")


def check_history(model, case, results):
    """Exactly one history entry per applied item, in order, each with the right old and new values
    (old: the copy before it); none for a rejected item. Seeded rows start with their creation."""
    key_name = model._meta.pk.name
    recorded = {}
    for entry in history_model(model).objects.order_by("history_id"):
        recorded.setdefault(getattr(entry, key_name), []).append(entry)
    expected = {key: [("create", None, values)] for key, values in case.initial.items()}
    for key, changes in case.history.items():
        if isinstance(key, tuple):
            key = results[key[1]]["id"][0]["value"]
        expected.setdefault(key, []).extend(changes)
    assert set(recorded) == set(expected), (recorded, expected)
    for key, changes in expected.items():
        entries = recorded[key]
        assert [e.history_action for e in entries] == [action for action, _, _ in changes], key
        before = None
        for entry, (_, old, new) in zip(entries, changes, strict=True):
            assert before == old and {n: getattr(entry, n) for n in TRACKED} == new, key
            before = new
        seeded = 1 if key in case.initial else 0
        assert all((e.history_via, e.history_database) == ("api", "demo") for e in entries[seeded:]), key


COMMON = dict(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# Rows at most written without the staging table (VBA_BATCH_SMALL_ROWS): 0 sends every write
# through COPY, 2 mixes both paths within a batch (chunks of 3 through COPY, their replays and
# short rounds not), 50 (the default) sends these small batches through the one-INSERT path.
SMALL_ROWS = st.sampled_from([0, 2, 50])


@settings(**COMMON)
@given(items=items_for(Grievance), chunk_rows=st.sampled_from([1, 2, 1000]), small_rows=SMALL_ROWS)
def test_grievance_batches_match_one_at_a_time(
    api, refusing_database, settings, items, chunk_rows, small_rows
):
    check(api, Grievance, items, chunk_rows, settings, small_rows=small_rows)


@settings(**COMMON)
@given(items=items_for(Auth), chunk_rows=st.sampled_from([1, 3, 1000]), small_rows=SMALL_ROWS)
def test_auth_batches_match_one_at_a_time(api, refusing_database, settings, items, chunk_rows, small_rows):
    check(api, Auth, items, chunk_rows, settings, small_rows=small_rows)


@settings(**{**COMMON, "max_examples": 40})
@given(
    case=st.sampled_from([Grievance, Auth]).flatmap(lambda m: st.tuples(st.just(m), items_for(m))),
    chunk_rows=st.sampled_from([1, 2, 1000]),
    query=st.sampled_from(sorted(OPTIONS)[1:]),
    small_rows=SMALL_ROWS,
)
def test_batch_options_match_one_at_a_time(
    api, refusing_database, settings, case, chunk_rows, query, small_rows
):
    """allOrNone and validateOnly: the one-at-a-time answers, then nothing written when asked."""
    model, items = case
    check(api, model, items, chunk_rows, settings, query, small_rows)
