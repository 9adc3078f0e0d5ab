"""Idempotency-Key on every write (README, *For API consumers: the batch routes*).

A write sent with the header is applied at most once per (API key, client database, key): a
retry gets the first answer again byte for byte, a different request under the same key is a
422, a retry while the first attempt runs a 409, and a retry of an attempt that died half-way
finishes what is missing. The in-process tests run on both backends through real HTTP (Django's
test client, or a live server where two requests must overlap); the tests that kill a
database backend or a worker mid-write run gunicorn on PostgreSQL.
"""

import hashlib
import io
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from types import SimpleNamespace

import orjson
import pytest
from django.core.management import call_command
from django.utils import timezone

from grievances.models import Grievance
from tests.support.answers import data_of, problem_of
from tests.support.factories import ApiKeyFactory
from vbaproject.db.routing import using_client_database
from vbaproject.engine.upsert import upsert_batch
from vbaproject.idempotency.digest import request_digest
from vbaproject.idempotency.models import IdempotentChunk, IdempotentRequest, State
from vbaproject.idempotency.services import _this_process, idempotent_attempt

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

BATCH = "/vbasoftware/grievances-batch"
ONE = "/vbasoftware/grievances"


def items(n, tag="A"):
    return [{"grievance_Key": 0, "subscriber_ID": f"{tag}{i}", "grievance_Status": "OPEN"} for i in range(n)]


def keys_of(response):
    return [result["id"][0]["value"] for result in orjson.loads(response.content)["data"]]


def grievance_count():
    with using_client_database("demo"):
        return Grievance.objects.count()


def assert_replayed(first, again):
    assert again.status_code == first.status_code
    assert again.content == first.content  # byte for byte: status, body, assigned keys
    assert again["Idempotency-Replayed"] == "true"
    assert not first.has_header("Idempotency-Replayed")


def digest_of(method, path, body):
    """The digest the server takes of a request (``vbaproject.idempotency.digest``)."""
    request = SimpleNamespace(
        method=method,
        path=path,
        META={"QUERY_STRING": ""},
        idempotency_digest=hashlib.sha256(body).hexdigest(),
    )
    return request_digest(request)


def test_a_retried_batch_gets_the_first_answer_and_writes_nothing_again(api):
    first = api.put(BATCH, items(3), **{"Idempotency-Key": "batch-1"})
    assert first.status_code == 207
    assert grievance_count() == 3
    again = api.put(BATCH, items(3), **{"Idempotency-Key": "batch-1"})
    assert_replayed(first, again)
    assert grievance_count() == 3
    # Without the header, the same batch is simply applied again.
    assert api.put(BATCH, items(3)).status_code == 207
    assert grievance_count() == 6


def test_single_writes_and_deletes_are_applied_once(api):
    created = api.post(ONE, {"grievance_Key": 0, "subscriber_ID": "S1"}, **{"Idempotency-Key": "post-1"})
    key = data_of(created, 201)["grievance_Key"]
    assert_replayed(
        created, api.post(ONE, {"grievance_Key": 0, "subscriber_ID": "S1"}, **{"Idempotency-Key": "post-1"})
    )
    assert grievance_count() == 1

    replaced = api.put(f"{ONE}/{key}", {"subscriber_ID": "S2"}, **{"Idempotency-Key": "put-1"})
    assert data_of(replaced, 200)["subscriber_ID"] == "S2"
    assert_replayed(
        replaced, api.put(f"{ONE}/{key}", {"subscriber_ID": "S2"}, **{"Idempotency-Key": "put-1"})
    )

    deleted = api.delete(f"{ONE}/{key}", **{"Idempotency-Key": "delete-1"})
    assert data_of(deleted, 200) is None
    assert_replayed(
        deleted, api.delete(f"{ONE}/{key}", **{"Idempotency-Key": "delete-1"})
    )  # 200 again, not 404

    api.put(BATCH, [{"grievance_Key": 7}, {"grievance_Key": 8}])
    gone = api.delete(BATCH, [{"grievance_Key": 7}, {"grievance_Key": 99}], **{"Idempotency-Key": "delete-2"})
    assert [r["status"] for r in data_of(gone, 207)] == [200, 404]
    assert_replayed(
        gone,
        api.delete(BATCH, [{"grievance_Key": 7}, {"grievance_Key": 99}], **{"Idempotency-Key": "delete-2"}),
    )
    assert grievance_count() == 1


def test_an_error_answer_is_kept_too(api):
    first = api.post(ONE, {"grievance_Key": 0, "subscriber_ID": "1234567890"}, **{"Idempotency-Key": "bad-1"})
    problem_of(first, 400)
    assert_replayed(
        first,
        api.post(ONE, {"grievance_Key": 0, "subscriber_ID": "1234567890"}, **{"Idempotency-Key": "bad-1"}),
    )


