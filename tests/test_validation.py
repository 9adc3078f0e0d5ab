"""The item validator's compiled fast path agrees with the generic validator (vbaproject/spec/validation.py).

``validator_for`` answers from the fast path when it accepts an item and asks the generic
validator otherwise. So the fast path may decline anything, but must never accept an item the
generic validator rejects, nor read one differently: the same key and the same values, to the
type, the sign of a zero and the zone of a date-time.

Items start valid (``sample_item``) and have fields turned into edge cases: wrong JSON types,
strings at and over their limits, NULs, numbers at the edges of 32 and 64 bits and of a
double, date-times that do and do not exist, nulls, missing and unknown fields, names in
another case, and keys no record can have. Every edge value of every field is tried alone;
Hypothesis mixes them.
"""

import random

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.support.entities import EACH_MODEL
from vbaproject.spec.entities import FieldKind, entity_spec
from vbaproject.spec.sample_data import sample_item, sample_value
from vbaproject.spec.validation import (
    INT_MAX,
    INT_MIN,
    fast_validator_for,
    generic_validator_for,
    validator_for,
)

PROPERTY = dict(max_examples=200, deadline=None)
WRONG_TYPES = [None, True, False, 0, 1, 1.0, "1", "", [], {}, [1], {"a": 1}]
INTEGERS = [0, -1, INT_MAX, INT_MAX + 1, INT_MIN, INT_MIN - 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**400]
FLOATS = [0.0, -0.0, 0.5, -1.0, 1e308, -1e308, 5e-324, float("inf"), float("-inf"), float("nan")]
DATE_TIMES = [
    "2024-05-31T13:45:00Z",
    "2024-05-31T13:45:00+02:00",
    "2024-05-31T13:45:00.123456-07:30",
    "2024-05-31T13:45:00+00:00",
    "2024-05-31",
    "2024-05-31T13:45",
    "20240531T134500Z",
    "2024-02-29T00:00:00Z",
    "0001-01-01T00:00:00Z",
]
BAD_DATE_TIMES = [
    "2024-02-30",
    "2023-02-29T00:00:00Z",
    "2024-05-31T24:00:00Z",
    "2024-13-01",
    "2024-05-31T13:45:00+24:00",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    " 2024-05-31",
    "yesterday",
]
KEYS = [0, -1, None, "", "x" * 20, "x" * 21, 1, INT_MAX, INT_MAX + 1, True, 1.0, "1", "A-1", "a\x00"]
UNKNOWN = ["no_Such_Field", "", "bogus", " grievance_Key"]
MUTATIONS = ["value"] * 6 + ["drop", "key", "unknown", "case"]


def _texts(field):
    """Strings at, under and over the field's limits, with and without a NUL."""
    texts = ["x", "\x00", "a\x00b", "é"]
    for length in {field.max_length, field.min_length} - {None}:
        texts += ["x" * length, "x" * (length + 1), "x" * (length - 1), "é" * length, "\x00" * length]
    return texts


def edge_groups(field):
    """Values at the edges of ``field``'s kind, in groups a test draws from evenly."""
    return {
        FieldKind.STRING: [WRONG_TYPES, _texts(field)],
        FieldKind.INTEGER: [WRONG_TYPES, INTEGERS],
        FieldKind.NUMBER: [WRONG_TYPES, INTEGERS, FLOATS],
        FieldKind.BOOLEAN: [WRONG_TYPES, ["true", "Y", "N"]],
        FieldKind.DATETIME: [WRONG_TYPES, DATE_TIMES, BAD_DATE_TIMES],
    }[field.kind]


def odd_values(field):
    """Values for ``field``: valid, at the edges of its kind, or anything at all."""
    return st.one_of(
        *(st.sampled_from(group) for group in edge_groups(field)),
        st.builds(sample_value, st.just(field), st.randoms(use_true_random=False)),
        st.integers() | st.floats() | st.text(max_size=min(field.max_length or 30, 60) + 2),
    )


@st.composite
def items(draw, model):
    """A sample item of ``model`` with a few fields made odd: most often one value (a field of
    each kind as likely as any other)."""
    spec = entity_spec(model)
    kinds = sorted({f.kind for f in spec.fields})
    fill = draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1))
    item = sample_item(model, draw(st.randoms(use_true_random=False)), fill=fill)
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 1, 2, 3]))):
        kind = draw(st.sampled_from(kinds))
        field = draw(st.sampled_from([f for f in spec.fields if f.kind == kind]))
        mutation = draw(st.sampled_from(MUTATIONS))
        if mutation == "value":
            item[field.name] = draw(odd_values(field))
        elif mutation == "drop":
            item.pop(field.name, None)
        elif mutation == "key":
            item[spec.key.name] = draw(st.sampled_from(KEYS))
        elif mutation == "unknown":
            item[draw(st.sampled_from(UNKNOWN) | st.text(max_size=5))] = draw(odd_values(field))
        else:  # the name in another case (the generic validator folds it; the fast path declines)
            value = item.pop(field.name, None)
            item[draw(st.sampled_from([field.name.upper(), field.name.lower()]))] = value
    return item


def exactly(key, values):
    """``key`` and ``values`` to the letter: ``0.0`` is not ``-0.0``, ``1`` not ``1.0``, UTC not +02:00."""
    return [(type(v), repr(v)) for v in (key, *values)]


def fast_answer(model, item):
    """The fast path's ``(key, values)``, or ``None`` when it declines (a date-time it cannot
    parse raises: ``validator_for`` takes that as declining too)."""
    try:
        return fast_validator_for(model)(item)
    except (ValueError, OverflowError):
        return None


def assert_agree(model, item):
    """The fast path accepts only what the generic validator accepts, and reads it alike;
    ``validator_for`` answers what the generic validator answers. Whether the fast path took it."""
    accepted = fast_answer(model, item)
    key, values, errors = generic_validator_for(model)(item)
    if accepted is not None:
        assert errors == [], (item, errors)
        assert exactly(*accepted) == exactly(key, values), item
    answer = validator_for(model)(item)
    assert list(answer[2]) == errors, item
    if not errors:
        assert exactly(answer[0], answer[1]) == exactly(key, values), item
    return accepted is not None


@EACH_MODEL
def test_every_edge_value_of_every_field_alone(model):
    spec = entity_spec(model)
    for fill in (0.0, 1.0):
        base = sample_item(model, random.Random(f"{model.__name__}{fill}"), fill=fill)
        for field in spec.fields:
            assert_agree(model, {k: v for k, v in base.items() if k != field.name})
            for group in edge_groups(field):
                for value in group:
                    assert_agree(model, {**base, field.name: value})
        for key in KEYS:
            assert_agree(model, {**base, spec.key.name: key})


@EACH_MODEL
@settings(**PROPERTY)
@given(data=st.data())
def test_the_fast_path_accepts_only_what_the_generic_validator_accepts_and_reads_it_alike(model, data):
    item = data.draw(items(model), label="item")
    event("fast path accepted" if assert_agree(model, item) else "fast path declined")


@EACH_MODEL
@settings(max_examples=50, deadline=None)
@given(rng=st.randoms(use_true_random=False), fill=st.floats(0, 1))
def test_the_fast_path_takes_well_formed_items(model, rng, fill):
    """Agreement alone would hold for a fast path that declines everything."""
    assert assert_agree(model, sample_item(model, rng, fill=fill))
