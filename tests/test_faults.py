"""Batches that tell the truth under faults (README, *When a call fails*), against gunicorn.

The request's PostgreSQL backend is terminated at exact moments of a 3,000-item batch written
in chunks of 1,000 (failpoints, ``vbaproject.engine.faults``): before its COPY, during it,
while its INSERT waits, at its COMMIT, on the first chunk and on a later one. The answer must
match the table exactly: a 503 with ``Retry-After`` and no row when nothing was committed; else
a 207 whose 201s are exactly the rows, with their values, the rest 503 "not written". Locks
held and slow statements are answered (503 or 207) by the server well before gunicorn's own
timeout would kill the worker. Keys assigned while another batch writes its explicit keys
never land on them.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connections

from grievances.models import Grievance
from tests.support.factories import make_record
from tests.support.gunicorn import database_url, postgres_test_env, running_gunicorn
from tests.support.pgproxy import PostgresProxy
from vbaproject.db.config import ImproperClientDatabases, parse_client_databases
from vbaproject.db.limits import Limits
from vbaproject.db.routing import using_client_database
from vbaproject.spec.sample_data import sample_item

ROUTE = "/vbasoftware/grievances-batch"
ITEMS = 3000
CHUNK = 1000
TABLE = Grievance._meta.db_table


def batch(tag, keys=None):
    """``ITEMS`` grievances, each with a subscriber_ID of its own (``tag`` + its position)."""
    keys = keys or [0] * ITEMS
    return [
        sample_item(Grievance, grievance_Key=key, subscriber_ID=f"{tag}{i:05d}") for i, key in enumerate(keys)
    ]


def table():
    """{key: subscriber_ID} of every grievance in ``demo``."""
    with using_client_database("demo"):
        return dict(Grievance.objects.values_list("pk", "subscriber_ID"))


def assert_tells_the_truth(items, status, headers, body, written):
    """The answer matches the table exactly, and ``written`` items (in order) were written."""
    rows = table()
    if written == 0:
        assert status == 503, body
        assert headers.get("Retry-After"), headers
        assert body["error"]["status"] == 503 and "nothing was written" in body["error"]["detail"]
        assert rows == {}
        return
    assert status == 207, body
    results = body["data"]
    answered = {}
    for item, result in zip(items, results, strict=True):
        if result["status"] == 201:
            answered[result["id"][0]["value"]] = item["subscriber_ID"]
        else:
            assert result["status"] == 503 and result["body"].startswith("Not written"), result
    assert rows == answered, "the rows are not exactly the items answered as written"
    assert len(rows) == written
    assert [r["status"] for r in results] == [201] * written + [503] * (ITEMS - written)
    assert headers.get("Retry-After"), headers


def env(**extra):
    return {**postgres_test_env(), "VBA_BATCH_CHUNK_ROWS": str(CHUNK), **extra}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
@pytest.mark.parametrize(
    ("failpoint", "written"),
    [
        ("before_copy:1", 0),
        ("during_copy:2", CHUNK),
        ("before_insert:3", 2 * CHUNK),
        ("before_commit:1", 0),  # the COMMIT fails: asked about, it aborted
        ("before_commit:2", CHUNK),
    ],
)
def test_a_terminated_backend_is_answered_truthfully(api, failpoint, written):
    items = batch("T")
    with running_gunicorn(env(VBA_FAILPOINTS=failpoint)) as server:
        status, headers, body = server.request("PUT", ROUTE, items, api.headers())
        assert_tells_the_truth(items, status, headers, body, written)
        # The worker goes on with a fresh connection: a batch of one chunk is written whole
        # (or, when the failpoint is on chunk 1, answered as truthfully again).
        more = batch("U")[:10]
        status, headers, body = server.request("PUT", ROUTE, more, api.headers())
        if written:
            assert status == 207 and {r["status"] for r in body["data"]} == {201}, body
        else:
            assert status == 503 and headers.get("Retry-After"), body
        assert server.worker_timeouts() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
@pytest.mark.parametrize(("commit", "written"), [(1, CHUNK), (3, ITEMS)])
def test_a_commit_whose_answer_is_lost_is_asked_about(api, commit, written):
    """The server commits chunk ``commit`` and the connection dies before the answer arrives
    (tests/support/pgproxy.py): asked on a fresh connection, it committed, so it is answered as
    written; nothing after it is."""
    demo = connections["demo"].settings_dict
    proxy = PostgresProxy(demo["HOST"] or "127.0.0.1", int(demo["PORT"] or 5432))
    try:
        server_env = env()
        server_env["VBA_DATABASES"] = json.dumps(
            {"demo": proxy.url_through(demo), "other": database_url(connections["other"].settings_dict)}
        )
        with running_gunicorn(server_env) as server:
            items = batch("C")
            proxy.lose_commit_answer(commit)
            status, headers, body = server.request("PUT", ROUTE, items, api.headers())
            assert proxy.lost.is_set(), "no COMMIT answer was lost"
            if written == ITEMS:  # everything was written: a plain 207, nothing to retry
                assert status == 207 and [r["status"] for r in body["data"]] == [201] * ITEMS, body
                assert len(table()) == ITEMS
            else:
                assert_tells_the_truth(items, status, headers, body, written)
    finally:
        proxy.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
@pytest.mark.parametrize("route", ["one", "batch"])
def test_a_delete_whose_commit_answer_is_lost_is_answered_as_done(api, route):
    """The server commits a delete and the answer is lost: asked about, it committed, so the
    client is told the records are deleted (a 503 would send it to retry into a 404)."""
    keys = [make_record(Grievance, "demo").pk for _ in range(3)]
    demo = connections["demo"].settings_dict
    proxy = PostgresProxy(demo["HOST"] or "127.0.0.1", int(demo["PORT"] or 5432))
    try:
        server_env = env()
        server_env["VBA_DATABASES"] = json.dumps(
            {"demo": proxy.url_through(demo), "other": database_url(connections["other"].settings_dict)}
        )
        with running_gunicorn(server_env) as server:
            proxy.lose_commit_answer(1)
            if route == "one":
                status, _, body = server.request(
                    "DELETE", f"/vbasoftware/grievances/{keys[0]}", None, api.headers()
                )
                assert status == 200, body
                gone = keys[:1]
            else:
                sent = [{"grievance_Key": key} for key in keys]
                status, _, body = server.request("DELETE", ROUTE, sent, api.headers())
                assert status == 207 and [r["status"] for r in body["data"]] == [200] * 3, body
                gone = keys
            assert proxy.lost.is_set(), "no COMMIT answer was lost"
    finally:
        proxy.close()
    assert not set(gone) & set(table())


def holding_lock():
    """A connection of the test's own holding ACCESS EXCLUSIVE on the grievances table."""
    holder = psycopg.connect(database_url(connections["demo"].settings_dict))
    holder.execute(f'LOCK TABLE "{TABLE}" IN ACCESS EXCLUSIVE MODE')
    return holder


