"""What the API knows of an entity, read off its model: JSON names, kinds, rules, the key.

The model is the one declaration of an entity's fields (README, *Where things are*). The JSON
name of a field is its model field name (``case_Key``, ``drG_Code``, ``tPlan_DownLoaded``); the
validator, the batch engine, the admin, the filters and the OpenAPI document all read this spec
instead of listing fields again.
"""

import enum
import functools
from dataclasses import dataclass

from django.db import models

AUDIT_FIELDS = ("entry_Date", "entry_User", "update_Date", "update_User")
# Set when a record is added and kept on every update (README, *For API consumers*).
KEPT_ON_UPDATE = frozenset({"entry_Date", "entry_User"})


class FieldKind(enum.StrEnum):
    """A field's JSON kind: what the validator accepts and the writers and documents declare."""

    INTEGER = "integer"  # a JSON integer within 32 bits
    NUMBER = "number"  # a JSON number
    BOOLEAN = "boolean"
    DATETIME = "datetime"  # an ISO 8601 string
    STRING = "string"


_KINDS = {
    "AutoField": FieldKind.INTEGER,
    "IntegerField": FieldKind.INTEGER,
    "ForeignKey": FieldKind.INTEGER,
    "FloatField": FieldKind.NUMBER,
    "BooleanField": FieldKind.BOOLEAN,
    "DateTimeField": FieldKind.DATETIME,
    "CharField": FieldKind.STRING,
    "TextField": FieldKind.STRING,
}


@dataclass(frozen=True)
class ApiField:
    name: str  # the JSON name, also the model field name
    attname: str  # the model attribute holding the raw value (``case_Key_id`` for a reference)
    column: str
    kind: FieldKind
    nullable: bool
    required: bool
    max_length: int | None
    min_length: int | None
    is_key: bool
    is_audit: bool
    description: str
    model_field: models.Field

    @property
    def kept_on_update(self):
        """Set when the record is added, never changed by an update (``entry_Date``, ``entry_User``)."""
        return self.name in KEPT_ON_UPDATE


@dataclass(frozen=True)
class EntitySpec:
    model: type[models.Model]
    fields: tuple[ApiField, ...]  # in the order of the VBAPI document
    key: ApiField

    @functools.cached_property
    def by_lower_name(self):
        return {f.name.lower(): f for f in self.fields}

    @functools.cached_property
    def client_fields(self):
        """The fields a client's values are taken for (the server keeps the audit fields)."""
        return tuple(f for f in self.fields if not f.is_audit)

    @functools.cached_property
    def value_fields(self):
        """The client's fields other than the key, in document order: what an item carries."""
        return tuple(f for f in self.client_fields if not f.is_key)

    @functools.cached_property
    def columns(self):
        """The order the batch engine writes a row in: key, the item's fields, the audit fields."""
        audit = {f.name: f for f in self.fields if f.is_audit}
        return (self.key, *self.value_fields, *(audit[name] for name in AUDIT_FIELDS))

    def audit_values(self, user, now, adding=True):
        """The audit fields as the server sets them: ``now`` and the user name, cut to fit.

        All four when a record is added; only ``update_*`` when it is changed.
        """
        values = {}
        for field in self.fields:
            if field.is_audit and (adding or not field.kept_on_update):
                cut = user[: field.max_length] if field.max_length else user
                values[field.name] = now if field.kind == FieldKind.DATETIME else cut
        return values

    @functools.cached_property
    def references(self):
        """Fields that must name an existing row of another entity: (field, target model)."""
        return tuple((f, f.model_field.related_model) for f in self.fields if f.model_field.is_relation)

    @property
    def integer_key(self):
        return self.key.kind == FieldKind.INTEGER


def _min_length(field):
    for validator in field.validators:
        if getattr(validator, "code", None) == "min_length":
            return validator.limit_value
    return None


def _api_field(field):
    is_key = field.primary_key
    kind = _KINDS[field.get_internal_type()]
    integer = kind == FieldKind.INTEGER
    return ApiField(
        name=field.name,
        attname=field.attname,
        column=field.column,
        kind=kind,
        nullable=field.null or (is_key and not integer),
        # Integer keys are required by the VBAPI document (0 asks for an assigned key);
        # any other field is required exactly when a form would require it.
        required=(is_key and integer) or (not is_key and not field.blank),
        max_length=field.max_length if field.get_internal_type() == "CharField" else None,
        min_length=_min_length(field),
        is_key=is_key,
        is_audit=field.name in AUDIT_FIELDS,
        description=str(field.help_text),
        model_field=field,
    )


@functools.cache
def entity_spec(model):
    fields = tuple(_api_field(f) for f in model._meta.concrete_fields)
    return EntitySpec(model=model, fields=fields, key=next(f for f in fields if f.is_key))
