"""A batch cut short by a real fault, then retried with the same Idempotency-Key (issue 12).

tests/test_idempotency.py proves the Idempotency-Key rules in process, with the faults staged by
hand. Here the faults are real and the server is gunicorn on PostgreSQL: the request's own
database backend is terminated at a chosen moment of the second of three chunks (the engine's
failpoints, ``vbaproject.engine.faults``), or the worker running the batch is SIGKILLed while
it holds its transaction open. What must hold, every time:

- the first answer matches the table exactly: the items it answers 201 are in the table with
  their keys and values, the items it answers 503 (``NOT_WRITTEN``, with ``Retry-After``) are not,
  and nothing else is;
- a retry with the same key and body that is cut short too answers the same way (the items of
  the first attempt as the first attempt answered them);
- a retry on a server without the fault ends with exactly one row per item, the items written
  by the earlier attempts keeping the keys they gave them;
- the final answer is then replayed as it is (``Idempotency-Replayed: true``);
- a retry sent while the first attempt still runs is a 409 with ``Retry-After``.

A failpoint applies to every request its server serves, so the final retries go to another
gunicorn without failpoints, against the same databases. The module's six servers are started
side by side once (booting them is most of its time) and stopped by ``running_gunicorn``
whatever happens; every thread is joined within its test.
"""

import contextlib
import os
import signal
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pytest
import requests
from django.db import connections

from grievances.models import Grievance
from tests.support.gunicorn import postgres_test_env, running_gunicorn

pytestmark = [
    pytest.mark.postgres,
    # "other" too: the servers are given every client database, and each must be a test database.
    pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"]),
]

BATCH = "/vbasoftware/grievances-batch"
CHUNK = 200  # rows per transaction (VBA_BATCH_CHUNK_ROWS), so a batch of 600 items is 3 chunks
# Seconds the sleeping failpoint holds the second chunk's transaction open: the tests end that
# attempt by killing its worker long before (and below gunicorn's 30 s timeout and the 25 s
# request deadline, so a kill that failed shows as such rather than as a worker timeout).
SLEEP = 20
DEADLINE = 45  # seconds any wait of these tests may take, at most, on a loaded machine
MOMENTS = ["before_copy", "during_copy", "before_insert", "before_commit"]  # where a backend is cut


def items_of(marker, n):
    """``n`` items with server-assigned keys, told apart by ``admin_Change`` = ``marker-i``."""
    return [
        {"grievance_Key": 0, "admin_Change": f"{marker}-{i}", "grievance_Status": "OPEN"} for i in range(n)
    ]


def table_of(marker):
    """The rows this test wrote, as ``{admin_Change: [keys]}`` (a list, so a duplicate shows)."""
    rows = {}
    found = Grievance.objects.using("demo").filter(admin_Change__startswith=f"{marker}-")
    for key, value in found.values_list("grievance_Key", "admin_Change"):
        rows.setdefault(value, []).append(key)
    return rows


def results_of(answer):
    return [(r["status"], r["id"][0]["value"], r["body"]) for r in answer["data"]]


def assert_answer_matches_table(answer, marker, n):
    """Items answered 201 are in the table under the keys answered, items answered 503 are not,
    and the table holds nothing else of this test's; the keys answered 201, by item."""
    results = results_of(answer)
    assert len(results) == n
    table = table_of(marker)
    written = {}
    for index, (status, key, body) in enumerate(results):
        value = f"{marker}-{index}"
        if status == 201:
            assert table.get(value) == [key], (index, key, table.get(value))
            written[index] = key
        else:
            assert status == 503 and body.startswith("Not written"), (index, status, body)
            assert value not in table, (index, table[value])
    assert len(table) == len(written), "rows in the table that the answer does not report"
    return written


def assert_one_row_per_item(answer, marker, n):
    """The final answer: every item 201, each in the table exactly once under its answered key."""
    results = results_of(answer)
    assert [status for status, _, _ in results] == [201] * n, {s for s, _, _ in results}
    table = table_of(marker)
    assert sum(len(keys) for keys in table.values()) == n, "duplicates in the table"
    assert {value: keys for value, keys in table.items()} == {
        f"{marker}-{index}": [key] for index, (_, key, _) in enumerate(results)
    }
    return {index: key for index, (_, key, _) in enumerate(results)}


def send_until_final(server, body, headers):
    """Send until the answer is final (not a 409, 5xx or ``Retry-After``); that answer."""
    deadline = time.monotonic() + DEADLINE
    while True:
        status, answer_headers, answer = server.request("PUT", BATCH, body, headers, timeout=DEADLINE)
        if status < 500 and status != 409 and "Retry-After" not in answer_headers:
            return status, answer_headers, answer
        assert time.monotonic() < deadline, f"no final answer within {DEADLINE} s: {status} {answer}"
        time.sleep(0.2)


