"""Deleting entity records: by key, one (``delete_record``) or a batch (``delete_batch``), or a
whole selection (``delete_records``, the admin's).

A batch answers as if its items were applied one at a time, in order: the first item naming
an existing record deletes it (200), any later one finds nothing (404). The deletes run in one
transaction; a record that others still refer to (a care case with clinical trials) stops the
whole batch with ``Protected`` and deletes nothing.
"""

from django.db import IntegrityError, router
from django.db.models import ProtectedError

from vbaproject.engine.outcomes import ItemOutcome, Outcome
from vbaproject.engine.upsert import LOOKUP_CHUNK
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


def delete_records(queryset):
    """Delete every record of ``queryset``, in one transaction; how many were deleted."""
    with recorded_transaction(router.db_for_write(queryset.model)):
        deleted, _ = queryset.delete()
    return deleted


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
    found = set()
    with recorded_transaction(router.db_for_write(model)):
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
    for key, indexes in wanted.items():
        for turn, index in enumerate(indexes):
            kind = Outcome.DELETED if turn == 0 and key in found else Outcome.NOT_FOUND
            results[index] = ItemOutcome(index, key, kind)
    return results
