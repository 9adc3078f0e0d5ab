"""Memory bounded by the body, and returned (issue 12): the batch body is parsed as a stream.

The bounds are measured in a process of its own (``tests.support.memory_probe``), through
Django's whole WSGI stack, with the garbage collector off while a request runs, so that what a
reference cycle keeps is seen as kept. The streaming parser itself is checked against orjson
on any JSON, cut into chunks anywhere.
"""

import io
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from vbaproject.api import content
from vbaproject.api.content import JsonArray, JsonParser
from vbaproject.api.exceptions import PayloadTooLarge

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
SCENARIOS = ("auths", "flood", "too_many")


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """The probe's figures for 10,000 full Auths, 20,000,000 empty objects, and 10,001 Auths."""
    workdir = tmp_path_factory.mktemp("memory")
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "tests.support.memory_probe", str(workdir), *SCENARIOS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ten_thousand_full_auths_peak_within_three_times_the_body(measured):
    auths = measured["auths"]
    assert auths["status"] == [207, 207]
    assert auths["peak"] <= 3 * auths["body"], auths  # the Python heap
    if auths["rss_peak"] is not None:  # the process, allocator slack included
        assert auths["rss_peak"] <= 4 * auths["body"], auths


def test_twenty_million_empty_objects_are_refused_in_a_few_megabytes(measured):
    flood = measured["flood"]
    assert flood["body"] == 60_000_001 and flood["status"] == [413, 413]
    assert flood["peak"] < 8 * MB, flood
    if flood["rss_peak"] is not None:
        assert flood["rss_peak"] < 32 * MB, flood


@pytest.mark.parametrize("scenario", ["auths", "flood", "too_many"])
def test_nothing_is_kept_after_the_request(measured, scenario):
    """With the garbage collector off: no reference cycle holds the items, the answer or the body."""
    figures = measured[scenario]
    assert figures["kept"] < 2 * MB, figures
    if scenario == "too_many":  # 10,000 items parsed, then one too many: 413 all the same
        assert figures["status"] == [413, 413]


# The streaming parser --------------------------------------------------------------------------


def parse(body):
    return JsonParser().parse(io.BytesIO(body))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(json_values, max_size=8), chunk=st.integers(1, 64), indent=st.booleans())
def test_any_array_parses_as_orjson_parses_it(values, chunk, indent):
    body = json.dumps(values, indent=2 if indent else None).encode()
    old = content.CHUNK
    content.CHUNK = chunk
    try:
        parsed = JsonParser().parse(io.BytesIO(body))
    finally:
        content.CHUNK = old
    assert isinstance(parsed, JsonArray) and list(parsed) == orjson.loads(body)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(json_values, min_size=1, max_size=5),
    cut=st.integers(0, 10_000),
    insert=st.sampled_from([b"", b",", b"]", b"}", b"{", b'"', b"\\", b" x", b"[", b"\xff"]),
    chunk=st.integers(1, 32),
)
def test_a_damaged_array_is_refused_exactly_when_orjson_refuses_it(values, cut, insert, chunk):
    body = json.dumps(values).encode()
    cut %= len(body) + 1
    body = body[:cut] + insert + body[cut + (1 if insert else 0) :]
    try:
        expected = orjson.loads(body)
    except orjson.JSONDecodeError:
        expected = ParseError
    old = content.CHUNK
    content.CHUNK = chunk
    try:
        got = JsonParser().parse(io.BytesIO(body))
        got = list(got) if isinstance(got, JsonArray) else got
    except ParseError:
        got = ParseError
    finally:
        content.CHUNK = old
    assert got == expected


def test_the_item_limit_answers_as_the_extra_item_begins(settings):
    settings.VBA_BATCH_MAX_ITEMS = 3
    assert list(parse(b"[{}, {}, {}]")) == [{}, {}, {}]
    with pytest.raises(PayloadTooLarge, match="more than 3 items"):
        parse(b"[{}, {}, {}, {")  # the fourth is not even complete


def test_the_byte_limit_counts_what_is_read(settings):
    settings.VBA_BATCH_MAX_BYTES = 100
    with pytest.raises(PayloadTooLarge, match="VBA_BATCH_MAX_BYTES"):
        parse(b"[" + b"1," * 60 + b"1]")


def test_an_object_body_is_parsed_whole():
    assert parse(b' {"a": [1, {"b": "]}"}]} ') == {"a": [1, {"b": "]}"}]}


def test_elements_are_parsed_when_read_and_released_by_the_engine():
    items = parse(b'[{"a": 1}, [2], "three"]')
    assert len(items) == 3 and items[1] == [2]
    items[0] = None
    assert list(items) == [None, [2], "three"]
    bound = items.map(lambda v: {"bound": v})
    assert bound[2] == {"bound": "three"}
    bound[1] = None
    assert items[1] is None


def test_the_body_digest_for_idempotency():
    import hashlib

    from django.test import RequestFactory

    body = b'[{"a": 1}, {"b": 2}]'
    request = RequestFactory().put("/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    JsonParser().parse(io.BytesIO(body), parser_context={"request": request})
    assert request.idempotency_digest == hashlib.sha256(body).hexdigest()