def assert_replayed(server, body, headers, final):
    status, answer_headers, again = server.request("PUT", BATCH, body, headers)
    assert (status, answer_headers.get("Idempotency-Replayed"), again) == (207, "true", final)


def clear_signals(signal_dir):
    for path in Path(signal_dir).iterdir():
        path.unlink()


def wait_for_signal(signal_dir, name):
    """The backend pid of the first failpoint signal ``name-<chunk>-<pid>`` to appear."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        for path in Path(signal_dir).iterdir():
            if path.name.startswith(f"{name}-"):
                path.unlink()
                return int(path.name.rsplit("-", 1)[1])
        time.sleep(0.05)
    raise AssertionError(f"no {name} failpoint reached within {DEADLINE} s")


def children_of(pid):
    """The pids of ``pid``'s child processes (from /proc, as neither psutil nor pgrep may be there)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # gone meanwhile
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry))
    return found


def worker_of_backend(server, backend_pid):
    """The gunicorn worker whose database connection is served by ``backend_pid``: the backend's
    client port (pg_stat_activity), the socket with that local port (/proc/net/tcp*), the
    worker holding that socket (its /proc/<pid>/fd)."""
    with connections["demo"].cursor() as cursor:
        cursor.execute("SELECT client_port FROM pg_stat_activity WHERE pid = %s", [backend_pid])
        (port,) = cursor.fetchone()
    assert port and port > 0, f"backend {backend_pid} has no TCP client port: {port}"
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if os.path.exists(table):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    sockets.add(f"socket:[{fields[9]}]")
    for worker in children_of(server.process.pid):
        try:
            descriptors = os.listdir(f"/proc/{worker}/fd")
        except OSError:
            continue
        for fd in descriptors:
            try:
                if os.readlink(f"/proc/{worker}/fd/{fd}") in sockets:
                    return worker
            except OSError:
                continue
    raise AssertionError(f"no worker of gunicorn {server.process.pid} holds the socket of port {port}")


@contextlib.contextmanager
def gunicorns(envs):
    """``running_gunicorn`` for each of ``envs`` (``{name: (env, workers)}``), started side by side
    (a server costs seconds to boot on a loaded machine) and all stopped in every case."""
    contexts = {name: running_gunicorn(env, workers=workers) for name, (env, workers) in envs.items()}
    with ThreadPoolExecutor(max_workers=len(contexts)) as pool:
        starts = {name: pool.submit(context.__enter__) for name, context in contexts.items()}
        wait(starts.values())
        started = {name: start.result() for name, start in starts.items() if start.exception() is None}
        try:
            for start in starts.values():
                if start.exception() is not None:  # it stopped its own server; the others stop below
                    raise start.exception()
            yield started
        finally:
            stops = [pool.submit(contexts[name].__exit__, None, None, None) for name in started]
            for stop in stops:
                stop.result()


@pytest.fixture(scope="module")
def servers(django_db_setup):
    """Every gunicorn of the module, on this run's test databases with small chunks: one per
    moment (a batch's backend terminated there in its second chunk), ``"clean"`` without
    failpoints (where the retries of a cut batch go), and ``"slow"``, whose batches sleep before
    committing their second chunk, signalling it (two workers: one answers while the other sleeps)."""
    env = {**postgres_test_env(), "VBA_BATCH_CHUNK_ROWS": str(CHUNK)}
    with tempfile.TemporaryDirectory(prefix="vba-failpoints-") as signal_dir:
        slow = {"VBA_FAILPOINTS": f"before_commit:2:{SLEEP}", "VBA_FAILPOINT_SIGNAL": signal_dir}
        envs = {
            "clean": (env, 1),
            "slow": ({**env, **slow}, 2),
            **{moment: ({**env, "VBA_FAILPOINTS": f"{moment}:2"}, 1) for moment in MOMENTS},
        }
        with gunicorns(envs) as started:
            started["slow"].signal_dir = signal_dir
            yield started


@pytest.fixture
def slow_server(servers):
    return servers["slow"]


