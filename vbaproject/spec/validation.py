"""Item validation compiled once per entity from its spec, not DRF field objects per item.

``validator_for(model)(item)`` checks one JSON item against the VBAPI field rules and gives
``(key, values, errors)``: the key as sent (``None`` when the server is to assign one), the
client fields' values ready for the database (in ``EntitySpec.value_fields`` order), and one
message per bad field.
"""

import datetime as dt
import functools

from vbaproject.spec.entities import FieldKind, entity_spec

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


def parse_datetime(value):
    """An ISO 8601 date-time string as an aware UTC datetime (a plain date is midnight UTC);
    raises ``Invalid`` otherwise. Bodies, list filters and the admin all read date-times here."""
    if type(value) is not str:
        raise Invalid("must be an ISO 8601 date-time string")
    try:
        return _datetime_fast(value)
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


def converter(field):
    """The check of one present, non-null value of ``field``: it gives the value or raises Invalid."""
    if field.kind == FieldKind.STRING:
        return _string_check(field.max_length, field.min_length)
    return {
        FieldKind.INTEGER: _integer,
        FieldKind.NUMBER: _number,
        FieldKind.BOOLEAN: _boolean,
        FieldKind.DATETIME: parse_datetime,
    }[field.kind]


def key_reader(key):
    """Read the key as sent: ``None`` asks the server to assign one."""
    if key.kind == FieldKind.INTEGER:

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


def names_for(item, name):
    """The names in ``item`` that mean the field ``name`` (field names ignore case)."""
    lower = name.lower()
    return [raw for raw in item if raw.lower() == lower]


def key_as_sent(item, key):
    """The value ``item`` sends for the key field ``key`` (in any case); ``None`` when none."""
    names = names_for(item, key.name) if isinstance(item, dict) else ()
    return item[names[0]] if names else None


def asks_for_a_key(key, value):
    """Whether ``value`` is a key value asking the server to assign one (0; no or empty number)."""
    try:
        return key_reader(key)(value) is None
    except Invalid:
        return False


def existing_key(item, key):
    """``(key, None)`` for an item naming a record by its key field ``key``, else ``(as sent, why not)``.

    What a delete or a lookup by item takes: the key must be there, once, and name a record
    (0 or an empty number asks for a new key, which names none).
    """
    if not isinstance(item, dict):
        return None, "the item must be a JSON object"
    names = names_for(item, key.name)
    if not names:
        return None, f"{key.name}: is required"
    if len(names) > 1:
        return None, f"{key.name}: given more than once (field names ignore case)"
    value = item[names[0]]
    try:
        if key_reader(key)(value) is None:
            return value, f"{key.name}: must name a record (0 or empty asks for a new key)"
    except Invalid as exc:
        return value, f"{key.name}: {exc}"
    return value, None


_MISSING = object()


class _Rule:
    __slots__ = ("convert", "name", "nullable", "position")

    def __init__(self, field, position):
        self.name = field.name
        self.nullable = field.nullable
        self.position = position
        self.convert = converter(field)


def _generic_validator(spec):
    """Every rule, every message: names in any case, duplicates, missing and bad fields."""
    key_name = spec.key.name
    read_key = key_reader(spec.key)
    rules = {f.name: _Rule(f, i) for i, f in enumerate(spec.value_fields)}
    ignored = {f.name for f in spec.fields if f.is_audit}
    by_lower = {name.lower(): name for name in [*rules, key_name, *ignored]}
    defaults = [None if rule.nullable else _MISSING for rule in rules.values()]
    not_nullable = [rule for rule in rules.values() if not rule.nullable]

    def validate(item):
        if type(item) is not dict:
            return None, None, ["the item must be a JSON object"]
        values = defaults.copy()
        errors = []
        key = None
        folded = None  # field names reached through case folding, to catch duplicates
        for name, value in item.items():
            rule = rules.get(name)
            if rule is None:
                canonical = by_lower.get(name.lower())
                if canonical is None:
                    errors.append(f"{name}: unknown field")
                    continue
                if canonical != name:
                    folded = folded or set()
                    if canonical in item or canonical in folded:
                        errors.append(f"{canonical}: given more than once (field names ignore case)")
                        continue
                    folded.add(canonical)
                if canonical == key_name:
                    try:
                        key = read_key(value)
                    except Invalid as exc:
                        errors.append(f"{key_name}: {exc}")
                    continue
                if canonical in ignored:  # audit fields: the server keeps them
                    continue
                rule = rules[canonical]
            if value is None:
                if not rule.nullable:
                    errors.append(f"{rule.name}: must not be null")
                continue
            try:
                values[rule.position] = rule.convert(value)
            except Invalid as exc:
                errors.append(f"{rule.name}: {exc}")
        for rule in not_nullable:
            if values[rule.position] is _MISSING and not any(rule.name in e for e in errors):
                errors.append(f"{rule.name}: is required")
        return key, values, errors

    return validate


