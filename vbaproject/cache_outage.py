"""Degrade, don't fail: use the shared cache (Redis) while it answers, a local stand-in while not.

The throttle counters (``vbaproject.accounts.throttling``) and any other per-request use of the
cache live in the default cache, Redis in production (``VBA_CACHE_URL``). When Redis is down,
every call to it raises (``redis.ConnectionError``, a timeout, ``MISCONF``/``OOM`` answers), and
a request that lets that escape answers 500: one shared component would take every API call
down with it. Code on the request path therefore calls the cache through ``shared_cache``:

    from vbaproject.cache_outage import shared_cache

    count = shared_cache(lambda cache: cache.incr(key))

``operation(cache)`` runs against the default cache; when the cache fails, or failed less than
``RETRY_SECONDS`` ago, ``fallback(local)`` (by default ``operation`` itself) runs instead against
``local_cache()``, a local-memory cache of this process (``LocMemCache``: atomic ``add``/``incr``
under its lock). Limits kept there are per process: with N processes a limit admits up to N
times as much while Redis is down, which is the price of answering at all.

Why a circuit breaker rather than trying Redis on every request: a Redis that is unreachable
(rather than refusing connections) costs a connect timeout per call; a breaker pays it once per
``RETRY_SECONDS`` per process. After that interval one request tries Redis again (the others
keep using the local cache until it has answered), and the first success closes the breaker.
The settings give the Redis client short socket timeouts (``VBA_CACHE_TIMEOUT``) for the same
reason. A warning is logged once when an outage begins and an info line when it ends, not once
per request.

``CACHE_ERRORS`` are the errors that mean "the cache is unavailable": any ``redis.RedisError``
(a down, read-only, out-of-memory or loading server), ``OSError`` and ``sqlite3.Error`` (the
``make run`` cache, ``vbaproject.sqlite_cache``). Programming errors (``ValueError`` from
``incr`` on a missing key, ``TypeError``) pass through unchanged.
"""

import logging
import sqlite3
import threading
import time

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed

try:
    from redis import RedisError
except ImportError:  # pragma: no cover - redis is a dependency; kept optional here

    class RedisError(Exception):
        pass


logger = logging.getLogger(__name__)

CACHE_ERRORS = (RedisError, OSError, sqlite3.Error)
RETRY_SECONDS = 5.0  # how long an outage is assumed to last before one request tries again

_local = LocMemCache("vba-cache-outage-fallback", {"TIMEOUT": 300, "OPTIONS": {"MAX_ENTRIES": 100_000}})


def local_cache():
    """This process's stand-in cache (the same object in every thread)."""
    return _local


class _Breaker:
    """Whether the shared cache is believed up; one per cache alias and process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.down_since = None  # time.monotonic() of the first failure of this outage
        self.retry_at = 0.0  # when the next attempt is allowed while down
        self.probing = False  # one request is trying the cache again

    def may_try(self):
        if self.down_since is None:
            return True
        with self.lock:
            if self.down_since is None:
                return True
            if self.probing or time.monotonic() < self.retry_at:
                return False
            self.probing = True  # this request probes; the others keep to the fallback
            return True

    def failed(self, alias, exc):
        with self.lock:
            self.probing = False
            self.retry_at = time.monotonic() + RETRY_SECONDS
            if self.down_since is None:
                self.down_since = time.monotonic()
                logger.warning(
                    "cache %r is unavailable (%s: %s): using a per-process cache; retrying every %g s",
                    alias,
                    type(exc).__name__,
                    exc,
                    RETRY_SECONDS,
                )

    def succeeded(self, alias):
        if self.down_since is None:
            return
        with self.lock:
            self.probing = False
            if self.down_since is None:
                return
            logger.info("cache %r is available again after %.1f s", alias, time.monotonic() - self.down_since)
            self.down_since = None


_breakers = {}
_breakers_lock = threading.Lock()


def _breaker(alias):
    breaker = _breakers.get(alias)
    if breaker is None:
        with _breakers_lock:
            breaker = _breakers.setdefault(alias, _Breaker())
    return breaker


def is_down(alias="default"):
    """Whether the cache ``alias`` is in an outage as this process sees it."""
    return _breaker(alias).down_since is not None


def reset(**kwargs):
    """Forget every outage (the cache settings changed: another cache, another state)."""
    with _breakers_lock:
        _breakers.clear()
    _local.clear()


def _on_setting_changed(setting, **kwargs):
    if setting == "CACHES":
        reset()


setting_changed.connect(_on_setting_changed)


def shared_cache(operation, fallback=None, alias="default"):
    """``operation(cache)`` on the cache ``alias``; ``fallback(local_cache())`` while it is down
    (``operation`` itself when no ``fallback`` is given: the same algorithm, counted per process)."""
    breaker = _breaker(alias)
    if breaker.may_try():
        try:
            result = operation(caches[alias])
        except CACHE_ERRORS as exc:
            breaker.failed(alias, exc)
        except Exception:
            breaker.succeeded(alias)  # the cache answered (a ValueError from incr, say)
            raise
        else:
            breaker.succeeded(alias)
            return result
    return (fallback or operation)(_local)


def check(alias="default"):
    """Whether the cache ``alias`` answers now (a read of a key nobody writes); for /readyz.

    It does not go through the breaker's interval (a readiness check asks *now*), but it reports
    to it: a success ends an outage, a failure begins one.
    """
    breaker = _breaker(alias)
    try:
        caches[alias].get("vba-readyz-probe")
    except CACHE_ERRORS as exc:
        breaker.failed(alias, exc)
        return False
    breaker.succeeded(alias)
    return True
