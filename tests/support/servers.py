"""Real parts for the degrade-and-bulkhead tests, beside gunicorn (``tests.support.gunicorn``).

- ``RedisServer()``: a private ``redis-server`` on a free loopback port, without persistence;
  ``stop()`` and ``start()`` make a real outage and a real recovery (same port). The system's
  Redis (6379) is never touched.
- ``site_env(directory)``: a fresh SQLite site (control + ``demo`` + ``other``) migrated in
  ``directory``, with an API key and user; for servers in the SQLite pass, whose test databases
  live in memory and cannot be shared with another process. ``log_in`` gets a user's ID token.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.gunicorn import stop_process

ROOT = Path(__file__).resolve().parent.parent.parent
SITE_USER, SITE_PASSWORD = "site-user", "a-site-password-7"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A private redis-server on loopback; ``stop()``/``start()`` for a real outage."""

    def __init__(self):
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode} (port {self.port})")
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 30 s")

    def ping(self):
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=2)

    def stop(self):
        if self.process is not None:
            stop_process(self.process, timeout=15)
            self.process = None


def cache_settings(url, prefix):
    """A ``CACHES`` value for a Redis at ``url``, as the settings make it (short timeouts)."""
    from vbaproject.settings import cache_config

    caches = cache_config(url)
    caches["default"]["KEY_PREFIX"] = prefix
    return caches


def _manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **env},
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


def site_env(directory):
    """Migrate a fresh SQLite site in ``directory``; (env, API key) with an API user (SITE_USER)."""
    directory = Path(directory)
    env = {
        "DATABASE_URL": f"sqlite:///{directory / 'control.sqlite3'}",
        "VBA_DATABASES": json.dumps(
            {
                "demo": f"sqlite:///{directory / 'demo.sqlite3'}",
                "other": f"sqlite:///{directory / 'other.sqlite3'}",
            }
        ),
    }
    _manage(env, "migrate_all", "-v0")
    key = _manage(env, "create_api_key", "site", "--databases", "demo,other").strip().splitlines()[-1]
    _manage(
        {**env, "VBA_USER_PASSWORD": SITE_PASSWORD}, "create_api_user", SITE_USER, "--databases", "demo,other"
    )
    return env, key


def log_in(base_url, key, username=SITE_USER, password=SITE_PASSWORD):
    """The ID token of a real login at ``base_url``."""
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    answer = requests.post(
        f"{base_url}/vbasoftware/user-authentication",
        headers={"x-api-key": key, "Authorization": f"Basic {basic}", "vbasoftware-database": "demo"},
        timeout=60,
    )
    answer.raise_for_status()
    return answer.json()["data"]["authenticationResult"]["idToken"]
