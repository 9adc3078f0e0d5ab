"""Health endpoints for the load balancer: ``/healthz`` (liveness) and ``/readyz`` (readiness).

- ``GET /healthz``: the process answers. It touches no database and no cache, so a database
  outage never gets a healthy process restarted (restarting would not bring the database back).
  Always ``200 {"status": "ok"}``.
- ``GET /readyz``: whether this instance can serve. It checks the control database, every client
  database (a ``SELECT 1`` on a fresh connection, all at once, at most ``CHECK_SECONDS`` each)
  and the cache (Redis), and answers each part's state, ``"ok"`` or ``"down"`` (the cache
  ``"local"`` when it is the per-process memory cache)::

      {"status": "degraded", "control": "ok", "databases": {"acme": "ok", "globex": "down"}, "cache": "ok"}

Why only the control database makes ``/readyz`` fail (503, ``"status": "down"``): without it no
caller can be authenticated, on any instance, so the load balancer should send traffic
elsewhere. A client database or Redis down is ``200`` with ``"status": "degraded"``. Every
instance sees the same client database, so a 503 for it would make the load balancer pull
*every* instance and take all the other tenants down with the one; instead the API answers that
tenant's requests with a 503 of their own (``vbaproject.api.exceptions``) and the bulkheads
(``vbaproject.db.bulkheads``) keep its stalled requests from holding every thread. Redis down is
likewise survivable: the throttle falls back to per-process counters
(``vbaproject.cache_outage``). Monitoring should alert on ``"degraded"``.

No authentication (the load balancer has no credentials), not throttled (plain Django views,
outside DRF), and exempt from the HTTPS redirect (``SECURE_REDIRECT_EXEMPT``): load balancers
probe over plain HTTP. The answer carries no URL, host or error text (those go to the log, once
per change of state), only the client databases' names; restrict ``/readyz`` to the load
balancer's addresses at the proxy if those names are not to be public. Results are reused for
``MAX_AGE_SECONDS`` and one check runs at a time per process, so a flood of ``/readyz``
requests does not become a flood of database connections.
"""

import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from vbaproject import cache_outage
from vbaproject.db.config import CONTROL_DATABASE

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # how long /readyz waits for the databases' answers
CONNECT_TIMEOUT = 2  # libpq's connect_timeout (its minimum is 2 s); CHECK_SECONDS bounds the wait
MAX_AGE_SECONDS = 1.0  # a result is reused this long
MAX_CHECK_THREADS = 8

OK, DOWN, LOCAL = "ok", "down", "local"


@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    answer = _probe.result()
    return JsonResponse(answer, status=503 if answer["status"] == DOWN else 200)


# The checks -----------------------------------------------------------------------------------


def _ping_postgresql(params):
    import psycopg

    with psycopg.connect(**{"connect_timeout": CONNECT_TIMEOUT, **params}, autocommit=True) as connection:
        connection.execute("SELECT 1")


def _ping_sqlite(name):
    # mode=rw: a missing file (or directory) is down, not silently created.
    uri = name if str(name).startswith("file:") else f"file:{name}?mode=rw"
    connection = sqlite3.connect(uri, uri=True, timeout=CHECK_SECONDS)
    try:
        connection.execute("SELECT 1")
    finally:
        connection.close()


def _ping_other(settings_dict, alias):
    from django.db.utils import load_backend

    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        wrapper.close()


def _ping_for(alias):
    """A function that pings ``alias`` on a fresh connection, built in the request's thread."""
    wrapper = connections[alias]
    if wrapper.vendor == "postgresql":
        params = wrapper.get_connection_params()
        return lambda: _ping_postgresql(params)
    if wrapper.vendor == "sqlite":
        name = wrapper.settings_dict["NAME"]
        return lambda: _ping_sqlite(name)
    settings_dict = {**wrapper.settings_dict}
    return lambda: _ping_other(settings_dict, alias)


def _cache_state():
    if isinstance(caches["default"], LocMemCache):
        return LOCAL
    return OK if cache_outage.check("default") else DOWN


_executor = None
_executor_lock = threading.Lock()


def _pool():
    global _executor
    with _executor_lock:
        if _executor is None:  # made lazily: after gunicorn has forked its workers
            _executor = ThreadPoolExecutor(max_workers=MAX_CHECK_THREADS, thread_name_prefix="vba-readyz")
        return _executor


def check_all():
    """Every part's state: {"status", "control", "databases": {name: state}, "cache"}."""
    aliases = list(settings.DATABASES)
    futures = {}
    errors = {}
    for alias in aliases:
        try:
            futures[alias] = _pool().submit(_ping_for(alias))
        except Exception as exc:  # a configuration the backend cannot even read
            errors[alias] = exc
    cache = _cache_state()  # meanwhile, in this thread (short socket timeouts of its own)
    wait_for(futures.values(), timeout=CHECK_SECONDS)
    states = {}
    for alias in aliases:
        future = futures.get(alias)
        if future is None:
            states[alias] = DOWN
        elif not future.done():
            errors[alias] = TimeoutError(f"no answer within {CHECK_SECONDS:g} s")
            states[alias] = DOWN
        elif future.exception() is not None:
            errors[alias] = future.exception()
            states[alias] = DOWN
        else:
            states[alias] = OK
    _log_changes(states, cache, errors)
    control = states.pop(CONTROL_DATABASE)
    if control == DOWN:
        status = DOWN
    elif cache == DOWN or DOWN in states.values():
        status = "degraded"
    else:
        status = OK
    return {"status": status, "control": control, "databases": states, "cache": cache}


_last_states = {}


def _log_changes(states, cache, errors):
    """Log a part going down (with its error) or coming back, once per change."""
    for part, state in [*states.items(), ("cache", cache)]:
        before = _last_states.get(part, OK)
        if state == DOWN and before != DOWN:
            error = errors.get(part)
            detail = f"{type(error).__name__}: {error}" if error is not None else "no answer"
            logger.warning("readiness: %s is down (%s)", part, detail)
        elif state != DOWN and before == DOWN:
            logger.info("readiness: %s is back", part)
        _last_states[part] = state


class _Probe:
    """One check at a time per process; its result reused for ``MAX_AGE_SECONDS``."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answer = None
        self.at = 0.0

    def result(self):
        with self.lock:
            if self.answer is None or time.monotonic() - self.at >= MAX_AGE_SECONDS:
                self.answer = check_all()
                self.at = time.monotonic()
            return self.answer

    def forget(self):
        with self.lock:
            self.answer = None


_probe = _Probe()
