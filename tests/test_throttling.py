"""Throttling per API key over real HTTP: bursts, the sustained rate, 429 with Retry-After.

The clock is frozen (time-machine), so every count is exact. The counters live in Django's
cache: the local-memory cache here, and Redis (``VBA_TEST_REDIS_URL``, default
``redis://127.0.0.1:6379/0``) in the tests marked so, which skip when Redis is unreachable
except in CI (``CI`` set), where they fail.
"""

import datetime as dt
import logging
import os
import threading
import time
import uuid

import pytest
import time_machine
from django.db import connections
from django.test import Client

from grievances.models import Grievance
from tests.support.answers import problem_of
from tests.support.api import id_token_of
from tests.support.entities import batch_url
from tests.support.factories import ApiKeyFactory, UserFactory

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

BATCH = batch_url(Grievance)
REDIS_URL = os.environ.get("VBA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def frozen():
    """A stopped clock at the current time (so the api fixture's ID token stays valid)."""
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False) as clock:
        yield clock


@pytest.fixture
def vba_rate(settings):
    """Set the throttle: ``vba_rate(rate, burst)``."""

    def configure(rate=25, burst=50):
        settings.VBA_THROTTLE_RATE = rate
        settings.VBA_THROTTLE_BURST = burst

    return configure


def redis_cache(settings):
    """Point the default cache at Redis, under a key prefix of this test's own."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is not reachable, and CI requires the Redis tests: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"vba-test-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request, settings):
    if request.param == "redis":
        redis_cache(settings)
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"vba-test-{uuid.uuid4().hex}",
            }
        }
    return request.param


def statuses(api, count, **kwargs):
    return [api.put(BATCH, [], **kwargs).status_code for _ in range(count)]


def test_a_burst_of_50_then_429_with_retry_after(api, cache_backend, vba_rate, frozen):
    vba_rate()  # VBAPI's numbers: 25/s sustained, bursts to 50 (windows of 50 / 25 = 2 s)
    frozen.move_to(dt.datetime.fromtimestamp(int(time.time()) // 2 * 2 + 2, dt.UTC))  # a window starts
    assert statuses(api, 50) == [207] * 50
    response = api.put(BATCH, [])
    error = problem_of(response, 429)
    assert error["title"] == "Too Many Requests"
    assert error["instance"] == BATCH and "throttled" in error["detail"]
    # The next request fits once 2% of the next window has passed (50 * 0.98 + 1 <= 50): in
    # 2.04 s, which Retry-After rounds up to whole seconds.
    assert response["Retry-After"] == "3"
    frozen.shift(2.03)
    assert api.put(BATCH, []).status_code == 429
    frozen.shift(0.02)
    assert api.put(BATCH, []).status_code == 207


def test_the_sustained_rate_is_25_per_second(api, cache_backend, vba_rate, frozen):
    vba_rate()
    admitted = 0
    # Ask for 50/s for 10 s, in steps of 0.1 s.
    for _ in range(100):
        admitted += statuses(api, 5).count(207)
        frozen.shift(0.1)
    # 25/s, and never more than a token bucket of 25/s and 50 deep would let through.
    assert 25 * 10 - 25 <= admitted <= 50 + 25 * 10


def test_a_burst_comes_back_after_a_quiet_spell(api, vba_rate, frozen):
    vba_rate(rate=5, burst=10)
    assert statuses(api, 11) == [207] * 10 + [429]
    frozen.shift(4)  # two windows of burst/rate = 2 s
    assert statuses(api, 11) == [207] * 10 + [429]


def test_rejected_requests_do_not_use_up_the_allowance(api, vba_rate, frozen):
    vba_rate(rate=5, burst=10)
    assert statuses(api, 10) == [207] * 10
    assert statuses(api, 100) == [429] * 100  # hammering while throttled...
    frozen.shift(4)
    assert statuses(api, 10) == [207] * 10  # ...costs nothing afterwards


def test_each_api_key_has_its_own_allowance(api, vba_rate, frozen):
    vba_rate(rate=5, burst=10)
    assert statuses(api, 11) == [207] * 10 + [429]
    api.credentials["x-api-key"] = ApiKeyFactory(name="second", databases=["demo"]).key
    assert statuses(api, 11) == [207] * 10 + [429]


def test_every_user_of_one_key_shares_its_allowance(api, vba_rate, frozen):
    # The throttle is the application's (the key's), whichever user's token comes with it.
    vba_rate(rate=5, burst=10)
    assert statuses(api, 6) == [207] * 6
    UserFactory(username="clerk", password="clerk-password-5", databases=["demo"])
    login = api.log_in("clerk", "clerk-password-5")  # the login route counts too: 7
    api.credentials["Authorization"] = f"Bearer {id_token_of(login)}"
    assert statuses(api, 4) == [207] * 3 + [429]


def test_login_is_throttled_too(api, vba_rate, frozen):
    vba_rate(rate=5, burst=10)
    answers = [api.log_in(api.username, api.password) for _ in range(11)]
    assert [r.status_code for r in answers] == [200] * 10 + [429]
    assert int(answers[-1]["Retry-After"]) >= 1


def test_wrong_passwords_are_throttled_too(api, vba_rate, frozen):
    """Guessing passwords with a valid key uses up that key's allowance like any request."""
    vba_rate(rate=5, burst=10)
    answers = [api.log_in(api.username, f"guess-{n}") for n in range(11)]
    assert [r.status_code for r in answers] == [401] * 10 + [429]
    assert int(answers[-1]["Retry-After"]) >= 1
    assert api.log_in(api.username, api.password).status_code == 429


