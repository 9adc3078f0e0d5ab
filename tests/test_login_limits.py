"""Failed-login limits (vbaproject/accounts/login_limits.py): per username and per address, on
the API's login and every admin site's, answered 429 with Retry-After before any password hashing.

"Before any hashing" is measured, not assumed: the tests' password hasher (a real one, Django's
MD5 hasher for speed) counts how often it runs, and a refused login must not move the count.
The counters live in the default cache: the local-memory cache in most tests (its expiry
follows the frozen clock), Redis (``VBA_TEST_REDIS_URL``) where sharing between processes is
the point: concurrent attempts in threads, and two gunicorn instances whose counts add up.
A Redis that does not answer leaves the limits counting per process, with a warning.
"""

import base64
import datetime as dt
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import RequestFactory

from tests.support.answers import problem_of
from tests.support.api import LOGIN_ROUTE, id_token_of
from tests.support.factories import StaffFactory, UserFactory
from vbaproject.accounts import login_limits
from vbaproject.admin.sites import site_name

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

REDIS_URL = os.environ.get("VBA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "the-right-password-1"
WRONG = "a-wrong-guess"


class CountingHasher(MD5PasswordHasher):
    """Django's MD5 hasher, counting every hash it computes (checks and the dummy hash Django
    computes for an unknown username alike)."""

    runs = 0
    lock = threading.Lock()

    def _count(self):
        with CountingHasher.lock:
            CountingHasher.runs += 1

    def encode(self, password, salt):
        self._count()
        return super().encode(password, salt)

    def verify(self, password, encoded):
        self._count()
        return super().verify(password, encoded)


@pytest.fixture
def limits(settings):
    """Small limits and the counting hasher: ``limits(per_user, per_address, window)``."""
    settings.PASSWORD_HASHERS = ["tests.test_login_limits.CountingHasher"]
    settings.VBA_THROTTLE_RATE = 10_000
    settings.VBA_THROTTLE_BURST = 10_000

    def configure(per_user=3, per_address=50, window=900):
        settings.VBA_LOGIN_FAILURES_PER_USER = per_user
        settings.VBA_LOGIN_FAILURES_PER_ADDRESS = per_address
        settings.VBA_LOGIN_FAILURE_WINDOW = window

    configure()
    return configure


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False) as clock:
        yield clock


def hashes():
    return CountingHasher.runs


def redis_cache(settings):
    """The default cache on Redis, under a key prefix of this test's own (skipped without Redis,
    except in CI)."""
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


# --- the API's login ---------------------------------------------------------------------------


@pytest.fixture
def caller(api, limits):
    """The api fixture's key and a user ``carla`` granted demo; ``caller(password, address)``
    posts one login and answers the response."""
    UserFactory(username="carla", password=PASSWORD, databases=["demo"])

    def log_in(password, username="carla", address="127.0.0.1", **headers):
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        return api.client.post(
            LOGIN_ROUTE,
            headers={
                "x-api-key": api.key,
                "Authorization": f"Basic {basic}",
                "vbasoftware-database": "demo",
                **headers,
            },
            REMOTE_ADDR=address,
        )

    return log_in


def statuses(responses):
    return [r.status_code for r in responses]


def test_api_past_the_users_limit_429_with_retry_after_and_no_hashing(caller, frozen):
    assert statuses(caller(WRONG) for _ in range(3)) == [401, 401, 401]
    before = hashes()
    refused = [caller(WRONG) for _ in range(5)] + [caller(PASSWORD)]  # the right one too: locked out
    assert statuses(refused) == [429] * 6
    assert hashes() == before  # not one password was hashed
    error = problem_of(refused[-1], 429)
    assert "Too many failed logins" in error["detail"]
    assert refused[-1]["Retry-After"] == "900"
    # The window runs from the first failure: 100 s later, 800 s are left.
    frozen.shift(100)
    assert caller(PASSWORD)["Retry-After"] == "800"
    frozen.shift(801)
    assert id_token_of(caller(PASSWORD))


def test_api_a_success_clears_the_users_failures(caller, frozen):
    for _ in range(3):
        assert statuses([caller(WRONG), caller(WRONG), caller(PASSWORD)]) == [401, 401, 200]


def test_api_the_limit_is_per_username(caller, frozen):
    UserFactory(username="dora", password=PASSWORD, databases=["demo"])
    assert statuses(caller(WRONG) for _ in range(4)) == [401, 401, 401, 429]
    assert caller(PASSWORD, username="dora").status_code == 200


