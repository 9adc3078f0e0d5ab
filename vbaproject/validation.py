"""Item validation compiled once per entity from its spec, not DRF field objects per item.

``validator_for(model)(item)`` checks one JSON item against the VBAPI field rules and gives
``(key, values, errors)``: the key as sent (``None`` when the server is to assign one), the
client fields' values ready for the database (by attname), and one message per bad field.
"""

import datetime as dt
import functools

from vbaproject.entities import entity_spec

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class Invalid(ValueError):
    """A value breaks a field rule; the message says how."""


def _integer(value):
    if type(value) is not int:
        raise Invalid("must be an integer")
    if not INT_MIN <= value <= INT_MAX:
        raise Invalid("must be within the 32-bit integer range")
    return value


def _number(value):
    if type(value) not in (int, float):
        raise Invalid("must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise Invalid("is too large a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise Invalid("must be a finite number")
    return number


def _boolean(value):
    if value is not True and value is not False:
        raise Invalid("must be true or false")
    return value


def _datetime(value):
    if type(value) is not str:
        raise Invalid("must be an ISO 8601 date-time string")
    try:
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise Invalid("must be an ISO 8601 date-time, such as 2024-05-31T13:45:00Z or 2024-05-31") from None


def _string_check(max_length, min_length):
    def check(value):
        if type(value) is not str:
            raise Invalid("must be a string")
        if max_length is not None and len(value) > max_length:
            raise Invalid(f"at most {max_length} characters (got {len(value)})")
        if min_length is not None and len(value) < min_length:
            raise Invalid(f"at least {min_length} character{'s' if min_length > 1 else ''}")
        if "\x00" in value:
            raise Invalid("must not contain NUL characters")
        return value

    return check


def _converter(field):
    if field.kind == "string":
        return _string_check(field.max_length, field.min_length)
    return {"integer": _integer, "number": _number, "boolean": _boolean, "datetime": _datetime}[field.kind]


def _key_reader(key):
    """Read the key as sent: ``None`` asks the server to assign one."""
    if key.kind == "integer":

        def read(value):
            if value is None:
                raise Invalid("must not be null (send 0 or leave it out to have a key assigned)")
            value = _integer(value)
            if value < 0:
                raise Invalid("must not be negative")
            return value or None

        return read
    check = _string_check(key.max_length, None)
    return lambda value: None if value is None or value == "" else check(value)


class _Rule:
    __slots__ = ("attname", "convert", "name", "nullable", "required")

    def __init__(self, field):
        self.name = field.name
        self.attname = field.attname
        self.nullable = field.nullable
        self.required = field.required
        self.convert = _converter(field)


@functools.cache
def validator_for(model):
    spec = entity_spec(model)
    by_lower = spec.by_lower_name
    key_name = spec.key.name
    read_key = _key_reader(spec.key)
    rules = {f.name: _Rule(f) for f in spec.client_fields if not f.is_key}

    def validate(item):
        if not isinstance(item, dict):
            return None, None, ["the item must be a JSON object"]
        errors = []
        given = {}
        for raw_name, value in item.items():
            field = by_lower.get(raw_name.lower())
            if field is None:
                errors.append(f"{raw_name}: unknown field")
            elif field.name in given:
                errors.append(f"{field.name}: given more than once (field names ignore case)")
            else:
                given[field.name] = value  # audit fields are accepted and ignored
        key = None
        if key_name in given:
            try:
                key = read_key(given[key_name])
            except Invalid as exc:
                errors.append(f"{key_name}: {exc}")
        values = {}
        for name, rule in rules.items():
            value = given.get(name)
            if value is None:
                if rule.nullable:
                    values[rule.attname] = None
                elif name in given:
                    errors.append(f"{name}: must not be null")
                else:
                    errors.append(f"{name}: is required")
                continue
            try:
                values[rule.attname] = rule.convert(value)
            except Invalid as exc:
                errors.append(f"{name}: {exc}")
        return key, values, errors

    return validate
