"""Throttling per API key, as VBAPI documents it: 25 requests/s sustained, bursts to 50.

``VBA_THROTTLE_RATE`` (requests per second; ``0`` turns throttling off) and
``VBA_THROTTLE_BURST`` set the two numbers; they are read on every request.

The algorithm is a *sliding window counter*: time is cut into windows of ``burst / rate``
seconds (2 s by default), each with a counter per API key in Django's cache, and a request is
admitted while

    previous_window_count * (1 - fraction_of_current_window_elapsed) + current_window_count <= burst

A fresh key can send ``burst`` requests at once; after that it gets ``burst`` per window, which
is ``rate`` per second sustained. It never admits more than a token bucket of that rate and
depth would (``burst + rate * T`` in any span of T seconds); unlike a token bucket, a full burst
comes back only after up to two quiet windows, and under saturating demand it admits
``rate * T`` give or take a fraction of a window.

Why this rather than a token bucket or GCRA: those need a read-modify-write of one value (the
tokens left, or the theoretical arrival time), which Django's cache API cannot do atomically
across processes — two workers would read the same value and both admit. The window counter
only needs ``cache.add`` (create the counter with its expiry if it is missing) and
``cache.incr``, which are atomic in Redis (``SET NX``, ``INCR``) and in the local-memory cache
(under its lock). Every concurrent request therefore gets a distinct count, and at most
``burst`` of them are admitted per window whatever the number of server processes; a rejected
request gives its count back with ``cache.decr``, so it does not use up the allowance.

The counters live in the default cache: per process with the local-memory cache, shared by
every process and host with Redis (``VBA_CACHE_URL``) or, for ``make run``'s two workers, with
the SQLite cache (``vbaproject.sqlite_cache``). Windows are cut on each process's clock, so
hosts sharing a Redis should keep their clocks in sync (NTP).

When Redis is down the throttle does not fail the request (that was a 500 on every API call):
``vbaproject.cache_outage.shared_cache`` runs the same algorithm on a local-memory cache of the
process, logs one warning per outage and tries Redis again every few seconds. During the outage
each process admits up to ``burst`` per window on its own, so N processes admit up to N times
the limit; when Redis answers again the shared counters take over.
"""

import contextlib
import math
import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from vbaproject.cache_outage import shared_cache

CACHE_PREFIX = "vba-throttle"


def _count_request(cache, key, timeout):
    """Add one to the counter ``key`` (created with ``timeout``) in ``cache``; the new count."""
    for _ in range(3):
        cache.add(key, 0, timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired or evicted between add and incr: create it again
            continue
    return 1


class ApiKeyRateThrottle(BaseThrottle):
    """Sliding-window-counter throttle keyed by the request's API key (``request.auth``)."""

    def __init__(self):
        self._wait = None

    def allow_request(self, request, view):
        return self.allow_key(getattr(request.auth, "prefix", None))

    def allow_key(self, prefix):
        """Count one request of the API key with this prefix; whether it is admitted."""
        rate = float(settings.VBA_THROTTLE_RATE)
        burst = int(settings.VBA_THROTTLE_BURST)
        if rate <= 0 or burst <= 0 or not prefix:
            return True
        now = time.time()

        def admit(cache):
            return self._admit(cache, prefix, rate, burst, now)

        admitted, self._wait = shared_cache(admit)
        return admitted

    def _admit(self, cache, prefix, rate, burst, now):
        """(admitted, seconds to wait) for one request, counted in ``cache``."""
        window = burst / rate
        index, elapsed = divmod(now, window)
        index, fraction = int(index), elapsed / window
        current_key = f"{CACHE_PREFIX}:{prefix}:{index}"
        timeout = math.ceil(2 * window) + 1
        count = _count_request(cache, current_key, timeout)
        previous = cache.get(f"{CACHE_PREFIX}:{prefix}:{index - 1}", 0)
        if previous * (1 - fraction) + count <= burst:
            return True, None
        with contextlib.suppress(ValueError):  # expired meanwhile: nothing to give back
            cache.decr(current_key)
        return False, self._seconds_until_admitted(count - 1, previous, fraction, window, burst)

    @staticmethod
    def _seconds_until_admitted(admitted, previous, fraction, window, burst):
        """How long until one more request fits, if no other request comes in meanwhile."""
        if admitted + 1 <= burst:
            # Room in this window once enough of the previous one has slid out of it.
            needed = 1 - (burst - admitted - 1) / previous
            return max(0.0, needed - fraction) * window
        # This window is full: wait for the next, where this one becomes "previous".
        needed_next = max(0.0, 1 - (burst - 1) / admitted)
        return (1 - fraction + needed_next) * window

    def wait(self):
        """Whole seconds for ``Retry-After`` (at least 1; DRF truncates fractions)."""
        if self._wait is None:
            return None
        return max(1, math.ceil(self._wait))
