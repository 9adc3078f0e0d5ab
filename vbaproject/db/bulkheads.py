"""Bulkheads: at most ``max_requests`` API requests at once per client database, per process.

A client database that stalls (a lock held, a slow query, a server that stopped answering) holds
every request sent to it until its statement or lock timeout (``vbaproject.db.limits``) cuts it.
Without a cap, one tenant's burst of requests would occupy every thread of every worker, and the
other tenants would get no answer at all. With a cap, a stalled database can hold at most
``max_requests`` threads of a process; the next request for it is refused at once with ``503``
and ``Retry-After`` ("client database X is at capacity"), and the remaining threads serve the
other databases. Set the cap below the threads of a worker (``GUNICORN_THREADS``): with 4
threads, a cap of 3 always leaves one thread for the others.

The cap comes from the database's ``LIMITS.max_requests`` (``VBA_DATABASES``' ``max_requests``,
default ``VBA_DATABASE_MAX_REQUESTS``; 0 = no cap).

Per process, not global: each process counts its own requests with a ``threading`` semaphore,
so with N processes (gunicorn workers x instances) a database may serve up to
N x ``max_requests`` requests at once. That is what protects a process's threads, which is the
point; a global count in Redis would also bound the database's own load, but a crashed process
would leave its slots taken until they expired, a Redis outage would need a fallback, and every
request would pay a round trip. The database's total is bounded by its connection pool
(PgBouncer's ``pool_size``) instead.

``VbaViewSet.initial`` takes a slot (``enter``) once the client database is known and the caller
allowed; ``finalize_response`` gives it back (``leave``), and ``dispatch`` gives it back too when
an exception escapes, so no path keeps a slot: a slot kept is a thread refused forever.
"""

import threading

from django.conf import settings

RETRY_AFTER_SECONDS = 1


class AtCapacity(Exception):
    """The client database already serves ``max_requests`` requests in this process."""

    def __init__(self, alias, cap):
        super().__init__(alias, cap)
        self.alias, self.cap = alias, cap


def max_requests(alias):
    """The database's cap (0 = none): ``settings.DATABASES[alias]["LIMITS"].max_requests``."""
    limits = settings.DATABASES.get(alias, {}).get("LIMITS")
    value = limits.get("max_requests") if isinstance(limits, dict) else getattr(limits, "max_requests", 0)
    return int(value or 0)


_semaphores = {}  # alias -> (cap, BoundedSemaphore)
_lock = threading.Lock()


def _semaphore(alias, cap):
    entry = _semaphores.get(alias)
    if entry is None or entry[0] != cap:
        with _lock:
            entry = _semaphores.get(alias)
            if entry is None or entry[0] != cap:  # a changed cap (settings) starts a new count
                entry = (cap, threading.BoundedSemaphore(cap))
                _semaphores[alias] = entry
    return entry[1]


class Slot:
    """A slot taken in a database's bulkhead; ``leave`` gives it back (only once)."""

    __slots__ = ("_semaphore", "alias")

    def __init__(self, alias, semaphore):
        self.alias, self._semaphore = alias, semaphore

    def leave(self):
        semaphore, self._semaphore = self._semaphore, None
        if semaphore is not None:
            semaphore.release()


def enter(alias):
    """Take a slot of ``alias``'s bulkhead at once, or raise ``AtCapacity``; ``None`` when uncapped."""
    cap = max_requests(alias)
    if cap <= 0:
        return None
    semaphore = _semaphore(alias, cap)
    if not semaphore.acquire(blocking=False):
        raise AtCapacity(alias, cap)
    return Slot(alias, semaphore)


def in_use(alias):
    """How many slots of ``alias`` are taken in this process now (for tests and diagnostics)."""
    entry = _semaphores.get(alias)
    if entry is None:
        return 0
    cap, semaphore = entry
    return cap - semaphore._value