def _datetime_fast(value):
    if value[-4:] == " UTC":  # Ruby's Time#to_s, as VBASoftware's Ruby SDK writes what it read
        moment = dt.datetime.fromisoformat(value[:-4])
        if moment.tzinfo is not None:
            raise ValueError("a date-time with an offset and UTC")
        return moment.replace(tzinfo=dt.UTC)
    moment = dt.datetime.fromisoformat(value)
    zone = moment.tzinfo
    if zone is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment if zone is dt.UTC else moment.astimezone(dt.UTC)


def _acceptance(field):
    """The test a present, non-null value ``v`` of ``field`` passes, and what is stored for it."""
    if field.kind == FieldKind.STRING:
        tests = ["v.__class__ is str"]
        if field.max_length is not None:
            tests.append(f"len(v) <= {field.max_length}")
        if field.min_length is not None:
            tests.append(f"len(v) >= {field.min_length}")
        tests.append("NUL not in v")
        return " and ".join(tests), "v"
    return {
        FieldKind.INTEGER: (f"v.__class__ is int and {INT_MIN} <= v <= {INT_MAX}", "v"),
        FieldKind.BOOLEAN: ("v is True or v is False", "v"),
        FieldKind.NUMBER: ("v.__class__ is float and v - v == 0.0", "v"),
        FieldKind.DATETIME: ("v.__class__ is str", "datetime_fast(v)"),
    }[field.kind]


def _compile_fast_path(spec):
    """Generate, once per entity, a function that accepts a well-formed item in one pass.

    It handles the common case only: exact field names and every value valid. It answers
    ``(key, values)``, or ``None`` for anything else, which the generic validator then explains.
    """
    key = spec.key
    code = [
        "def fast(item):",
        "    get = item.get",
        "    values = defaults.copy()",
        "    known = 0",
        f"    v = get({key.name!r}, MISSING)",
        "    if v is MISSING:",
        "        key = None",
        "    else:",
        "        known += 1",
    ]
    if key.kind == FieldKind.INTEGER:
        code += [
            f"        if v.__class__ is not int or not 0 <= v <= {INT_MAX}:",
            "            return None",
            "        key = v or None",
        ]
    else:
        code += [
            '        if v is None or v == "":',
            "            key = None",
            f"        elif v.__class__ is str and len(v) <= {key.max_length} and NUL not in v:",
            "            key = v",
            "        else:",
            "            return None",
        ]
    for position, field in enumerate(spec.value_fields):
        test, stored = _acceptance(field)
        absent = "pass" if field.nullable else "return None"
        code += [
            f"    v = get({field.name!r}, MISSING)",
            "    if v is MISSING:",
            f"        {absent}",
            "    else:",
            "        known += 1",
            "        if v is None:",
            f"            {absent}",
            f"        elif {test}:",
            f"            values[{position}] = {stored}",
        ]
        if field.kind == FieldKind.NUMBER:  # a JSON integer is a number too
            code += [
                "        elif v.__class__ is int and -(2**63) <= v < 2**64:",
                f"            values[{position}] = float(v)",
            ]
        code += ["        else:", "            return None"]
    for field in spec.fields:
        if field.is_audit:  # accepted and ignored: the server keeps them
            code += [f"    if {field.name!r} in item:", "        known += 1"]
    code += ["    if known != len(item):", "        return None", "    return key, values"]
    namespace = {
        "MISSING": _MISSING,
        "NUL": "\x00",
        "defaults": [None if f.nullable else _MISSING for f in spec.value_fields],
        "datetime_fast": _datetime_fast,
    }
    exec(compile("\n".join(code), f"<fast validator of {spec.model.__name__}>", "exec"), namespace)
    return namespace["fast"]


@functools.cache
def fast_validator_for(model):
    """The compiled fast path of ``model``: ``(key, values)`` for a well-formed item, else ``None``."""
    return _compile_fast_path(entity_spec(model))


@functools.cache
def generic_validator_for(model):
    """Every rule and every message: ``validate(item) -> (key, values, errors)``."""
    return _generic_validator(entity_spec(model))


@functools.cache
def validator_for(model):
    """The item validator of ``model``: ``validate(item) -> (key, values, errors)``.

    ``values`` follows ``entity_spec(model).value_fields``. A compiled fast path takes
    well-formed items; the generic validator handles the rest and writes the messages. The two
    agree on every item the fast path accepts (tests/test_validation.py).
    """
    fast = fast_validator_for(model)
    generic = generic_validator_for(model)

    def validate(item):
        if item.__class__ is dict:
            try:
                accepted = fast(item)
            except (ValueError, OverflowError):  # a date-time that does not parse: explained below
                accepted = None
            if accepted is not None:
                return accepted[0], accepted[1], ()
        return generic(item)

    return validate