def wait_for_signal(directory, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        signals = list(directory.iterdir())
        if signals:
            return signals[0].name
        time.sleep(0.02)
    raise AssertionError("the failpoint was never reached")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_a_backend_terminated_while_its_insert_waits_is_answered_truthfully(api, tmp_path):
    """Chunk 2's INSERT waits for a lock; the test terminates that backend mid-statement."""
    items = batch("I")
    server_env = env(VBA_FAILPOINTS="before_copy:2:2", VBA_FAILPOINT_SIGNAL=str(tmp_path))
    server_env.update(postgres_test_env(demo={"lock_timeout": 0, "statement_timeout": 0}))
    with running_gunicorn(server_env) as server, ThreadPoolExecutor(1) as pool:
        answer = pool.submit(server.request, "PUT", ROUTE, items, api.headers())
        wait_for_signal(tmp_path)  # chunk 1 committed, chunk 2 about to COPY
        holder = holding_lock()
        try:
            with psycopg.connect(database_url(connections["demo"].settings_dict), autocommit=True) as watcher:
                pid, deadline = None, time.monotonic() + 60
                while pid is None and time.monotonic() < deadline:
                    row = watcher.execute(
                        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'INSERT INTO%%' AND datname = current_database()"
                    ).fetchone()
                    pid = row and row[0]
                    time.sleep(0.02)
                assert pid, "chunk 2's INSERT never waited for the lock"
                watcher.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
        finally:
            holder.close()
        status, headers, body = answer.result(timeout=120)
    assert_tells_the_truth(items, status, headers, body, CHUNK)


def put_while_locked(server, items, api):
    """(status, headers, body, seconds) of the batch ``items`` PUT while ``holding_lock()`` holds."""
    holder = holding_lock()
    try:
        started = time.monotonic()
        status, headers, body = server.request("PUT", ROUTE, items, api.headers())
        return status, headers, body, time.monotonic() - started
    finally:
        holder.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_a_lock_held_is_answered_after_the_lock_timeout(api, tmp_path):
    """lock_timeout (1 s here) stops the write: 503 before anything committed, 207 after."""
    server_env = env(VBA_FAILPOINTS="before_copy:2:2", VBA_FAILPOINT_SIGNAL=str(tmp_path))
    server_env.update(postgres_test_env(demo={"lock_timeout": 1}))
    with running_gunicorn(server_env) as server:
        items = batch("L")
        status, headers, body, elapsed = put_while_locked(server, items, api)
        assert_tells_the_truth(items, status, headers, body, 0)
        assert elapsed < 20, f"answered after {elapsed:.1f} s"

        # Now the lock is taken while the batch is between its first and second chunk.
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(server.request, "PUT", ROUTE, items, api.headers())
            wait_for_signal(tmp_path)
            holder = holding_lock()
            try:
                status, headers, body = answer.result(timeout=120)
            finally:
                holder.close()
        assert_tells_the_truth(items, status, headers, body, CHUNK)
        assert server.worker_timeouts() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_a_slow_statement_is_answered_after_the_statement_timeout(api):
    server_env = env()
    server_env.update(postgres_test_env(demo={"lock_timeout": 0, "statement_timeout": 1}))
    with running_gunicorn(server_env) as server:
        items = batch("S")
        status, headers, body, elapsed = put_while_locked(server, items, api)
        assert_tells_the_truth(items, status, headers, body, 0)
        assert elapsed < 20, f"answered after {elapsed:.1f} s"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_the_request_deadline_answers_before_gunicorn_kills_the_worker(api):
    """No database timeout at all; VBA_REQUEST_TIMEOUT (3 s) cuts the write before gunicorn's
    worker timeout (10 s) would kill the worker and answer its own HTML 500."""
    server_env = env(VBA_REQUEST_TIMEOUT="3")
    server_env.update(postgres_test_env(demo={"lock_timeout": 0, "statement_timeout": 0}))
    with running_gunicorn(server_env, timeout=10) as server:
        items = batch("D")
        status, headers, body, elapsed = put_while_locked(server, items, api)
        assert_tells_the_truth(items, status, headers, body, 0)
        assert elapsed < 10, f"answered after {elapsed:.1f} s"
        assert server.worker_timeouts() == 0, server.log()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_assigned_keys_never_land_on_keys_a_running_batch_names(api, tmp_path):
    """Issue 12: A sends explicit keys while B sends key 0 for all its items, in other workers.

    B starts once A's first chunk has committed (A then pauses 1 s, failpoint): B's keys must
    not be among A's, and every A item must create its record (201), never update one of B's.
    """
    server_env = env(VBA_FAILPOINTS="before_transaction:2:1", VBA_FAILPOINT_SIGNAL=str(tmp_path))
    with running_gunicorn(server_env) as server, ThreadPoolExecutor(2) as pool:
        for round_ in range(3):
            for signal in tmp_path.iterdir():
                signal.unlink()
            top = max(table(), default=0)
            a_keys = list(range(top + 2, top + 2 + ITEMS))
            a_items, b_items = batch(f"A{round_}", a_keys), batch(f"B{round_}")
            a = pool.submit(server.request, "PUT", ROUTE, a_items, api.headers())
            wait_for_signal(tmp_path)
            b = pool.submit(server.request, "PUT", ROUTE, b_items, api.headers())
            (a_status, _, a_body), (b_status, _, b_body) = a.result(timeout=180), b.result(timeout=180)
            assert a_status == b_status == 207, (a_body, b_body)
            a_statuses = [r["status"] for r in a_body["data"]]
            assert a_statuses == [201] * ITEMS, "A updated records it never created"
            assert [r["status"] for r in b_body["data"]] == [201] * ITEMS
            b_keys = {r["id"][0]["value"] for r in b_body["data"]}
            assert not b_keys & set(a_keys)
            rows = table()
            assert all(rows[k] == item["subscriber_ID"] for k, item in zip(a_keys, a_items, strict=True))


# Per-database limits (VBA_DATABASES) ------------------------------------------------------------


def test_client_databases_may_carry_their_own_limits():
    defaults = Limits(statement_timeout=20, lock_timeout=5, max_requests=0)
    databases = parse_client_databases(
        '{"a": "sqlite:///a.sqlite3", '
        '"b": {"url": "postgresql://h/b", "lock_timeout": 1, "max_requests": 8}}',
        defaults,
    )
    assert databases["a"]["LIMITS"] == defaults
    assert databases["b"]["LIMITS"] == Limits(statement_timeout=20, lock_timeout=1, max_requests=8)
    assert databases["a"]["OPTIONS"]["timeout"] == 5  # SQLite waits lock_timeout for its write lock
    for bad in (
        '{"a": {"lock_timeout": 1}}',
        '{"a": {"url": "sqlite://", "lock_timeout": -1}}',
        '{"a": {"url": "sqlite://", "retries": 1}}',
    ):
        with pytest.raises(ImproperClientDatabases):
            parse_client_databases(bad, defaults)


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "demo", "other"])
def test_postgres_sessions_start_with_their_databases_timeouts():
    with connections["demo"].cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        statement = cursor.fetchone()[0]
        cursor.execute("SHOW lock_timeout")
        lock = cursor.fetchone()[0]
    limits = connections["demo"].settings_dict["LIMITS"]
    assert (statement, lock) == (f"{limits.statement_timeout:g}s", f"{limits.lock_timeout:g}s")


