"""Deleting entity records: by key, one (``delete_record``) or a batch (``delete_batch``), or a
whole selection (``delete_records``, the admin's).

A batch answers as if its items were applied one at a time, in order: the first item naming
an existing record deletes it (200), any later one finds nothing (404). The deletes run in one
transaction; a record that others still refer to (a care case with clinical trials) stops the
whole batch with ``Protected`` and deletes nothing.

Database errors are answered as the batch engine answers them (README, *When a call fails*):
a deadlock is retried, a lock or statement timeout is a 503, and a connection lost during the
COMMIT is asked about (``txid_status``): a delete that committed is answered as done, so a retry
without an ``Idempotency-Key`` is not told 404 for records this call deleted.
"""

import random
import time

from django.db import DatabaseError, IntegrityError, connections, router
from django.db.models import ProtectedError

from vbaproject.db.limits import DeadlinePassed
from vbaproject.engine.outcomes import DatabaseTooSlow, DatabaseUnavailable, ItemOutcome, Outcome
from vbaproject.engine.upsert import LOOKUP_CHUNK, LOST, RETRIES, RETRY, TOO_SLOW, classify, txid_status
from vbaproject.history.context import recorded_transaction
from vbaproject.spec.entities import entity_spec
from vbaproject.spec.validation import existing_key


class Protected(Exception):
    """Other records still refer to the record(s); nothing was deleted. The message says which."""


def _protected_message(model, key, exc):
    noun = model._meta.verbose_name
    if isinstance(exc, ProtectedError):
        count = len(set(exc.protected_objects))
        kinds = sorted({obj._meta.verbose_name_plural for obj in exc.protected_objects})
        return (
            f"The {noun} {key} cannot be deleted: {count} of its {' and '.join(kinds)} "
            "still refer to it. Delete them or point them elsewhere first."
        )
    return f"The {noun} {key} cannot be deleted: other records still refer to it."


def _in_write_transaction(model, work):
    """``work()`` in one recorded transaction on ``model``'s database, its errors classified."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    for attempt in range(RETRIES):
        tx, committing = None, False
        try:
            with recorded_transaction(alias) as tx:
                result = work()
                committing = True
            return result
        except DeadlinePassed as exc:
            raise DatabaseTooSlow(str(exc)) from exc
        except DatabaseError as exc:
            kind = classify(connection, tx.raw if tx else connection.connection, exc)
            if kind is RETRY and attempt < RETRIES - 1:
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                continue
            if kind is TOO_SLOW:
                raise DatabaseTooSlow(str(exc)) from exc
            if kind is LOST:
                if committing and txid_status(connection, tx.txid) == "committed":
                    return result
                raise DatabaseUnavailable(str(exc)) from exc
            raise


def delete_records(queryset):
    """Delete every record of ``queryset``, in one transaction; how many were deleted."""
    return _in_write_transaction(queryset.model, lambda: queryset.delete()[0])


def delete_record(queryset, key):
    """Delete the record of ``queryset`` with ``key``; whether there was one. Raises ``Protected``."""
    try:
        return bool(delete_records(queryset.filter(pk=key)))
    except (ProtectedError, IntegrityError) as exc:
        raise Protected(_protected_message(queryset.model, key, exc)) from None


def delete_batch(queryset, items):
    """Delete the records of ``queryset`` that ``items`` (parsed JSON objects) name by key.

    One ``ItemOutcome`` per item, in order: DELETED, NOT_FOUND, or INVALID for an item that
    names no record. Raises ``Protected`` when any named record is still referred to.
    """
    model = queryset.model
    key_field = entity_spec(model).key
    results = [None] * len(items)
    wanted = {}  # key -> indexes of the items naming it, in order
    for index, item in enumerate(items):
        key, error = existing_key(item, key_field)
        if error:
            results[index] = ItemOutcome(index, key, Outcome.INVALID, error)
        else:
            wanted.setdefault(key, []).append(index)
    keys = list(wanted)

    def delete():
        found = set()
        for start in range(0, len(keys), LOOKUP_CHUNK):
            found.update(
                queryset.filter(pk__in=keys[start : start + LOOKUP_CHUNK]).values_list("pk", flat=True)
            )
        found_keys = sorted(found)
        try:
            for start in range(0, len(found_keys), LOOKUP_CHUNK):
                queryset.filter(pk__in=found_keys[start : start + LOOKUP_CHUNK]).delete()
        except ProtectedError:
            raise Protected(
                f"Some of these {model._meta.verbose_name_plural} are still referred to by other records; "
                "nothing was deleted."
            ) from None
        return found

    found = _in_write_transaction(model, delete)
    for key, indexes in wanted.items():
        for turn, index in enumerate(indexes):
            kind = Outcome.DELETED if turn == 0 and key in found else Outcome.NOT_FOUND
            results[index] = ItemOutcome(index, key, kind)
    return results
