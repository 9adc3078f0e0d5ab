"""Reading the history: a record's copies, newest first, and what each change changed.

A history table holds the row as each change left it (as it was, for a delete); a change's
fields are those that differ from the copy before it. The audit fields and the key are not
listed as changes: the entry's own who/when and the record's key say them.
"""

import datetime as dt

from vbaproject.history.models import history_model
from vbaproject.spec.entities import FieldKind, entity_spec


def record_history(model, key):
    """The copies of the ``model`` record ``key`` in the selected client database, newest first."""
    return history_model(model).objects.filter(**{model._meta.pk.name: key}).order_by("-history_id")


def _iso(moment):
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def api_value(field, value):
    """A field's value as the API writes it in JSON."""
    if value is not None and field.kind == FieldKind.DATETIME:
        return _iso(value)
    return value


def _values(spec, entry):
    """A history copy's values by field name (its columns are named as the entity's fields)."""
    return {} if entry is None else {f.name: getattr(entry, f.name) for f in spec.fields}


def field_changes(spec, entry, previous):
    """``[(field, old, new)]`` of one change: ``entry`` against the copy before it (or none)."""
    shown = [f for f in spec.fields if not f.is_audit and not f.is_key]
    if entry.history_action == "delete":
        old, new = _values(spec, entry), {}
    else:
        old, new = _values(spec, previous), _values(spec, entry)
    return [
        (f.name, api_value(f, old.get(f.name)), api_value(f, new.get(f.name)))
        for f in shown
        if old.get(f.name) != new.get(f.name)
    ]


def with_changes(model, entries):
    """``[(entry, field_changes)]`` for ``entries`` (newest first), each against the copy before it."""
    entries = list(entries)
    if not entries:
        return []
    spec = entity_spec(model)
    oldest = entries[-1]
    key = getattr(oldest, model._meta.pk.name)
    before = record_history(model, key).filter(history_id__lt=oldest.history_id).first()
    previous = [*entries[1:], before]
    return [
        (entry, field_changes(spec, entry, prior)) for entry, prior in zip(entries, previous, strict=True)
    ]


def change_as_api(model, entry, changes):
    """One change as the history route answers it: who, when, how, and each field's old and new value."""
    return {
        "history_Key": entry.history_id,
        "changed_At": _iso(entry.history_at),
        "action": entry.history_action,
        "database": entry.history_database,
        "entity": model.__name__,
        "key": getattr(entry, model._meta.pk.name),
        "user": entry.history_user,
        "api_Key_Name": entry.history_api_key,
        "activity_ID": entry.history_activity_id,
        "via": entry.history_via,
        "changes": [{"field": name, "old": old, "new": new} for name, old, new in changes],
    }
