"""Measures what a batch request costs in memory, in a process of its own (tests/test_memory.py).

A test process has measured many things before; a fresh one, with ``gc`` switched off where a
reference cycle is what is looked for, says what one request allocates and keeps. The request
goes through Django's whole WSGI stack (middleware, authentication, DRF, the engine) with the
body as a stream, as a server hands it over; the body's own bytes exist before the request
starts and are not counted.

    python -m tests.support.memory_probe WORKDIR SCENARIO...

prints one JSON object: per scenario, the body's size, the status, the Python heap's peak
growth during the request (``tracemalloc``), what is still allocated after it, and the
process's peak RSS growth (``VmHWM``, reset before the request).
"""

import gc
import io
import json
import os
import random
import sys
import tracemalloc
from pathlib import Path

PASSWORD = "a-memory-probe-password-1"


def setup(workdir):
    os.environ.update(
        DJANGO_SETTINGS_MODULE="vbaproject.settings",
        DJANGO_SECRET_KEY="memory-probe-only",
        DATABASE_URL=f"sqlite:///{workdir / 'control.sqlite3'}",
        VBA_DATABASES=json.dumps({"demo": f"sqlite:///{workdir / 'demo.sqlite3'}"}),
        VBA_THROTTLE_RATE="10000",
        VBA_THROTTLE_BURST="10000",
        VBA_LOG_LEVEL="ERROR",
        VBA_REQUEST_TIMEOUT="600",  # tracemalloc slows the request down
        PYTHONWARNINGS="ignore",
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate_all", verbosity=0)


def credentials():
    import base64

    from django.contrib.auth import get_user_model

    from vbaproject.accounts.services import api_key_create, user_set_databases

    _, key = api_key_create("memory-probe", ["demo"])
    user = get_user_model().objects.create_user("prober", password=PASSWORD)
    user_set_databases(user, ["demo"])
    basic = base64.b64encode(f"prober:{PASSWORD}".encode()).decode()
    headers = {"x-api-key": key, "Authorization": f"Basic {basic}", "vbasoftware-database": "demo"}
    status, body = call("POST", "/vbasoftware/user-authentication", b"", headers)
    assert status == 200, body
    token = json.loads(body)["data"]["authenticationResult"]["idToken"]
    return {"x-api-key": key, "Authorization": f"Bearer {token}", "vbasoftware-database": "demo"}


_handler = []


def call(method, path, body, headers, query=""):
    """One request through Django's WSGI handler (one, as a server has); (status, body). The body
    is read as a stream."""
    from django.core.handlers.wsgi import WSGIHandler

    if not _handler:
        _handler.append(WSGIHandler())
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "HTTP_HOST": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),  # shares the bytes: no copy until written to
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])

    response = _handler[0](environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()
    return answer["status"], content


def full_auths(count, seed=1, prefix="M"):
    """``count`` Auths with every field filled, as ``make bench`` sends them."""
    from auths.models import Auth
    from vbaproject.spec.sample_data import sample_item

    rng = random.Random(seed)
    return [sample_item(Auth, rng, fill=1.0, auth_Number=f"{prefix}{i:07d}") for i in range(count)]


def bodies(scenario):
    import orjson
    from django.conf import settings

    if scenario == "flood":  # 20,000,000 empty objects: a 413 long before the end
        return b"[" + b"{}," * 19_999_999 + b"{}]"
    if scenario == "auths":
        return orjson.dumps(full_auths(settings.VBA_BATCH_MAX_ITEMS))
    if scenario == "too_many":  # one item too many, found at the end: a 413 after 10,000 items
        return orjson.dumps(full_auths(settings.VBA_BATCH_MAX_ITEMS + 1, 2, "T"))
    raise SystemExit(f"unknown scenario {scenario}")


def rss_peak_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reset_rss_peak():
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def measure(scenario, headers):
    """The request's figures: RSS on a first run, the Python heap (tracemalloc) on a second."""
    body = bodies(scenario)
    path = "/vbasoftware/auths"
    gc.collect()
    rss_ok = reset_rss_peak()
    rss_before = rss_peak_kb()
    status, answer = call("PUT", path, body, headers)
    rss_growth = (rss_peak_kb() - rss_before) * 1024 if rss_ok else None
    del answer
    gc.collect()
    gc.disable()  # anything kept in a reference cycle stays, as it would between collections
    try:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        again, answer = call("PUT", path, body, headers)
        peak = tracemalloc.get_traced_memory()[1]
        del answer
        kept = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    finally:
        gc.enable()
    return {
        "body": len(body),
        "status": [status, again],
        "peak": peak - before,
        "kept": kept - before,
        "rss_peak": rss_growth,
    }


def main():
    workdir = Path(sys.argv[1])
    setup(workdir)
    headers = credentials()
    call("PUT", "/vbasoftware/auths", json.dumps(full_auths(5, 9, "W")).encode(), headers)  # warm-up
    results = {scenario: measure(scenario, headers) for scenario in sys.argv[2:]}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