def test_api_per_address_across_usernames(caller, limits, frozen):
    limits(per_user=100, per_address=4)
    guesses = [caller(WRONG, username=f"guess-{n}") for n in range(4)]
    assert statuses(guesses) == [401] * 4
    before = hashes()
    assert caller(PASSWORD).status_code == 429  # this address is done, whoever it tries
    assert hashes() == before
    assert caller(PASSWORD, address="10.1.2.3").status_code == 200  # another address is not


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(caller, limits, settings, frozen):
    limits(per_user=100, per_address=2)
    # No trusted proxy: the header is the client's own word and changes nothing.
    spoofed = [caller(WRONG, username=f"u{n}", **{"X-Forwarded-For": f"10.0.0.{n}"}) for n in range(3)]
    assert statuses(spoofed) == [401, 401, 429]
    # Behind one proxy (nginx: REMOTE_ADDR is the proxy), the client is the last entry.
    settings.VBA_TRUSTED_PROXY_COUNT = 1
    proxy = "10.9.9.9"
    first = [
        caller(WRONG, username=f"v{n}", address=proxy, **{"X-Forwarded-For": "203.0.113.7"}) for n in range(3)
    ]
    assert statuses(first) == [401, 401, 429]
    # A client prepending addresses of its own is still counted as itself.
    forged = caller(WRONG, username="w", address=proxy, **{"X-Forwarded-For": "1.1.1.1, 203.0.113.7"})
    assert forged.status_code == 429
    other = caller(WRONG, username="w", address=proxy, **{"X-Forwarded-For": "203.0.113.8"})
    assert other.status_code == 401


