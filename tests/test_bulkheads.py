"""Bulkheads (vbaproject/db/bulkheads.py): a cap on concurrent requests per client database.

In process: the slot is given back on every path (success, 4xx, a database that cannot be
reached), and a request over the cap is a 503 with Retry-After at once. Under gunicorn
(PostgreSQL, 1 worker x 4 threads, a cap of 2 on ``demo``): with a ``demo`` table locked, two
``demo`` writes wait on the lock, two more are refused at once, and a request for ``other``
still gets one of the free threads.
"""

import dataclasses
import threading
import time
import warnings

import orjson
import psycopg
import pytest
import requests
from django.db import connections

from grievances.models import Grievance
from tests.support.answers import problem_of
from tests.support.entities import batch_url
from tests.support.gunicorn import postgres_test_env, running_gunicorn
from vbaproject.db import bulkheads
from vbaproject.spec.sample_data import sample_item

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

BATCH = batch_url(Grievance)
LIST = BATCH.replace("-batch", "")


def cap(settings, alias, max_requests):
    """Set ``max_requests`` of the client database ``alias`` (its other limits unchanged)."""
    entry = settings.DATABASES[alias]
    with warnings.catch_warnings():  # "Overriding setting DATABASES": deliberate here
        warnings.simplefilter("ignore", UserWarning)
        settings.DATABASES = {
            **settings.DATABASES,
            alias: {**entry, "LIMITS": dataclasses.replace(entry["LIMITS"], max_requests=max_requests)},
        }


def test_over_the_cap_is_503_with_retry_after_at_once(api, settings):
    cap(settings, "demo", 1)
    held = bulkheads.enter("demo")  # the one slot, taken as a request in flight would
    try:
        started = time.monotonic()
        response = api.get(LIST)
        assert time.monotonic() - started < 5  # refused at once, not queued
        error = problem_of(response, 503)
        assert response["Retry-After"] == str(bulkheads.RETRY_AFTER_SECONDS)
        assert "client database demo is at capacity" in error["detail"]
        assert api.get(LIST, database="other").status_code == 200  # other databases: no cap
    finally:
        held.leave()
    assert api.get(LIST).status_code == 200


def test_every_answer_gives_its_slot_back(api, settings, offline_database):
    """A cap of 1: a slot kept by any answer would make the next request a 503."""
    cap(settings, "demo", 1)
    cap(settings, offline_database, 1)
    api.allow_database(offline_database)
    answers = [
        api.get(LIST).status_code,  # 200
        api.put(BATCH, [sample_item(Grievance)]).status_code,  # 207, a write
        api.get(f"{LIST}/999999").status_code,  # 404
        api.put(BATCH, {"not": "an array"}).status_code,  # 400
        api.get(f"{LIST}?pageSize=x").status_code,  # 400 from a list parameter
    ]
    assert answers == [200, 207, 404, 400, 400]
    assert bulkheads.in_use("demo") == 0
    # A database that cannot be reached: 503 (Retry-After 5, from the connection error), twice.
    for _ in range(2):
        response = api.get(LIST, database=offline_database)
        assert response.status_code == 503
        assert "at capacity" not in problem_of(response, 503)["detail"]
    assert bulkheads.in_use(offline_database) == 0
    assert api.get(LIST).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_a_locked_database_holds_at_most_its_cap_of_threads(api):
    """1 worker x 4 threads, a cap of 2 on demo; a demo table locked by the test for a few seconds."""
    env = postgres_test_env(demo={"max_requests": 2, "lock_timeout": 60})
    headers = {**api.headers(), "Content-Type": "application/json"}
    table = Grievance._meta.db_table
    demo = connections["demo"].settings_dict
    with running_gunicorn(env, workers=1, worker_class="gthread", threads=4) as server:
        assert requests.get(f"{server.url}{LIST}", headers=headers, timeout=30).status_code == 200
        locker = psycopg.connect(
            host=demo["HOST"], port=demo["PORT"] or 5432, user=demo["USER"], dbname=demo["NAME"]
        )
        answers, finished = [], {}
        lock = threading.Lock()

        def write(n):
            body = orjson.dumps([sample_item(Grievance, subscriber_ID=f"BULK{n}")])
            try:
                response = requests.put(f"{server.url}{BATCH}", data=body, headers=headers, timeout=120)
                result = (response.status_code, response.headers.get("Retry-After"), response.text)
            except requests.RequestException as exc:  # reported, not raised in the thread
                result = (None, None, repr(exc))
            with lock:
                answers.append(result)
                finished[n] = time.monotonic()

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        try:
            locker.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')  # held until rollback
            locked_at = time.monotonic()
            for thread in threads:
                thread.start()
            # Two writes take demo's two slots and wait on the lock; the other two are refused.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with lock:
                    refused = [a for a in answers if a[0] == 503]
                waiting = locker.execute(
                    "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted", [table]
                ).fetchone()[0]
                if len(refused) == 2 and waiting == 2:
                    break
                time.sleep(0.05)
            with lock:
                assert sorted(a[0] for a in answers) == [503, 503], answers
                assert all(a[1] == "1" and "at capacity" in a[2] for a in answers), answers
            assert waiting == 2
            # A free thread serves the other database meanwhile.
            started = time.monotonic()
            other = requests.get(
                f"{server.url}{LIST}", headers={**headers, "vbasoftware-database": "other"}, timeout=30
            )
            assert other.status_code == 200
            assert time.monotonic() - started < 5
        finally:
            locker.rollback()  # the lock goes: the two waiting writes go through
            locker.close()
            for thread in threads:
                thread.join(timeout=60)
        assert time.monotonic() - locked_at < 60
        # The two that waited: written once the lock went (or, on a machine so slow that the lock
        # outlived the statement timeout, cut by it: a 503 of their own, not the bulkhead's).
        waited = [a for a in answers if "at capacity" not in a[2]]
        assert len(waited) == 2 and all(a[0] in (207, 503) for a in waited), answers
        # Their slots came back: two concurrent writes again both get in.
        again = [threading.Thread(target=write, args=(n,)) for n in (10, 11)]
        answers.clear()
        for thread in again:
            thread.start()
        for thread in again:
            thread.join(timeout=60)
        assert sorted(a[0] for a in answers) == [207, 207], answers