def test_requests_without_a_valid_key_are_401_not_429(api, vba_rate, frozen):
    vba_rate(rate=5, burst=10)
    assert statuses(api, 11) == [207] * 10 + [429]
    api.credentials["x-api-key"] = "AbCd1234.wrong"
    assert statuses(api, 3) == [401] * 3


def test_a_rate_of_zero_turns_throttling_off(api, vba_rate, frozen):
    vba_rate(rate=0, burst=1)
    assert statuses(api, 60) == [207] * 60


@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_concurrent_requests_share_exact_counters_in_redis(api, settings, vba_rate, frozen):
    """Four threads, each with its own test client and its own Redis connection (as separate
    server processes would have), send 80 requests at one frozen instant: exactly 50 get in."""
    redis_cache(settings)
    vba_rate()
    headers = api.headers()
    answers = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker():
        client = Client()
        try:
            start.wait()
            codes = [
                client.put(BATCH, b"[]", content_type="application/json", headers=headers).status_code
                for _ in range(20)
            ]
        finally:
            connections.close_all()
        with lock:
            answers.extend(codes)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(answers) == [207] * 50 + [429] * 30


# Redis down: degrade, don't fail -------------------------------------------------------------


@pytest.fixture
def redis_server():
    """A private redis-server (never the system's): stopped and started again by the test."""
    from tests.support.servers import RedisServer

    server = RedisServer()
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
def test_with_redis_down_calls_answer_and_are_throttled_per_process(
    live_server, api, settings, vba_rate, frozen, redis_server, monkeypatch, caplog
):
    """A real outage: the live server's Redis is stopped mid-test, then started again."""
    import requests

    from tests.support.servers import cache_settings
    from vbaproject import cache_outage

    monkeypatch.setattr(cache_outage, "RETRY_SECONDS", 0.5)  # Redis is tried again after 0.5 s
    caplog.set_level(logging.INFO, logger="vbaproject.cache_outage")
    settings.CACHES = cache_settings(redis_server.url, f"vba-test-{uuid.uuid4().hex}")
    vba_rate(rate=5, burst=10)  # windows of 2 s
    frozen.move_to(dt.datetime.fromtimestamp(int(time.time()) // 2 * 2 + 2, dt.UTC))
    url, headers = f"{live_server.url}{BATCH}", {**api.headers(), "Content-Type": "application/json"}

    def burst(count):
        return [requests.put(url, data=b"[]", headers=headers, timeout=60).status_code for _ in range(count)]

    assert burst(11) == [207] * 10 + [429]
    assert redis_server.client().dbsize() > 0  # the counters are in Redis, shared

    redis_server.stop()
    frozen.shift(4)  # a fresh window
    caplog.clear()
    assert burst(12) == [207] * 10 + [429] * 2  # answered, and throttled by this process's count
    warnings = [r for r in caplog.records if r.name == "vbaproject.cache_outage" and r.levelname == "WARNING"]
    assert len(warnings) == 1, "one warning per outage, not one per request"
    assert cache_outage.is_down()

    redis_server.start()  # empty: started without persistence
    time.sleep(0.6)
    frozen.shift(4)
    assert burst(11) == [207] * 10 + [429]
    assert not cache_outage.is_down()
    assert redis_server.client().dbsize() > 0  # shared throttling resumed
    assert any("available again" in r.getMessage() for r in caplog.records)


# make run: its two workers share the counters in a SQLite file ---------------------------------


COUNTER_SCRIPT = """
import sys, time
from pathlib import Path
from vbaproject.sqlite_cache import SQLiteCache

path, go, times = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
cache = SQLiteCache(path, {})
cache.get("warm-up")
while not go.exists():
    time.sleep(0.01)
for _ in range(times):
    cache.add("k", 0, 60)
    print(cache.incr("k"))
"""


def test_the_sqlite_cache_counts_exactly_across_processes(tmp_path):
    """Four processes add and increment one counter at once: every count is handed out once
    (FileBasedCache's read-then-write incr would hand some out twice)."""
    import subprocess
    import sys

    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER_SCRIPT, str(tmp_path / "cache.sqlite3"), str(go), "300"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        time.sleep(1)
        go.touch()
        outputs = [process.communicate(timeout=120)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [process.returncode for process in processes] == [0] * 4
    counts = [int(line) for output in outputs for line in output.split()]
    assert sorted(counts) == list(range(1, 1201))


def test_the_sqlite_cache_keeps_values_and_expiry(tmp_path):
    from vbaproject.sqlite_cache import SQLiteCache

    cache = SQLiteCache(str(tmp_path / "cache.sqlite3"), {})
    assert cache.add("n", 5, 60) and not cache.add("n", 7, 60)
    assert cache.incr("n", 2) == 7 and cache.decr("n") == 6
    cache.set("obj", {"a": [1, 2]}, 60)
    assert cache.get("obj") == {"a": [1, 2]} and cache.get("missing", "dflt") == "dflt"
    cache.set("gone", 1, 0)  # expires at once
    assert not cache.has_key("gone") and cache.add("gone", 2, 60) and cache.get("gone") == 2
    with pytest.raises(ValueError):
        cache.incr("missing")
    with pytest.raises(ValueError):
        cache.incr("obj")
    assert cache.delete("n") and cache.get("n") is None


def test_make_run_two_workers_share_the_throttle(tmp_path):
    """make run's setup (SQLite site, 2 gunicorn workers, VBA_CACHE_URL=sqlite:///...): a burst of
    150 from 8 connections gets the key's allowance once (50), not once per worker (up to 100)."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from tests.support.gunicorn import running_gunicorn
    from tests.support.servers import log_in, site_env

    if connections["default"].vendor != "sqlite":
        pytest.skip("make run serves SQLite: runs in the SQLite pass")
    env, key = site_env(tmp_path / "site")
    env.update(
        VBA_CACHE_URL=f"sqlite:///{tmp_path / 'cache.sqlite3'}",
        # Windows of 50 / 0.5 = 100 s: the burst falls in one window (or straddles two, and
        # then the sliding count still admits about 50).
        VBA_THROTTLE_RATE="0.5",
        VBA_THROTTLE_BURST="50",
    )
    access_log = tmp_path / "access.log"
    env["GUNICORN_CMD_ARGS"] = f"--access-logfile {access_log} --access-logformat '%(p)s %(s)s'"
    with running_gunicorn(env, workers=2, worker_class="gthread", threads=4) as server:
        token = log_in(server.url, key)  # counts 1
        headers = {"x-api-key": key, "Authorization": f"Bearer {token}", "vbasoftware-database": "demo"}
        url = f"{server.url}{BATCH.replace('-batch', '')}"

        def get(_):
            return requests.get(url, headers=headers, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(get, range(150)))
    assert set(answers) <= {200, 429}, answers
    assert 48 <= answers.count(200) <= 51  # 49 after the login; a window edge moves it by 1-2
    workers = {line.split()[0] for line in access_log.read_text().splitlines() if line.strip()}
    assert len(workers) == 2, "both workers served the burst"
