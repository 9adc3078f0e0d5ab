"""Reading the history: a record's trail, newest first, and a change as the API shows it."""

import datetime as dt

from vbaproject.apps import entity_models
from vbaproject.history.models import Change
from vbaproject.spec.entities import FieldKind, entity_spec
from vbaproject.spec.validation import Invalid, parse_datetime


def record_history(model, key):
    """The changes of the ``model`` record ``key`` in the selected client database, newest first."""
    return Change.objects.filter(entity=model.__name__, record_key=str(key)).order_by("-id")


def _iso(moment):
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def api_value(field, value):
    """A value as the triggers stored it (as each database writes JSON) as the API writes it."""
    if value is None or field is None:
        return value
    if field.kind == FieldKind.DATETIME and isinstance(value, str):
        try:
            return _iso(parse_datetime(value))
        except Invalid:
            return value
    if field.kind == FieldKind.BOOLEAN and isinstance(value, int):
        return bool(value)  # SQLite stores booleans as 0 and 1
    return value


def change_as_api(change, spec=None):
    """One change as the history route answers it: who, when, how, and each field's old and new value."""
    spec = spec or entity_spec_named(change.entity)
    by_name = {f.name: f for f in spec.fields} if spec else {}
    key_field = spec.key if spec else None
    key = change.record_key
    if key_field is not None and key_field.kind == FieldKind.INTEGER and key.lstrip("-").isdigit():
        key = int(key)
    return {
        "history_Key": change.id,
        "changed_At": _iso(change.at),
        "action": change.action,
        "database": change.database,
        "entity": change.entity,
        "key": key,
        "user": change.username,
        "api_Key_Name": change.api_key,
        "activity_ID": change.activity_id,
        "via": change.via,
        "changes": [
            {
                "field": name,
                "old": api_value(by_name.get(name), old),
                "new": api_value(by_name.get(name), new),
            }
            for name, (old, new) in sorted(change.changes.items())
        ],
    }


def entity_spec_named(name):
    """The spec of the entity model called ``name``, or ``None``."""
    model = next((m for m in entity_models() if m.__name__ == name), None)
    return entity_spec(model) if model else None