def test_client_address(settings):
    factory = RequestFactory()

    def address(remote, forwarded=None, proxies=0):
        settings.VBA_TRUSTED_PROXY_COUNT = proxies
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        return login_limits.client_address(factory.get("/", REMOTE_ADDR=remote, **extra))

    assert address("192.0.2.1", "203.0.113.5") == "192.0.2.1"
    assert address("192.0.2.1", "198.51.100.1, 203.0.113.5", proxies=1) == "203.0.113.5"
    assert address("192.0.2.1", "198.51.100.1, 203.0.113.5", proxies=2) == "198.51.100.1"
    assert address("192.0.2.1", "203.0.113.5", proxies=2) == "203.0.113.5"  # fewer hops than proxies
    assert address("192.0.2.1", "", proxies=1) == "192.0.2.1"
    # IPv6 counts per /64: one subscriber's block is one address.
    assert address("2001:db8:1:2:aaaa::1") == address("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address("::ffff:192.0.2.9") == "192.0.2.9"


def test_concurrent_attempts_in_redis_reach_the_hasher_at_most_the_limit(settings, limits):
    """Sixteen threads, each its own Redis connection (as separate server processes have), try
    at one instant: exactly the limit of them are let through to the password check."""
    redis_cache(settings)
    limits(per_user=5, per_address=1000)
    factory = RequestFactory()
    admitted, refused = [], []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def attempt():
        start.wait()
        try:
            login_limits.begin_attempt(factory.post("/", REMOTE_ADDR="192.0.2.44"), "eve")
            outcome = admitted
        except login_limits.LoginLimited:
            outcome = refused
        with lock:
            outcome.append(1)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert (len(admitted), len(refused)) == (5, 11)


def test_with_the_cache_down_the_limits_hold_per_process_and_a_warning_is_logged(
    caller, settings, caplog, frozen
):
    with socket.socket() as sock:  # a port nothing listens on: every cache call fails at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    with caplog.at_level(logging.WARNING):
        answers = [caller(WRONG) for _ in range(4)]
    assert statuses(answers) == [401, 401, 401, 429]
    assert any("unavailable" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


# --- the admin's logins ------------------------------------------------------------------------


@pytest.fixture
def staff(limits):
    return StaffFactory(username="clerk", password=PASSWORD, databases=["demo"])


def admin_login(client, password, path="/admin/login/", username="clerk"):
    return client.post(path, {"username": username, "password": password, "next": "/admin/"})


def test_admin_lockout_the_right_password_is_refused_after_the_limit(client, staff, settings, frozen):
    """The issue's case, with the default limit: after 10 wrong guesses the right password no
    longer works (it used to, after 40), and nothing is hashed, until the window has passed."""
    settings.VBA_LOGIN_FAILURES_PER_USER = 10
    for _ in range(10):
        response = admin_login(client, WRONG)
        assert (
            response.status_code == 200 and "Please enter the correct username" in response.content.decode()
        )
    before = hashes()
    response = admin_login(client, PASSWORD)
    assert response.status_code == 429 and response["Retry-After"] == "900"
    page = response.content.decode()
    assert "Too many failed logins" in page and "15 minutes" in page and "VBA administration" in page
    assert hashes() == before
    assert client.get("/admin/").status_code == 302  # not logged in
    frozen.shift(901)
    assert admin_login(client, PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_every_admin_site_shares_the_users_count(client, staff, frozen):
    demo_login = reverse_login("demo")
    assert demo_login == "/admin/demo/login/"
    assert [admin_login(client, WRONG, path).status_code for path in ["/admin/login/", demo_login] * 2] == [
        200,
        200,
        200,
        429,
    ]
    assert admin_login(client, PASSWORD, demo_login).status_code == 429


def reverse_login(database):
    from django.urls import reverse

    return reverse("admin:login", current_app=site_name(database))


def test_admin_a_success_clears_the_users_failures(client, staff, frozen):
    for _ in range(3):
        assert admin_login(client, WRONG).status_code == 200
        assert admin_login(client, WRONG).status_code == 200
        assert admin_login(client, PASSWORD).status_code == 302
        client.logout()


def test_admin_and_api_count_the_same_user(client, api, staff, frozen):
    """One user, one count: guesses on the admin lock the API login too."""
    for _ in range(3):
        admin_login(client, WRONG)
    assert api.log_in("clerk", PASSWORD).status_code == 429


# --- two server processes share the counts through Redis ---------------------------------------


class Gunicorn:
    """One gunicorn instance (one worker) on a free loopback port, stopped by ``stop``."""

    def __init__(self, env, log_path):
        self.log = open(log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "vbaproject.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        self.port = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and self.port is None:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {Path(log_path).read_text()[-2000:]}")
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", Path(log_path).read_text())
            if found:
                self.port = int(found.group(1))
            else:
                time.sleep(0.2)
        if self.port is None:
            raise RuntimeError("gunicorn did not start listening within 90 s")

    def post(self, path, headers):
        import http.client

        deadline = time.monotonic() + 60
        while True:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                connection.request("POST", path, body=b"", headers=headers)
                response = connection.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            except ConnectionRefusedError:  # its worker is still booting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            finally:
                connection.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def test_two_server_processes_share_the_counts_through_redis(tmp_path, settings):
    """Failures on one gunicorn instance count on the other: both keep their counts in Redis. The
    password hasher here is the production one (Django's default PBKDF2)."""
    redis_cache(settings)  # only to skip or fail without Redis, as the other Redis tests do
    address = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"  # this run's own address
    username = f"limit-{uuid.uuid4().hex[:12]}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "VBA_", "GUNICORN_")) and key != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="vbaproject.settings",
        DJANGO_SECRET_KEY="login-limits-test-" + uuid.uuid4().hex,
        DATABASE_URL=f"sqlite:///{tmp_path / 'control.sqlite3'}",
        VBA_DATABASES=json.dumps({"demo": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}),
        VBA_VAR_DIR=str(tmp_path),
        VBA_CACHE_URL=REDIS_URL,
        VBA_TRUSTED_PROXY_COUNT="1",
        VBA_LOGIN_FAILURES_PER_USER="3",
        VBA_LOGIN_FAILURE_WINDOW="120",
        VBA_LOG_LEVEL="WARNING",
        VBA_USER_PASSWORD=PASSWORD,
        PYTHONWARNINGS="ignore",
    )

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    manage("migrate_all", "-v0")
    manage("create_api_user", username, "--databases", "demo")
    key = manage("create_api_key", "login-limits", "--databases", "demo").strip().splitlines()[-1]

    def headers(password):
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {
            "x-api-key": key,
            "Authorization": f"Basic {basic}",
            "vbasoftware-database": "demo",
            "X-Forwarded-For": address,
        }

    servers = []
    try:
        servers.append(Gunicorn(env, tmp_path / "a.log"))
        servers.append(Gunicorn(env, tmp_path / "b.log"))
        first, second = servers
        assert first.post(LOGIN_ROUTE, headers(PASSWORD))[0] == 200
        assert [first.post(LOGIN_ROUTE, headers(WRONG))[0] for _ in range(2)] == [401, 401]
        assert second.post(LOGIN_ROUTE, headers(WRONG))[0] == 401  # the third failure, elsewhere
        status, answer_headers, _ = first.post(LOGIN_ROUTE, headers(PASSWORD))
        assert status == 429 and 0 < int(answer_headers["Retry-After"]) <= 120
        assert second.post(LOGIN_ROUTE, headers(PASSWORD))[0] == 429
    finally:
        for server in servers:
            server.stop()