@pytest.fixture
def background():
    """One thread for a request that must run while the test acts; joined before the test ends."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_batch_cut_by_a_lost_backend_is_finished_once_by_its_retry(api, servers, moment):
    """The backend is terminated at ``moment`` of chunk 2 of 3: the first answer is chunk 1
    written (201 each) and the rest not (503 each, Retry-After), as the table holds. A retry to
    the same server is cut in its second chunk too (the batch's third): chunks 1 and 2 written.
    A retry to a server without the fault writes the rest, once, and answers every item with the
    key the table holds, the keys of the first attempts unchanged."""
    marker = uuid.uuid4().hex[:10]
    n = 3 * CHUNK
    body = items_of(marker, n)
    headers = {**api.headers(), "Idempotency-Key": f"cut-{moment}-{marker}"}
    faulty, clean = servers[moment], servers["clean"]
    written = {}
    for chunks in (1, 2):
        status, answer_headers, answer = faulty.request("PUT", BATCH, body, headers, timeout=DEADLINE)
        assert status == 207, answer
        assert int(answer_headers["Retry-After"]) >= 1
        assert "Idempotency-Replayed" not in answer_headers
        now_written = assert_answer_matches_table(answer, marker, n)
        assert sorted(now_written) == list(range(chunks * CHUNK)), f"chunks 1 to {chunks} only"
        assert {index: now_written[index] for index in written} == written, "keys changed"
        written = now_written

    status, answer_headers, final = send_until_final(clean, body, headers)
    assert status == 207, final
    assert "Idempotency-Replayed" not in answer_headers
    keys = assert_one_row_per_item(final, marker, n)
    assert {index: keys[index] for index in written} == written, "the first attempts' keys changed"
    # The answer is kept: replayed by either server, and nothing is written again.
    assert_replayed(clean, body, headers, final)
    assert_replayed(faulty, body, headers, final)
    assert sum(len(k) for k in table_of(marker).values()) == n


def test_a_batch_whose_worker_is_killed_is_finished_once_by_its_retry(api, slow_server, background):
    """The worker is SIGKILLed while its second chunk's transaction is open: chunk 1 stays, chunk
    2 is rolled back; the retry, to the same gunicorn (which boots a new worker), writes chunk 2
    once and answers chunk 1 with the keys the table holds."""
    marker = uuid.uuid4().hex[:10]
    n = 2 * CHUNK
    body = items_of(marker, n)
    headers = {**api.headers(), "Idempotency-Key": f"killed-{marker}"}
    clear_signals(slow_server.signal_dir)
    first = background.submit(slow_server.request, "PUT", BATCH, body, headers, timeout=DEADLINE)
    backend = wait_for_signal(slow_server.signal_dir, "before_commit")
    worker = worker_of_backend(slow_server, backend)
    os.kill(worker, signal.SIGKILL)
    with pytest.raises(requests.ConnectionError):
        first.result(timeout=DEADLINE)  # no answer: the worker is gone
    table = table_of(marker)
    assert sorted(table) == sorted(f"{marker}-{i}" for i in range(CHUNK)), "chunk 1 only"
    assert all(len(keys) == 1 for keys in table.values())

    status, answer_headers, final = send_until_final(slow_server, body, headers)
    assert status == 207, final
    assert "Idempotency-Replayed" not in answer_headers
    keys = assert_one_row_per_item(final, marker, n)
    assert {f"{marker}-{i}": [keys[i]] for i in range(CHUNK)} == table, "chunk 1's keys changed"
    assert_replayed(slow_server, body, headers, final)
    assert "WORKER TIMEOUT" not in slow_server.log()


def test_a_retry_while_the_first_attempt_runs_is_409(api, servers, slow_server, background):
    """While the first attempt holds its second chunk open, the same request again is a 409 with
    Retry-After, from the same gunicorn's other worker or from another gunicorn, and writes
    nothing. The first attempt is then ended as in the test above (its worker killed), and a
    retry finishes the batch once."""
    marker = uuid.uuid4().hex[:10]
    n = 2 * CHUNK
    body = items_of(marker, n)
    headers = {**api.headers(), "Idempotency-Key": f"busy-{marker}"}
    clear_signals(slow_server.signal_dir)
    first = background.submit(slow_server.request, "PUT", BATCH, body, headers, timeout=DEADLINE)
    backend = wait_for_signal(slow_server.signal_dir, "before_commit")
    for server in (slow_server, servers["clean"]):
        status, answer_headers, answer = server.request("PUT", BATCH, body, headers, timeout=DEADLINE)
        assert status == 409, answer
        assert int(answer_headers["Retry-After"]) >= 1
        assert answer["error"]["status"] == 409 and answer["data"] is None
    assert not first.done()
    table = table_of(marker)
    assert sorted(table) == sorted(f"{marker}-{i}" for i in range(CHUNK)), "chunk 1 only, as before"

    os.kill(worker_of_backend(slow_server, backend), signal.SIGKILL)
    with pytest.raises(requests.ConnectionError):
        first.result(timeout=DEADLINE)
    status, _, final = send_until_final(slow_server, body, headers)
    assert status == 207, final
    keys = assert_one_row_per_item(final, marker, n)
    assert {f"{marker}-{i}": [keys[i]] for i in range(CHUNK)} == table
