"""The batch-upsert engine behind every PUT batch route and every single-record write.

The contract is the README's *For API consumers: the batch routes*.

The outcome must equal applying the items one at a time, in order. The engine gets there
without a statement per item:

1. Every item is validated by the entity's compiled validator; invalid items are answered 400
   and take no further part.
2. References to other entities are checked with one query per referenced entity.
3. Valid items are written in fixed-size chunks, each in its own transaction; one statement
   upserts the chunk's rows and reports which it inserted (201) and which it replaced (200).
   A key repeated within a chunk takes one more statement per repeat, never one per item.
4. A chunk the database rejects as a whole is rolled back and replayed one item at a time,
   each in its own transaction, so one bad item never takes its neighbours with it.

When a call fails (README, *When a call fails*): every database error is classified. A lost
connection, a lock or statement timeout, or the request's deadline stops the write: nothing
else is tried (replaying 2,000 items that each wait 5 s on a lock would hold the worker
forever). If nothing was committed yet the whole request fails (``WriteCutShort``: 503 with
``Retry-After``); otherwise the answer is the truth per item: written items as written, the rest
``NOT_WRITTEN`` (503 each). A connection lost during COMMIT is asked about on a fresh connection
(``txid_status``): committed, aborted, or ``UNKNOWN``. A deadlock or serialization failure is
retried a few times; anything else the database refuses is replayed item by item (400 for the
bad item); ``FAILED`` (500) is left for the truly unexpected error on one item.

A retried request (``Idempotency-Key``) passes a ``journal`` (``vbaproject.engine.journal``):
items it has done already are answered from it, not written again, and every write transaction
hands its items' outcomes to it before committing.
"""

import contextvars
import itertools
import logging
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
)
from django.utils import timezone

from vbaproject.api.activity import current_activity_id
from vbaproject.db.limits import DeadlinePassed
from vbaproject.engine import faults
from vbaproject.engine.journal import NO_JOURNAL
from vbaproject.engine.keys import reserve_keys
from vbaproject.engine.outcomes import (
    DatabaseTooSlow,
    DatabaseUnavailable,
    ItemOutcome,
    Outcome,
    WriteCutShort,
)
from vbaproject.engine.writers import writer_for
from vbaproject.history.context import recorded_transaction
from vbaproject.spec.entities import AUDIT_FIELDS, entity_spec
from vbaproject.spec.validation import Invalid, key_as_sent, key_reader, validator_for

logger = logging.getLogger(__name__)

RETRIES = 5
LOOKUP_CHUNK = 5000


@dataclass(slots=True)
class Occurrence:
    index: int  # position in the request
    key: Any  # as sent; None when the server assigns one
    row: tuple  # values in EntitySpec.columns order, the key first


def upsert_batch(model, items, user, now=None, release_items=False, create_only=False, journal=NO_JOURNAL):
    """Apply ``items`` (parsed JSON values) to ``model``'s table; one ``ItemOutcome`` per item.

    With ``release_items`` the engine empties ``items`` as it validates them, so the parsed
    JSON of a large batch is freed while its rows are built rather than after the request.
    With ``create_only`` (POST) an item whose key exists already is not applied: 409.
    Items in ``journal.done`` are validated but answered from the journal, not written again.

    Raises ``WriteCutShort`` when the write was stopped before anything was written; stopped
    later, the items not written are answered ``NOT_WRITTEN`` (or ``UNKNOWN``).
    """
    spec = entity_spec(model)
    validate = validator_for(model)
    fields = spec.columns
    audit_values = spec.audit_values(user, now or timezone.now())
    audit = tuple(audit_values[name] for name in AUDIT_FIELDS)

    results = [None] * len(items)
    done = journal.done

    def validated(start, stop):
        """The valid occurrences among items[start:stop]; the others answered in ``results``."""
        valid = []
        for index in range(start, stop):
            item = items[index]
            if release_items:
                items[index] = None
            key, values, errors = validate(item)
            if errors:
                results[index] = ItemOutcome(
                    index, key_as_sent(item, spec.key), Outcome.INVALID, "; ".join(errors)
                )
            elif done and index in done:
                results[index] = done[index]  # written by an earlier attempt
            else:
                valid.append(Occurrence(index, key, (key, *values, *audit)))
        return valid

    chunk_size = settings.VBA_BATCH_CHUNK_ROWS
    connection = connections[router.db_for_write(model)]
    if len(items) > chunk_size and settings.VBA_BATCH_OVERLAP:
        explicit_keys = _sent_keys(items, spec)
        chunks = _validated_ahead(validated, len(items), chunk_size)
    else:
        valid = validated(0, len(items))
        explicit_keys = frozenset(occ.key for occ in valid if occ.key is not None)
        chunks = iter([valid[start : start + chunk_size] for start in range(0, len(valid), chunk_size)])
    writes = _ChunkWriter(
        connection=connection,
        spec=spec,
        explicit_keys=explicit_keys,
        create_only=create_only,
        results=results,
        journal=journal,
    )
    chunk = ()  # only the chunk being written is kept: the rows of those written are freed
    try:
        for chunk in chunks:
            chunk = _checked_references(connection, spec, fields, chunk, results)
            writes.write(chunk)
    except WriteCutShort as exc:
        if not (writes.committed or done):
            raise
        logger.warning("write cut short after %d committed transaction(s): %s", writes.committed, exc)
        for unwritten in itertools.chain([chunk], chunks):  # every item still validated and answered
            for occ in unwritten:
                if results[occ.index] is None:
                    results[occ.index] = ItemOutcome(occ.index, occ.key or 0, Outcome.NOT_WRITTEN)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # the validating thread, if any, stops
    return results