# The engine's journal hook (vbaproject.engine.journal), used by Idempotency-Key retries --------


class ListJournal:
    def __init__(self, done):
        self.done = done
        self.recorded = []  # (indexes, inside a transaction?) per write transaction

    def record(self, connection, outcomes):
        self.recorded.append(([o.index for o in outcomes], connection.in_atomic_block))


@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])  # real commits
def test_the_journal_answers_done_items_and_records_every_write_in_its_transaction(demo_db, settings):
    from vbaproject.engine.outcomes import ItemOutcome, Outcome
    from vbaproject.engine.upsert import upsert_batch

    settings.VBA_BATCH_CHUNK_ROWS = 2
    items = [sample_item(Grievance, subscriber_ID=f"J{i}") for i in range(5)]
    items[3]["subscriber_ID"] = "far too long for the field"  # invalid: 400, as always
    earlier = ItemOutcome(1, 4242, Outcome.CREATED)
    journal = ListJournal({1: earlier, 3: ItemOutcome(3, 7, Outcome.CREATED)})
    results = upsert_batch(Grievance, items, user="t", journal=journal)
    assert results[1] is earlier
    assert results[3].status == 400
    assert [r.status for i, r in enumerate(results) if i not in (1, 3)] == [201, 201, 201]
    assert journal.recorded == [([0, 2], True), ([4], True)]
    assert sorted(Grievance.objects.values_list("subscriber_ID", flat=True)) == ["J0", "J2", "J4"]
