"""/healthz and /readyz (vbaproject/health.py) against real outages.

A client database whose server does not answer (a closed port, a missing SQLite directory), a
PostgreSQL database dropped under the server, a Redis server stopped, and a gunicorn whose
control database cannot be reached: each part's state is reported, only the control database
makes /readyz a 503, and no answer names a host, a port or an error.
"""

import time

import psycopg
import pytest
import requests
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tests.support.gunicorn import running_gunicorn
from tests.support.servers import RedisServer, cache_settings, free_port
from vbaproject import health

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])


@pytest.fixture(autouse=True)
def fresh_checks(monkeypatch):
    """Every /readyz checks again (no result reused between the steps of a test)."""
    monkeypatch.setattr(health, "MAX_AGE_SECONDS", 0)
    health._probe.forget()
    yield
    health._probe.forget()
    health._last_states.clear()


@pytest.fixture
def redis_server(settings):
    server = RedisServer()
    try:
        settings.CACHES = cache_settings(server.url, "vba-test-health")
        yield server
    finally:
        server.stop()


def readyz(client):
    started = time.monotonic()
    response = client.get("/readyz")
    return response, time.monotonic() - started


def assert_no_secrets(response):
    text = response.content.decode()
    for leak in ("127.0.0.1", "port", "password", "postgresql://", "sqlite", "/nonexistent", "refused"):
        assert leak not in text.lower(), text


def test_healthz_answers_without_touching_a_database(client):
    captured = [CaptureQueriesContext(connections[alias]) for alias in ("default", "demo", "other")]
    for context in captured:
        context.__enter__()
    try:
        response = client.get("/healthz")
    finally:
        for context in captured:
            context.__exit__(None, None, None)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")
    assert [len(context.captured_queries) for context in captured] == [0, 0, 0]


def test_readyz_is_ok_when_every_part_answers(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    response, _ = readyz(client)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "control": "ok",
        "databases": {"demo": "ok", "other": "ok"},
        "cache": "local",  # the per-process memory cache: nothing to be down
    }


def test_a_client_database_down_is_degraded_not_503(client, offline_database, caplog):
    response, seconds = readyz(client)
    assert response.status_code == 200  # the load balancer keeps the instance: other tenants work
    body = response.json()
    assert body["status"] == "degraded"
    assert body["control"] == "ok"
    assert body["databases"] == {"demo": "ok", "other": "ok", offline_database: "down"}
    assert_no_secrets(response)
    assert seconds < 10
    # The log says why, once per change of state (not on every check).
    readyz(client)
    said = [r.getMessage() for r in caplog.records if "readiness" in r.getMessage()]
    assert len(said) == 1 and "offline is down" in said[0], said


def test_redis_down_is_degraded_and_its_return_is_seen(client, redis_server):
    response, _ = readyz(client)
    assert response.json() == {
        "status": "ok",
        "control": "ok",
        "databases": {"demo": "ok", "other": "ok"},
        "cache": "ok",
    }
    redis_server.stop()
    response, seconds = readyz(client)
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["cache"] == "down"
    assert_no_secrets(response)
    assert seconds < 10
    redis_server.start()
    response, _ = readyz(client)
    assert response.json()["status"] == "ok" and response.json()["cache"] == "ok"


def test_readyz_needs_no_credentials_and_is_not_throttled(client, settings):
    settings.VBA_THROTTLE_RATE, settings.VBA_THROTTLE_BURST = 1, 1
    answers = [client.get(path).status_code for _ in range(5) for path in ("/healthz", "/readyz")]
    assert answers == [200] * 10
    assert client.post("/readyz").status_code == 405


@pytest.mark.postgres
def test_a_dropped_postgresql_database_is_down(client, settings):
    """A client database dropped on a running server: readiness sees it go."""
    import warnings

    from django.db.utils import load_backend

    name = f"vba_readyz_{free_port()}"
    admin = {**connections["demo"].settings_dict}
    with psycopg.connect(
        host=admin["HOST"], port=admin["PORT"] or 5432, user=admin["USER"], dbname="postgres", autocommit=True
    ) as server:
        server.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            gone = {**admin, "NAME": name}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                settings.DATABASES = {**settings.DATABASES, "gone": gone}
            connections["gone"] = load_backend(gone["ENGINE"]).DatabaseWrapper(gone, "gone")
            try:
                response, _ = readyz(client)
                assert response.json()["databases"]["gone"] == "ok"
                server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                response, _ = readyz(client)
                assert response.status_code == 200
                assert response.json()["status"] == "degraded"
                assert response.json()["databases"] == {"demo": "ok", "other": "ok", "gone": "down"}
                assert name not in response.content.decode()
            finally:
                connections["gone"].close()
                del connections["gone"]
        finally:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_server_without_its_control_database_is_live_but_not_ready(tmp_path):
    """gunicorn with every database unreachable: /healthz 200, /readyz 503 (no one can log in)."""
    if connections["default"].vendor == "postgresql":
        closed = free_port()  # nothing listens there
        url = f"postgresql://postgres@127.0.0.1:{closed}/vba_nowhere"
    else:
        url = f"sqlite:///{tmp_path / 'missing' / 'control.sqlite3'}"
    env = {
        "DATABASE_URL": url,
        "VBA_DATABASES": f'{{"demo": "{url.replace("control", "demo")}"}}',
        "VBA_CACHE_URL": "",
    }
    with running_gunicorn(env, workers=1) as server:
        live = requests.get(f"{server.url}/healthz", timeout=30)
        assert live.status_code == 200 and live.json() == {"status": "ok"}
        ready = requests.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json() == {
            "status": "down",
            "control": "down",
            "databases": {"demo": "down"},
            "cache": "local",
        }
        assert_no_secrets(ready)
        assert "readiness: default is down" in server.log()  # the reason is in the log
