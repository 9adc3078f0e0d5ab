"""Throttling per API key over real HTTP: bursts, the sustained rate, 429 with Retry-After.

The clock is frozen (time-machine), so every count is exact. The counters live in Django's
cache: the local-memory cache here, and Redis (``VBA_TEST_REDIS_URL``, default
``redis://127.0.0.1:6379/0``) in the tests marked so, which skip when Redis is unreachable
except in CI (``CI`` set), where they fail.
"""

import datetime as dt
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
