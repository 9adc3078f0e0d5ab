"""Saving one model instance as the API would: audit fields and key assignment.

The admin's forms and inlines edit model instances rather than JSON items; this is where such
a save becomes the same write as the API's: ``entry_*`` set when the record is added and kept
after, ``update_*`` on every save, and a new record without a key given one by the same
allocator and retry loop as the batch engine (``vbaproject.engine.keys``).
"""

from django.db import IntegrityError, connections, router
from django.utils import timezone

from vbaproject.engine.keys import insert_under_fresh_keys
from vbaproject.history.context import recorded_transaction
from vbaproject.spec.entities import entity_spec


def stamp_audit(obj, user, adding, now=None):
    """Set ``obj``'s audit fields as the API does, for the user named ``user``."""
    values = entity_spec(type(obj)).audit_values(user, now or timezone.now(), adding=adding)
    for name, value in values.items():
        setattr(obj, name, value)


def save_record(obj, user, adding, now=None):
    """Save ``obj`` (a new record when ``adding``), stamped for ``user``.

    A new record without a key gets one exactly as on the API. Integer keys too go through the
    allocator rather than the identity default, which fails once a client has taken the key at
    the top of the 32-bit range.
    """
    stamp_audit(obj, user, adding, now)
    model = type(obj)
    alias = router.db_for_write(model)
    if not (adding and not obj.pk):
        with recorded_transaction(alias):
            obj.save(force_insert=adding)
        return

    def insert(pairs):
        ((key, _),) = pairs
        obj.pk = key
        try:
            with recorded_transaction(alias):
                obj.save(force_insert=True)
        except IntegrityError:
            if model._base_manager.filter(pk=key).exists():
                return set()  # another writer took the key meanwhile: draw again
            raise
        return {key}

    insert_under_fresh_keys(connections[alias], model, 1, insert)
