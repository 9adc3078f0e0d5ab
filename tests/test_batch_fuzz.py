"""Whatever a client sends, the answer is a 2xx or 4xx in the envelope (README, *For API consumers*).

Hypothesis throws arbitrary JSON at every field of every entity, and arbitrary bytes at the
routes; the cases that once broke something stay below as plain regression tests.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auths.models import Auth
from grievances.models import Grievance
from tests.support.answers import data_of, problem_of
from tests.support.entities import EACH_MODEL, batch_url
from vbaproject.spec.entities import entity_spec

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])
FUZZ = dict(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-02-30", "", " ", "\x00"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def names(model):
    return st.sampled_from([f.name for f in entity_spec(model).fields]).flatmap(
        lambda name: st.sampled_from([name, name.upper(), name.lower()])
    )


def items(model):
    item = st.dictionaries(names(model) | st.text(max_size=8), json_values, max_size=8)
    return st.lists(item | json_values, max_size=6)


def assert_answered(response):
    """A 2xx or a 4xx, in the envelope; a batch's items are each created, updated or refused."""
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        return problem_of(response, response.status_code)
    data = data_of(response, response.status_code)
    if response.status_code == 207:
        assert all(r["status"] in (200, 201, 400) for r in data), data
    return data


@EACH_MODEL
@settings(**FUZZ)
@given(data=st.data())
def test_arbitrary_values_in_every_field(api, model, data):
    assert_answered(api.put(batch_url(model), data.draw(items(model))))


@settings(**FUZZ)
@given(body=json_values)
def test_arbitrary_json_bodies(api, body):
    assert_answered(api.put(batch_url(Grievance), body))


@settings(**FUZZ)
@given(
    body=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "text/json", "x/y", ""])
)
def test_arbitrary_bytes(api, body, content_type):
    assert_answered(api.put(batch_url(Auth), body, content_type=content_type))


@pytest.mark.parametrize(
    "item",
    [
        {"issue_Date": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"issue_Date": "9999-12-31T23:59:59-01:00"},  # after year 9999 in UTC
        {"call_Key": 2**63 - 1},
        {"issue": "\x00"},
        {"grievance_Key": 2**31},
        {"grievance_Key": 1.0},
        {"grievance_Key": True},
        {"GRIEVANCE_KEY": 1, "grievance_Key": 2},
        {"": None},
    ],
)
def test_regressions(api, item):
    response = api.put(batch_url(Grievance), [item])
    (result,) = assert_answered(response)
    assert result["status"] == 400


@pytest.mark.parametrize("body", [b"[1e400]", b"[123456789012345678901234567890]", b'["\\ud800"]'])
def test_numbers_and_strings_json_cannot_hold(api, body):
    assert_answered(api.put(batch_url(Grievance), body))