def _sent_keys(items, spec):
    """The keys the items name, as stored (the invalid items' too: a superset of the valid
    items' keys serves to reserve them and to keep assigned keys off them)."""
    read = key_reader(spec.key)
    keys = set()
    for item in items:
        try:
            key = read(key_as_sent(item, spec.key))
        except Invalid:
            continue
        if key is not None:
            keys.add(key)
    return frozenset(keys)


_END = object()


def _validated_ahead(validated, count, chunk_size):
    """Chunks of valid occurrences, validated by a thread of their own while the caller writes
    the previous chunk: psycopg releases the GIL while the database works, and validation
    (Python) fills that time. The database work stays on the request's thread and connection;
    the thread only validates. Closing the generator stops the thread."""
    ahead = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(value):
        while not stop.is_set():
            try:
                ahead.put(value, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce():
        try:
            pending = []  # chunks of chunk_size valid occurrences, as when validated all at once
            for start in range(0, count, chunk_size):
                if stop.is_set():
                    return
                pending += validated(start, min(start + chunk_size, count))
                if len(pending) >= chunk_size:
                    put(pending[:chunk_size])
                    pending = pending[chunk_size:]
            if pending:
                put(pending)
            put(_END)
        except BaseException as exc:  # handed to the request's thread, raised there
            put(exc)

    thread = threading.Thread(target=contextvars.copy_context().run, args=(produce,), daemon=True)
    thread.start()
    try:
        while (chunk := ahead.get()) is not _END:
            if isinstance(chunk, BaseException):
                raise chunk
            if chunk:
                yield chunk
    finally:
        stop.set()
        thread.join()


def _check_references(spec, fields, valid, results):
    """Answer 400 for items naming a row of another entity that does not exist."""
    for field, target in spec.references:
        position = fields.index(field)
        wanted = {occ.row[position] for occ in valid if occ.row[position] is not None}
        if not wanted:
            continue
        wanted = sorted(wanted)
        found = set()
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            found.update(target._default_manager.filter(pk__in=chunk).values_list("pk", flat=True))
        kept = []
        for occ in valid:
            value = occ.row[position]
            if value is None or value in found:
                kept.append(occ)
            else:
                message = f"{field.name}: there is no {target._meta.verbose_name} {value} in this database"
                results[occ.index] = ItemOutcome(occ.index, occ.key or 0, Outcome.INVALID, message)
        valid = kept
    return valid


def _checked_references(connection, spec, fields, valid, results):
    """``_check_references``, its reads cut short as the writes are: between two chunks a lost
    connection or a timeout must answer the committed items as written, not fail the request."""
    try:
        return _check_references(spec, fields, valid, results)
    except DatabaseError as exc:
        kind = classify(connection, connection.connection, exc)
        if kind is TOO_SLOW:
            raise DatabaseTooSlow(str(exc)) from exc
        if kind is LOST:
            raise DatabaseUnavailable(str(exc)) from exc
        raise


# How a database error is answered (README, *When a call fails*).
RETRY, TOO_SLOW, LOST, REJECTED = "retry", "too slow", "lost", "rejected"
_RETRY_STATES = {"40P01", "40001"}  # deadlock, serialization failure: try again shortly
_TOO_SLOW_STATES = {"55P03", "57014"}  # lock_timeout, statement_timeout (query_canceled)


def _sqlstate(exc):
    return getattr(exc.__cause__, "sqlstate", None) or getattr(exc, "sqlstate", None)


def _lost(connection, raw):
    """Whether the raw connection the transaction ran on is gone (Django may have opened
    another since, which would look usable)."""
    if raw is None:
        return True
    if connection.vendor == "postgresql":
        return raw.closed or raw.broken
    try:
        return connection.connection is not raw or not connection.is_usable()
    except DatabaseError:
        return True


def classify(connection, raw, exc):
    """``RETRY``, ``TOO_SLOW``, ``LOST`` or ``REJECTED`` for a database error of a write."""
    state = _sqlstate(exc) or ""
    if state in _RETRY_STATES:
        return RETRY
    if state in _TOO_SLOW_STATES or "database is locked" in str(exc):
        return TOO_SLOW  # SQLite's lock error comes only after its whole timeout
    if state.startswith(("08", "57P")) or (
        isinstance(exc, OperationalError | InterfaceError) and _lost(connection, raw)
    ):
        return LOST
    return REJECTED


def txid_status(connection, txid):
    """``committed``, ``aborted`` or ``None`` (unknown): the fate of transaction ``txid``,
    asked on a fresh connection, as its own may have died during COMMIT."""
    if txid is None:
        return None
    deadline = time.monotonic() + 2
    try:
        raw = connection.get_new_connection(connection.get_connection_params())
    except Exception:  # no way to ask: unknown
        logger.warning("cannot ask whether transaction %s committed: no connection", txid)
        return None
    try:
        raw.autocommit = True
        while True:
            status = raw.execute("SELECT txid_status(%s)", [txid]).fetchone()[0]
            if status in ("committed", "aborted") or time.monotonic() > deadline:
                return status if status in ("committed", "aborted") else None
            time.sleep(0.05)  # in progress: its backend is still going away
    except Exception:
        logger.warning("cannot ask whether transaction %s committed", txid, exc_info=True)
        return None
    finally:
        raw.close()


class _ChunkWriter:
    """Writes the valid occurrences chunk by chunk, answering each in ``results``.

    ``explicit_keys`` are the keys the whole batch names: they are reserved in the first write
    transaction (``reserve_keys``), and assigned keys avoid them, so that assigning one never
    turns a later item's key into an update of it. ``create_only`` (POST) leaves a taken key
    alone and answers 409. ``committed`` counts the transactions that committed.
    """

    def __init__(self, connection, spec, explicit_keys, create_only, results, journal=NO_JOURNAL):
        self.connection = connection
        self.writer = writer_for(connection, spec)
        self.model = spec.model
        self.noun = spec.model._meta.verbose_name
        self.explicit_keys = explicit_keys
        self.reserved = not explicit_keys
        self.create_only = create_only
        self.results = results
        self.journal = journal
        self.committed = 0
        self.transactions = 0

    def write(self, chunk):
        """Write one chunk in a transaction; replay it item by item if the database rejects it."""
        for attempt in range(RETRIES):
            try:
                outcomes = self._transaction(chunk)
            except _Refused as refused:
                if refused.kind is RETRY and attempt < RETRIES - 1:
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                    continue
                logger.info("chunk of %d rejected (%s); replaying it item by item", len(chunk), refused.exc)
                for occ in chunk:
                    self._replay(occ)
                return
            self._answer(outcomes)
            return

    def _transaction(self, occurrences):
        """Write ``occurrences`` in one transaction; their outcomes once committed.

        Stops the request (``WriteCutShort``) on a lost connection or a timeout; raises
        ``_Refused`` for an error the caller may retry or replay.
        """
        self.transactions += 1
        self.writer.chunk = self.transactions
        connection = self.connection
        faults.failpoint("before_transaction", connection, self.transactions)
        tx = None
        committing = False
        try:
            with recorded_transaction(connection.alias) as tx:
                if not self.reserved:
                    reserve_keys(connection, self.model, self.explicit_keys)
                outcomes = self._apply(occurrences)
                self.journal.record(connection, outcomes)
                faults.failpoint("before_commit", connection, self.transactions)
                committing = True
        except DeadlinePassed as exc:
            raise DatabaseTooSlow(str(exc)) from exc
        except DatabaseError as exc:
            kind = classify(connection, tx.raw if tx else connection.connection, exc)
            if kind is TOO_SLOW:
                raise DatabaseTooSlow(str(exc)) from exc
            if kind is LOST:
                if committing:
                    return self._after_lost_commit(tx, outcomes, exc)
                raise DatabaseUnavailable(str(exc)) from exc
            raise _Refused(kind, exc) from exc
        self.committed += 1
        self.reserved = True
        return outcomes

    def _after_lost_commit(self, tx, outcomes, exc):
        """The connection died during COMMIT: ask whether it committed, then stop the request."""
        status = txid_status(self.connection, tx.txid)
        logger.warning(
            "connection lost during COMMIT (%s); transaction %s: %s", exc, tx.txid, status or "unknown"
        )
        if status == "committed":
            self.committed += 1
            self._answer(outcomes)
        elif status is None:
            self.committed += 1  # perhaps: the answer must not claim nothing was written
            for o in outcomes:
                self.results[o.index] = ItemOutcome(o.index, o.key, Outcome.UNKNOWN)
        raise DatabaseUnavailable(str(exc)) from exc

    def _apply(self, chunk):
        """Write ``chunk``; give (index, key, Outcome) per occurrence.

        Every occurrence is written, so the database judges each one as it would one at a
        time: the n-th occurrence of each key goes in round n, one statement per round (one
        round unless the chunk repeats a key).
        """
        rounds = []
        seen = {}
        assigned = []
        for occ in chunk:
            if occ.key is None:
                assigned.append(occ)
                continue
            n = seen[occ.key] = seen.get(occ.key, -1) + 1
            if n == len(rounds):
                rounds.append([])
            rounds[n].append(occ)
        write = self.writer.insert_ignoring_conflicts if self.create_only else self.writer.upsert
        taken = Outcome.TAKEN if self.create_only else Outcome.UPDATED
        outcome = []
        for occurrences in rounds:
            created = write([occ.row for occ in occurrences])
            outcome += [
                self._outcome(occ.index, occ.key, Outcome.CREATED if occ.key in created else taken)
                for occ in occurrences
            ]
        if assigned:
            keys = self.writer.insert_new([occ.row[1:] for occ in assigned], self.explicit_keys)
            outcome += [
                ItemOutcome(occ.index, key, Outcome.CREATED) for occ, key in zip(assigned, keys, strict=True)
            ]
        return outcome

    def _outcome(self, index, key, kind):
        message = f"there is a {self.noun} {key} already" if kind is Outcome.TAKEN else None
        return ItemOutcome(index, key, kind, message)

    def _answer(self, outcomes):
        for outcome in outcomes:
            self.results[outcome.index] = outcome

    def _replay(self, occ):
        """One occurrence in its own transaction: a failure is its own (400 or 500)."""
        for attempt in range(RETRIES):
            try:
                self._answer(self._transaction([occ]))
                return
            except _Refused as refused:
                if refused.kind is RETRY and attempt < RETRIES - 1:
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                    continue
                exc = refused.exc
            if isinstance(exc, IntegrityError):
                logger.info("item %d rejected by the database: %s", occ.index, exc)
                body = "rejected by the database: a record it refers to no longer exists, or its key is taken"
                self.results[occ.index] = ItemOutcome(occ.index, occ.key or 0, Outcome.INVALID, body)
            else:
                logger.error("item %d failed", occ.index, exc_info=exc)
                body = f"Unexpected error while saving this item; activityID {current_activity_id()}"
                self.results[occ.index] = ItemOutcome(occ.index, occ.key or 0, Outcome.FAILED, body)
            return


class _Refused(Exception):
    """The database refused a transaction (``RETRY`` or ``REJECTED``): retry it, or replay it."""

    def __init__(self, kind, exc):
        super().__init__(str(exc))
        self.kind = kind
        self.exc = exc