def test_the_same_key_for_a_different_request_is_422(api):
    assert api.put(BATCH, items(2), **{"Idempotency-Key": "k"}).status_code == 207
    for method, path, body in [
        ("PUT", BATCH, items(3)),
        ("DELETE", BATCH, items(2)),
        ("PUT", f"{BATCH}?x=1", items(2)),
    ]:
        answer = api.request(method, path, body, **{"Idempotency-Key": "k"})
        assert "Idempotency-Key" in problem_of(answer, 422)["detail"]
    assert grievance_count() == 2


def test_keys_are_per_api_key_and_per_database(api):
    assert api.put(BATCH, items(2), **{"Idempotency-Key": "shared"}).status_code == 207
    other_app = ApiKeyFactory(name="other app", databases=["demo", "other"])
    again = api.put(BATCH, items(2), **{"Idempotency-Key": "shared", "x-api-key": other_app.key})
    assert again.status_code == 207 and not again.has_header("Idempotency-Replayed")
    assert grievance_count() == 4
    elsewhere = api.put(BATCH, items(2), database="other", **{"Idempotency-Key": "shared"})
    assert elsewhere.status_code == 207 and not elsewhere.has_header("Idempotency-Replayed")


def test_a_malformed_key_is_400(api):
    problem_of(api.put(BATCH, items(1), **{"Idempotency-Key": "x" * 256}), 400)
    assert grievance_count() == 0


def test_an_expired_key_runs_anew_and_the_purge_deletes_it(api):
    first = api.put(BATCH, items(2), **{"Idempotency-Key": "old"})
    api.put(BATCH, items(1), **{"Idempotency-Key": "fresh"})
    with using_client_database("demo"):
        IdempotentRequest.objects.filter(key="old").update(expires=timezone.now() - timedelta(seconds=1))
    again = api.put(BATCH, items(2), **{"Idempotency-Key": "old"})
    assert again.status_code == 207 and not again.has_header("Idempotency-Replayed")
    assert keys_of(again) != keys_of(first)
    assert grievance_count() == 5
    with using_client_database("demo"):
        IdempotentRequest.objects.filter(key="old").update(expires=timezone.now() - timedelta(seconds=1))
    call_command("purge_idempotency_keys", stdout=io.StringIO())
    with using_client_database("demo"):
        assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["fresh"]


def test_a_died_attempt_is_finished_by_the_retry(api, settings):
    """The first attempt wrote its first chunk (2 of 5 items) and its process died; the retry
    answers those two from its record (their keys included) and writes the other three."""
    settings.VBA_BATCH_CHUNK_ROWS = 2
    batch = items(5)
    body = orjson.dumps(batch)
    with using_client_database("demo"):
        with idempotent_attempt("demo", api.api_key.pk, "died", digest_of("PUT", BATCH, body)) as attempt:
            written = upsert_batch(Grievance, batch[:2], user="tests", journal=attempt)
        # As a dead process leaves it (the lock of a PostgreSQL session goes with the session).
        pid = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        )
        IdempotentRequest.objects.filter(key="died").update(owner=f"{pid.stdout.strip()}:0:dead")
        assert IdempotentChunk.objects.filter(request__key="died").count() == 1
    retry = api.put(BATCH, body, **{"Idempotency-Key": "died"})
    results = data_of(retry, 207)
    assert [r["status"] for r in results] == [201] * 5
    assert keys_of(retry)[:2] == [o.key for o in written]
    assert grievance_count() == 5
    with using_client_database("demo"):
        assert sorted(Grievance.objects.values_list("subscriber_ID", flat=True)) == [
            f"A{i}" for i in range(5)
        ]
        assert IdempotentRequest.objects.get(key="died").state == State.FINISHED
        assert not IdempotentChunk.objects.exists()
    assert_replayed(retry, api.put(BATCH, body, **{"Idempotency-Key": "died"}))


def send(url, headers, body, method="PUT"):
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_a_retry_while_the_first_attempt_runs_is_409(live_server, api):
    """The first attempt runs in this thread (holding the key as a request does); the retry,
    on the live server's thread, finds it running."""
    body = orjson.dumps(items(2))
    headers = {**api.headers(), "Content-Type": "application/json", "Idempotency-Key": "busy"}
    url = f"{live_server.url}{BATCH}"
    with using_client_database("demo"):
        with idempotent_attempt("demo", api.api_key.pk, "busy", digest_of("PUT", BATCH, body)):
            status, answer_headers, answer = send(url, headers, body)
            assert status == 409, answer
            assert int(answer_headers["Retry-After"]) >= 1
            status, _, answer = send(url, headers, orjson.dumps(items(3)))
            assert status == 422, answer
        assert Grievance.objects.count() == 0
        # The attempt ended without an answer (as after a 5xx): the retry runs the write.
        status, answer_headers, answer = send(url, headers, body)
        assert status == 207, answer
        assert "Idempotency-Replayed" not in answer_headers
        assert Grievance.objects.count() == 2
        status, answer_headers, again = send(url, headers, body)
        assert (status, answer_headers.get("Idempotency-Replayed"), again) == (207, "true", answer)


def test_the_owner_of_a_running_attempt_is_this_process():
    pid, start = _this_process()
    assert pid == os.getpid() and start
