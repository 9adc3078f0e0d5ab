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
"""

import logging
import random
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
from vbaproject.engine.outcomes import DatabaseUnavailable, ItemOutcome, Outcome
from vbaproject.engine.writers import writer_for
from vbaproject.history.context import recorded_transaction
from vbaproject.spec.entities import AUDIT_FIELDS, entity_spec
from vbaproject.spec.validation import key_as_sent, validator_for

logger = logging.getLogger(__name__)

RETRIES = 5
LOOKUP_CHUNK = 5000


@dataclass(slots=True)
class Occurrence:
    index: int  # position in the request
    key: Any  # as sent; None when the server assigns one
    row: tuple  # values in EntitySpec.columns order, the key first


def upsert_batch(model, items, user, now=None, release_items=False, create_only=False):
    """Apply ``items`` (parsed JSON values) to ``model``'s table; one ``ItemOutcome`` per item.

    With ``release_items`` the engine empties ``items`` as it validates them, so the parsed
    JSON of a large batch is freed while its rows are built rather than after the request.
    With ``create_only`` (POST) an item whose key exists already is not applied: 409.
    """
    spec = entity_spec(model)
    validate = validator_for(model)
    fields = spec.columns
    audit_values = spec.audit_values(user, now or timezone.now())
    audit = tuple(audit_values[name] for name in AUDIT_FIELDS)

    results = [None] * len(items)
    valid = []
    for index, item in enumerate(items):
        if release_items:
            items[index] = None
        key, values, errors = validate(item)
        if errors:
            results[index] = ItemOutcome(
                index, key_as_sent(item, spec.key), Outcome.INVALID, "; ".join(errors)
            )
        else:
            valid.append(Occurrence(index, key, (key, *values, *audit)))

    valid = _check_references(spec, fields, valid, results)
    writes = _ChunkWriter(
        connection=connections[router.db_for_write(model)],
        spec=spec,
        explicit_keys=frozenset(occ.key for occ in valid if occ.key is not None),
        create_only=create_only,
        results=results,
    )
    chunk_size = settings.VBA_BATCH_CHUNK_ROWS
    for start in range(0, len(valid), chunk_size):
        writes.write(valid[start : start + chunk_size])
    return results


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


def _is_retryable(exc):
    cause = exc.__cause__
    name = type(cause).__name__ if cause else ""
    return name in {"DeadlockDetected", "SerializationFailure"} or "database is locked" in str(exc)


class _ChunkWriter:
    """Writes the valid occurrences chunk by chunk, answering each in ``results``.

    ``explicit_keys`` are the keys the whole batch names: assigned keys avoid them, so that
    assigning one never turns a later item's key into an update of it. ``create_only`` (POST)
    leaves a taken key alone and answers 409.
    """

    def __init__(self, connection, spec, explicit_keys, create_only, results):
        self.connection = connection
        self.writer = writer_for(connection, spec)
        self.noun = spec.model._meta.verbose_name
        self.explicit_keys = explicit_keys
        self.create_only = create_only
        self.results = results

    def write(self, chunk):
        """Write one chunk in a transaction; replay it item by item if the database rejects it."""
        for attempt in range(RETRIES):
            try:
                with recorded_transaction(self.connection.alias):
                    outcome = self._apply(chunk)
            except DatabaseError as exc:
                if _is_retryable(exc) and attempt < RETRIES - 1:
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                    continue
                _require_usable(self.connection, exc)
                logger.info("chunk of %d rejected (%s); replaying it item by item", len(chunk), exc)
                for occ in chunk:
                    self._replay(occ)
                return
            for index, key, kind in outcome:
                self._answer(index, key, kind)
            return

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
                (occ.index, occ.key, Outcome.CREATED if occ.key in created else taken) for occ in occurrences
            ]
        if assigned:
            keys = self.writer.insert_new([occ.row[1:] for occ in assigned], self.explicit_keys)
            outcome += [(occ.index, key, Outcome.CREATED) for occ, key in zip(assigned, keys, strict=True)]
        return outcome

    def _answer(self, index, key, kind):
        message = f"there is a {self.noun} {key} already" if kind is Outcome.TAKEN else None
        self.results[index] = ItemOutcome(index, key, kind, message)

    def _replay(self, occ):
        """One occurrence in its own transaction: a failure is its own (400 or 500)."""
        try:
            with recorded_transaction(self.connection.alias):
                ((index, key, kind),) = self._apply([occ])
            self._answer(index, key, kind)
        except IntegrityError as exc:
            _require_usable(self.connection, exc)
            logger.info("item %d rejected by the database: %s", occ.index, exc)
            body = "rejected by the database: a record it refers to no longer exists, or its key is taken"
            self.results[occ.index] = ItemOutcome(occ.index, occ.key or 0, Outcome.INVALID, body)
        except DatabaseError as exc:
            _require_usable(self.connection, exc)
            logger.exception("item %d failed", occ.index)
            body = f"Unexpected error while saving this item; activityID {current_activity_id()}"
            self.results[occ.index] = ItemOutcome(occ.index, occ.key or 0, Outcome.FAILED, body)


def _require_usable(connection, exc):
    """Turn a lost or refused connection into a whole-request failure (503)."""
    if isinstance(exc, OperationalError | InterfaceError):
        try:
            usable = connection.connection is not None and connection.is_usable()
        except DatabaseError:
            usable = False
        if not usable:
            raise DatabaseUnavailable(str(exc)) from exc
