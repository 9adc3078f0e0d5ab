"""Who is writing, and through what: the context the history triggers record with each change.

The API, the admin and the management commands set it (``writing_as``) for the work they do;
the engine hands it to the database at the start of every write transaction
(``recorded_transaction``): on PostgreSQL as the transaction-local setting ``vba.context``,
which the triggers read with ``current_setting``; on SQLite through the function
``vba_context()``, registered on every connection, which reads it from here. The client
database and the request's activity ID are added when it is handed over, so they are always
those of the write itself. A write made with no context (a raw shell) is still recorded, with
no user: visibly unattributed rather than silently missing.
"""

import contextlib
import contextvars
import functools
import json
from dataclasses import asdict, dataclass

from django.db import connections, transaction

from vbaproject.api.activity import current_activity_id
from vbaproject.db.limits import transaction_timeout_ms

_context = contextvars.ContextVar("vba_write_context", default=None)


@dataclass(frozen=True)
class WriteContext:
    username: str | None = None
    api_key: str | None = None  # the API key's name, for writes through the API
    via: str | None = None  # vbaproject.history.models.Via


def set_write_context(username, via, api_key=None):
    """Record the writes from now on as made by ``username`` through ``via``: a token for
    ``reset_write_context`` (a view's lifetime; ``writing_as`` for a block)."""
    return _context.set(WriteContext(username=username, api_key=api_key, via=via))


def reset_write_context(token):
    _context.reset(token)


@contextlib.contextmanager
def writing_as(username, via, api_key=None):
    """Record the writes inside the block as made by ``username`` through ``via``."""
    token = set_write_context(username, via, api_key)
    try:
        yield
    finally:
        reset_write_context(token)


def context_json(database):
    """The current write context as the triggers read it (JSON)."""
    return _context_json(database, _context.get() or WriteContext(), current_activity_id())


@functools.lru_cache(maxsize=256)
def _context_json(database, context, activity):
    # SQLite's triggers ask for it once per row: built once per request and database.
    return json.dumps(
        {**asdict(context), "database": database, "activity_id": activity if activity != "-" else None}
    )


class WriteTransaction:
    """What ``recorded_transaction`` yields: the transaction's ID on PostgreSQL (``txid``), so
    that a COMMIT whose answer was lost can be asked about on a fresh connection
    (``txid_status``), and the raw connection it runs on (``raw``), to judge whether that
    connection was lost."""

    __slots__ = ("raw", "txid")

    def __init__(self, raw, txid=None):
        self.raw = raw
        self.txid = txid


@contextlib.contextmanager
def recorded_transaction(using):
    """A transaction on the client database ``using`` whose changes the history attributes.

    On PostgreSQL its ``statement_timeout`` is bounded by the request's deadline
    (``vbaproject.db.limits``), set in the same statement as the context: no extra round trip.
    """
    timeout_ms = transaction_timeout_ms(using)  # raises DeadlinePassed: start nothing
    with transaction.atomic(using=using):
        connection = connections[using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if timeout_ms is None:
                    cursor.execute(
                        "SELECT txid_current(), set_config('vba.context', %s, true)", [context_json(using)]
                    )
                else:
                    cursor.execute(
                        "SELECT txid_current(), set_config('vba.context', %s, true), "
                        "set_config('statement_timeout', %s, true)",
                        [context_json(using), str(timeout_ms)],
                    )
                txid = cursor.fetchone()[0]
            yield WriteTransaction(connection.connection, txid)
        else:
            connection.ensure_connection()
            yield WriteTransaction(connection.connection)


def register_sqlite_context(sender, connection, **kwargs):
    """On each new SQLite connection (``connection_created``): the function its triggers read."""
    if connection.vendor == "sqlite":
        alias = connection.alias
        connection.connection.create_function("vba_context", 0, lambda: context_json(alias))
