"""How long a client database may make a request wait, and how many requests it may serve at once.

A request must never outlive the server's own patience: gunicorn kills a worker that does not
answer within its timeout, mid-write, and answers with its own HTML 500. So the database cuts
first and the engine answers (README, *When a call fails*):

- ``statement_timeout`` and ``lock_timeout`` (seconds; 0 = off) are set on every new PostgreSQL
  session of that client database (``connection_created``), as ``SET`` rather than the
  ``-c`` startup options PgBouncer rejects; they are lifted while the database is migrated
  (``pre_migrate`` to ``post_migrate``), so a long migration is not cut.
  On SQLite ``lock_timeout`` is how long a writer waits for the write lock.
- ``VBA_REQUEST_TIMEOUT``: a request-wide deadline, started by ``RequestDeadlineMiddleware``.
  Every write transaction gets ``statement_timeout`` = the smaller of the database's and the
  time left (``transaction_timeout_ms``); a write that would start past it is not started.
- ``max_requests``: at most this many requests at once per client database (0 = no cap); the
  bulkhead that enforces it lives with the API.

The values come from ``VBA_DATABASES`` (an object ``{"url": ..., "statement_timeout": 20}``)
or the defaults below, and are kept as ``settings.DATABASES[alias]["LIMITS"]``.
"""

import contextvars
import os
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connections


def _env_seconds(name, default):
    return float(os.environ.get(name, default))


@dataclass(frozen=True, slots=True)
class Limits:
    statement_timeout: float = 20.0  # seconds; 0 = off
    lock_timeout: float = 5.0  # seconds; 0 = off
    max_requests: int = 0  # concurrent requests; 0 = no cap

    @classmethod
    def from_env(cls):
        return cls(
            statement_timeout=_env_seconds("VBA_STATEMENT_TIMEOUT", 20),
            lock_timeout=_env_seconds("VBA_LOCK_TIMEOUT", 5),
            max_requests=int(os.environ.get("VBA_DATABASE_MAX_REQUESTS", 0)),
        )


NO_LIMITS = Limits(statement_timeout=0, lock_timeout=0, max_requests=0)


def limits_of(alias):
    """The ``Limits`` of the database ``alias`` (none for the control database)."""
    return settings.DATABASES.get(alias, {}).get("LIMITS", NO_LIMITS)


def _ms(seconds):
    return max(1, int(seconds * 1000)) if seconds else 0


def session_settings_sql(limits):
    """The ``SET`` statement a new PostgreSQL session of a database with ``limits`` starts with."""
    return (
        f"SET statement_timeout = {_ms(limits.statement_timeout)}; "
        f"SET lock_timeout = {_ms(limits.lock_timeout)}"
    )


_lifted = set()  # aliases being migrated: their new sessions start without the timeouts


def apply_session_limits(sender, connection, **kwargs):
    """``connection_created``: set the database's timeouts on a new PostgreSQL session."""
    if connection.vendor != "postgresql" or connection.alias in _lifted:
        return
    limits = connection.settings_dict.get("LIMITS", NO_LIMITS)
    if limits.statement_timeout or limits.lock_timeout:
        with connection.connection.cursor() as cursor:
            cursor.execute(session_settings_sql(limits))


def _set_on(alias, sql):
    connection = connections[alias]
    if connection.vendor == "postgresql" and connection.connection is not None:
        with connection.connection.cursor() as cursor:
            cursor.execute(sql)


def lift_limits(sender, using, **kwargs):
    """``pre_migrate``: no timeouts while migrating ``using`` (a long migration is not cut)."""
    if using not in _lifted:
        _lifted.add(using)
        _set_on(using, "SET statement_timeout = 0; SET lock_timeout = 0")


def restore_limits(sender, using, **kwargs):
    """``post_migrate``: the database's timeouts again."""
    if using in _lifted:
        _lifted.discard(using)
        _set_on(using, session_settings_sql(limits_of(using)))


# The request deadline ---------------------------------------------------------------------------

_deadline = contextvars.ContextVar("vba_request_deadline", default=None)


class DeadlinePassed(Exception):
    """The request's deadline (``VBA_REQUEST_TIMEOUT``) has passed: start no more writes."""


def request_timeout():
    return float(getattr(settings, "VBA_REQUEST_TIMEOUT", 0) or 0)


class RequestDeadlineMiddleware:
    """Start the request's deadline (``VBA_REQUEST_TIMEOUT`` seconds) when it arrives."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        seconds = request_timeout()
        token = _deadline.set(time.monotonic() + seconds if seconds else None)
        try:
            return self.get_response(request)
        finally:
            _deadline.reset(token)


def time_left():
    """Seconds left before the request's deadline; ``None`` outside a request or without one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def transaction_timeout_ms(alias):
    """The ``statement_timeout`` (ms) of a write transaction now, or ``None`` to keep the session's.

    Raises ``DeadlinePassed`` when the request's time is up.
    """
    left = time_left()
    if left is None:
        return None
    if left <= 0.05:
        raise DeadlinePassed(
            f"the request's deadline (VBA_REQUEST_TIMEOUT={request_timeout():g}s) has passed"
        )
    database = limits_of(alias).statement_timeout
    return _ms(min(left, database) if database else left)
