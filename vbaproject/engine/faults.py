"""Failpoints: faults injected at named moments of a batch write, for the fault tests only.

The fault tests (tests/test_faults.py) must cut a write at an exact moment: before the COPY of
the n-th chunk, in the middle of it, before its INSERT, just before its COMMIT. Waiting for rows
to become visible and then killing the backend from outside races the server; the engine
itself knows where it is, so it calls ``failpoint(name, connection, chunk)`` there, and this
module does what ``VBA_FAILPOINTS`` asks at that moment.

``VBA_FAILPOINTS`` is a comma-separated list of ``name:chunk[:seconds]``:

- ``name``: ``before_transaction`` (the connection idle between two transactions),
  ``before_copy``, ``during_copy`` (half of the chunk's rows sent), ``before_insert`` (the
  statement that writes the chunk, or on SQLite its rows), ``before_commit``;
- ``chunk``: the transaction it applies to, counted from 1 within the request (a replayed
  chunk's items count one each), or ``*`` for every one;
- without ``seconds``: the request's PostgreSQL backend is terminated there
  (``pg_terminate_backend`` from a second connection, which waits until it is gone), exactly as
  an operator or a crashed server would end it; the engine finds out on its next use of the
  connection. (PostgreSQL only; on SQLite nothing happens.)
- with ``seconds``: the write sleeps that long there (holding its transaction and locks), to
  run into the request's deadline or to let a test act; when ``VBA_FAILPOINT_SIGNAL`` names a
  directory, a file ``<name>-<chunk>-<backend pid>`` is created in it first, so a test knows
  which backend to act on and when.

Unset (production), ``failpoint`` is a function that returns at once: no cost. Tests in the
same process use ``installed({(name, chunk): action})``, where an action may also be a
callable ``action(connection, chunk)``, run at that moment.
"""

import contextlib
import os
import time
from pathlib import Path


def _parse(raw):
    points = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, chunk, *rest = part.split(":")
        points[name, None if chunk == "*" else int(chunk)] = float(rest[0]) if rest else None
    return points


def _backend_pid(connection):
    raw = connection.connection
    return raw.info.backend_pid if connection.vendor == "postgresql" else os.getpid()


def terminate_backend(connection):
    """End ``connection``'s PostgreSQL backend from a second connection; return once it is gone."""
    pid = _backend_pid(connection)
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.autocommit = True
        other.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
    finally:
        other.close()


def _act(name, connection, chunk, seconds):
    if callable(seconds):
        seconds(connection, chunk)
        return
    if seconds is None:
        if connection.vendor == "postgresql":
            terminate_backend(connection)
        return
    signal_dir = os.environ.get("VBA_FAILPOINT_SIGNAL")
    if signal_dir:
        (Path(signal_dir) / f"{name}-{chunk}-{_backend_pid(connection)}").touch()
    time.sleep(seconds)


def _failpoint_from(points):
    def failpoint(name, connection, chunk):
        seconds = points.get((name, chunk), points.get((name, None), False))
        if seconds is not False:
            _act(name, connection, chunk, seconds)

    return failpoint


def _off(name, connection, chunk):
    pass


_POINTS = _parse(os.environ.get("VBA_FAILPOINTS", ""))
failpoint = _failpoint_from(_POINTS) if _POINTS else _off  # the engine calls faults.failpoint(...)


@contextlib.contextmanager
def installed(points):
    """Failpoints for the block, in this process: ``{(name, chunk or None): action}``."""
    global failpoint
    saved = failpoint
    failpoint = _failpoint_from(points)
    try:
        yield
    finally:
        failpoint = saved
