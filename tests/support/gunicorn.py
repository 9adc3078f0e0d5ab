"""The project under a real gunicorn, for tests where worker processes matter.

A fault must hit a real server: a worker whose database backend is terminated, a worker that
gunicorn would kill for its timeout, two workers racing for keys. ``running_gunicorn(env)``
starts ``gunicorn vbaproject.wsgi`` (sync workers by default, as gunicorn's own default; its
``--timeout`` is what kills a worker mid-request) on a port it picks itself (``127.0.0.1:0``,
read back from its log, so no other process can take it meanwhile), waits until it answers,
yields a ``GunicornServer`` and stops it in every case.

``postgres_test_env(demo=..., other=...)`` is ``DATABASE_URL`` and ``VBA_DATABASES`` naming this
run's PostgreSQL test databases (a ``transaction=True`` test commits what the server must see,
the ``api`` fixture's key and user included); a client database's entry may carry its limits
(``demo={"lock_timeout": 1}``). Failpoints (``vbaproject.engine.faults``) go in ``env`` too:
``{"VBA_FAILPOINTS": "before_copy:2"}``.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import orjson
import requests

ROOT = Path(__file__).resolve().parent.parent.parent
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


class GunicornServer:
    """A running gunicorn: ``url``, ``log()``, ``worker_timeouts()``, ``request(...)``."""

    def __init__(self, process, log_path, port):
        self.process = process
        self.log_path = log_path
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def log(self):
        return self.log_path.read_text(errors="replace")

    def worker_timeouts(self):
        """How many times gunicorn has killed a worker for its timeout."""
        return self.log().count("WORKER TIMEOUT")

    def request(self, method, path, body=None, headers=None, timeout=120):
        """(status, headers, parsed JSON body or raw text) of one request."""
        data = body if body is None or isinstance(body, bytes) else orjson.dumps(body)
        answer = requests.request(
            method,
            f"{self.url}{path}",
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=timeout,
        )
        try:
            parsed = answer.json()
        except ValueError:
            parsed = answer.text
        return answer.status_code, answer.headers, parsed


def stop_process(process, timeout=20):
    """SIGTERM ``process`` and wait; SIGKILL it if it has not ended within ``timeout`` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


@contextlib.contextmanager
def running_gunicorn(env, workers=2, worker_class="sync", threads=1, timeout=30, start_timeout=90):
    """gunicorn with ``env`` (added to this process's environment); yields a ``GunicornServer``."""
    log_path = Path(tempfile.mkstemp(prefix="vba-test-gunicorn-", suffix=".log")[1])
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "vbaproject.wsgi",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--timeout",
        str(timeout),
        "--graceful-timeout",
        "5",
        "--log-level",
        "info",
    ]
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "VBA_THROTTLE_RATE": "0",  # the tests' own bursts are not what is tested
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=log)
    try:
        server = _wait_until_up(process, log_path, workers, start_timeout)
        yield server
    finally:
        stop_process(process)
        log_path.unlink(missing_ok=True)


def _wait_until_up(process, log_path, workers, timeout):
    deadline = time.monotonic() + timeout
    port = None
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{text}")
        if port is None and (match := LISTENING.search(text)):
            port = int(match.group(1))
        if port is not None and text.count("Booting worker") >= workers:
            try:  # any answer will do: 400, no database header
                requests.get(f"http://127.0.0.1:{port}/vbasoftware/grievances", timeout=10)
                return GunicornServer(process, log_path, port)
            except requests.RequestException:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{log_path.read_text(errors='replace')}")


def database_url(settings_dict):
    """A PostgreSQL URL for a Django ``DATABASES`` entry (the test database's, once created)."""
    user = quote(settings_dict["USER"] or "")
    password = f":{quote(settings_dict['PASSWORD'])}" if settings_dict["PASSWORD"] else ""
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def postgres_test_env(**client_limits):
    """``DATABASE_URL`` and ``VBA_DATABASES`` of this run's PostgreSQL test databases."""
    from django.db import connections

    databases = {}
    for alias in ("demo", "other"):
        url = database_url(connections[alias].settings_dict)
        limits = client_limits.get(alias)
        databases[alias] = {"url": url, **limits} if limits else url
    return {
        "DATABASE_URL": database_url(connections["default"].settings_dict),
        "VBA_DATABASES": json.dumps(databases),
    }
