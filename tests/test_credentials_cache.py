"""Cached credentials (``vbaproject.accounts.credentials``) save the control database, and every
way a credential ends still ends it at once: revocation, expiry of the key or of the token, a
password change, deactivation, a withdrawn grant; in one process and across two gunicorn
workers sharing Redis; and during a Redis outage nothing is reused."""

import datetime as dt
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import redis
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grievances.models import Grievance
from tests.support.api import id_token_of
from tests.support.entities import batch_url
from tests.support.gunicorn import postgres_test_env, running_gunicorn
from vbaproject.accounts import credentials
from vbaproject.accounts.services import api_keys_revoke, user_set_databases

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

BATCH = batch_url(Grievance)
REDIS_URL = os.environ.get("VBA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def status(api):
    return api.put(BATCH, []).status_code


def control_queries(api):
    """The statements a ``PUT []`` sends to the control database."""
    with CaptureQueriesContext(connections["default"]) as queries:
        assert status(api) == 207
    return len(queries)


@pytest.fixture(autouse=True)
def one_process(settings):
    """These tests change credentials in the process that serves (the gunicorn test uses Redis)."""
    settings.VBA_CREDENTIALS_CACHE_LOCAL = True


def test_nothing_is_cached_with_a_cache_of_each_process_alone(api, settings):
    settings.VBA_CREDENTIALS_CACHE_LOCAL = False  # another process's change would go unseen
    assert status(api) == 207
    assert control_queries(api) >= 3


@pytest.fixture
def cached(api, settings):
    settings.VBA_CREDENTIALS_CACHE_SECONDS = 60
    credentials.forget_all()
    assert status(api) == 207  # verified in full, and kept
    return api


def test_a_verified_caller_costs_the_control_database_nothing(cached, settings):
    assert control_queries(cached) == 0
    settings.VBA_CREDENTIALS_CACHE_SECONDS = 0  # off: every request verified in full
    assert control_queries(cached) >= 3  # the key, the user, the user's grants


def test_revocation_ends_it_at_once(cached):
    cached.api_key.revoked = True
    cached.api_key.save()
    assert status(cached) == 401


def test_revocation_by_the_command_ends_it_at_once(cached):
    assert api_keys_revoke(cached.api_key.name) == 1  # a queryset update: no signal
    assert status(cached) == 401


def test_password_change_ends_it_at_once(cached):
    cached.user.set_password("another-password-42")
    cached.user.save()
    assert status(cached) == 401


def test_deactivation_ends_it_at_once(cached):
    cached.user.is_active = False
    cached.user.save()
    assert status(cached) == 401


def test_a_withdrawn_grant_ends_it_at_once(cached):
    user_set_databases(cached.user, ["other"])
    assert status(cached) == 403


def test_an_expiring_key_ends_when_it_expires(api, settings):
    settings.VBA_CREDENTIALS_CACHE_SECONDS = 60
    api.api_key.expiry_date = timezone.now() + dt.timedelta(seconds=4)  # room for a slow machine
    api.api_key.save()
    assert status(api) == 207 and control_queries(api) == 0
    time.sleep(max(0.0, (api.api_key.expiry_date - timezone.now()).total_seconds()) + 0.2)
    assert status(api) == 401


def test_an_expiring_token_ends_when_it_expires(api, settings):
    settings.VBA_CREDENTIALS_CACHE_SECONDS = 60
    settings.VBA_TOKEN_LIFETIME_SECONDS = 4  # room for a slow machine
    token = id_token_of(api.log_in(api.username, api.password))
    api.credentials["Authorization"] = f"Bearer {token}"
    assert status(api) == 207 and control_queries(api) == 0
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires + 1 - time.time()))  # exp is whole seconds: past it for sure
    assert status(api) == 401


def test_a_redis_outage_reuses_nothing_and_fails_nothing(cached, settings):
    with socket_closed_port() as port:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/0",
                "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            }
        }
        assert control_queries(cached) >= 3  # verified in full: no 500
        cached.user.is_active = False
        cached.user.save()  # the epoch cannot be changed: nothing was reused anyway
        assert status(cached) == 401


class socket_closed_port:
    """A loopback port nothing listens on (bound, then closed)."""

    def __enter__(self):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def __exit__(self, *exc):
        return False


def redis_or_skip():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is not reachable, and CI requires the Redis tests: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])  # the server must see them
@pytest.mark.parametrize("change", ["revoke", "password", "deactivate"])
def test_a_change_ends_the_credential_in_both_gunicorn_workers(api, settings, change):
    redis_or_skip()
    settings.CACHES = {  # this process changes the epoch the workers read
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    env = {
        **postgres_test_env(),
        "VBA_CACHE_URL": REDIS_URL,
        "VBA_CREDENTIALS_CACHE_SECONDS": "600",
        "VBA_LOG_LEVEL": "WARNING",
    }
    headers = {**api.credentials, "vbasoftware-database": "demo", "x-test-run": uuid.uuid4().hex}
    with running_gunicorn(env, workers=2) as server, ThreadPoolExecutor(4) as pool:

        def answers():
            return list(pool.map(lambda _: server.request("PUT", BATCH, [], headers)[0], range(40)))

        # Four at a time, so that both workers verify and keep the credential.
        assert answers() == [207] * 40
        if change == "revoke":
            api.api_key.revoked = True
            api.api_key.save()
        elif change == "password":
            api.user.set_password("another-password-42")
            api.user.save()
        else:
            api.user.is_active = False
            api.user.save()
        assert answers() == [401] * 40
