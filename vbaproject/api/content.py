"""JSON in and out of the API: orjson, the content types VBAPI accepts, the body size limits.

A batch body may be tens of megabytes. Parsed whole, a body of 20,000,000 empty objects would
build a 20-million-element list before the item limit could refuse it. So a body that is a JSON
array is read as a stream, ``CHUNK`` bytes at a time, and cut into its elements by a small
scanner (``_element_end``: strings, escapes and nesting depth, with regular expressions that
skip whole runs of bytes in C); each element is parsed by orjson on its own, and the item limit
(``VBA_BATCH_MAX_ITEMS``) answers 413 as soon as one element too many begins. The parse is a
``JsonArray``: each element kept as its own bytes, parsed again when the engine reads it (see
there why). Any other body (a single record) is read whole within ``VBA_BATCH_MAX_BYTES`` and
parsed by orjson.

With an ``Idempotency-Key`` header the parser also hashes the body as it reads it
(``request.idempotency_digest``, SHA-256 hex, set once the whole body is read), for
``vbaproject.idempotency`` to tell a retry from a different request with the same key.
"""

import hashlib
import re

import orjson
from django.conf import settings
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer

from vbaproject.api.exceptions import PayloadTooLarge

CHUNK = 256 * 1024  # bytes read from the body at a time
IDEMPOTENCY_META = "HTTP_IDEMPOTENCY_KEY"

_WS = re.compile(rb"[ \t\n\r]*+")
_STRING_RE = rb'"(?:[^"\\]++|\\.)*+"'
_STRING = re.compile(_STRING_RE, re.DOTALL)
_RUN = rb"(?:[^\"{}\[\]]++|" + _STRING_RE + rb")*+"  # bytes up to a bracket or an unterminated string
_SKIP = re.compile(_RUN, re.DOTALL)
# An object or array holding no other, the common batch item: matched in one go.
_FLAT = re.compile(rb"\{" + _RUN + rb"\}|\[" + _RUN + rb"\]", re.DOTALL)
_SCALAR = re.compile(rb'[^ \t\n\r,\[\]{}"]++')
_OPEN = frozenset(b"{[")


def is_json_media_type(content_type):
    """application/json, text/json or application/*+json, with or without parameters."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return (main, sub) in {("application", "json"), ("text", "json")} or (
        main == "application" and sub.endswith("+json")
    )


def _too_large():
    limit = settings.VBA_BATCH_MAX_BYTES
    return PayloadTooLarge(f"The body is larger than {limit} bytes (VBA_BATCH_MAX_BYTES).")


def _too_many():
    limit = settings.VBA_BATCH_MAX_ITEMS
    return PayloadTooLarge(
        f"The batch has more than {limit} items; at most {limit} are accepted (VBA_BATCH_MAX_ITEMS)."
    )


def _not_json(detail):
    return exceptions.ParseError(f"The body is not valid JSON: {detail}")


def _element_end(buf, pos):
    """Where the JSON value starting at ``buf[pos]`` ends, or None when ``buf`` ends first.

    Only its extent is found here (strings, escapes, depth); orjson judges the value itself.
    """
    first = buf[pos]
    if first == 0x22:  # "
        match = _STRING.match(buf, pos)
        return match.end() if match else None
    if first in _OPEN:
        match = _FLAT.match(buf, pos)
        if match:
            return match.end()
        depth, end, size = 0, pos, len(buf)
        while True:
            end = _SKIP.match(buf, end).end()
            if end == size or buf[end] == 0x22:  # the buffer ends, within a string perhaps
                return None
            depth += 1 if buf[end] in _OPEN else -1
            end += 1
            if depth == 0:
                return end
    match = _SCALAR.match(buf, pos)
    if match is None:  # a stray } or ]
        raise _not_json(f"unexpected {chr(first)!r}")
    return match.end() if match.end() < len(buf) else None


def _element(buf, pos, index):
    """Where the JSON value starting at ``buf[pos]`` ends, checked by orjson; None when ``buf`` ends first.

    An object is first tried up to each of its first few closing braces: when a prefix parses,
    it is the whole object (a JSON value ends where its prefix first balances), and orjson has
    found it faster than the scanner would. Otherwise the scanner finds the end.
    """
    if buf[pos] == 0x7B:  # {
        end = pos
        for _ in range(4):
            end = buf.find(b"}", end) + 1
            if not end:
                break
            try:
                orjson.loads(buf[pos:end])
                return end
            except orjson.JSONDecodeError:
                pass
    end = _element_end(buf, pos)
    if end is None:
        return None
    try:
        orjson.loads(buf[pos:end])
    except orjson.JSONDecodeError as exc:
        raise _not_json(f"item {index}: {exc}") from None
    return end


class _Body:
    """The request body, read ``CHUNK`` bytes at a time into ``buf`` (within the byte limit)."""

    def __init__(self, stream, digest):
        self.stream = stream
        self.digest = digest
        self.buf = bytearray()
        self.read = 0
        self.eof = False

    def more(self, at_least=CHUNK):
        """Read at least ``at_least`` more bytes (fewer at the end); False at the end of the body."""
        if self.eof:
            return False
        limit = settings.VBA_BATCH_MAX_BYTES
        data = self.stream.read(min(max(at_least, CHUNK), limit + 1 - self.read))
        if not data:
            self.eof = True
            return False
        self.read += len(data)
        if self.read > limit:
            raise _too_large()
        if self.digest is not None:
            self.digest.update(data)
        self.buf += data
        return True

    def skip_ws(self, pos):
        """The position of the next byte that is not whitespace; ``len(buf)`` at the end of the body."""
        while True:
            pos = _WS.match(self.buf, pos).end()
            if pos < len(self.buf) or not self.more():
                return pos

    def rest(self):
        while self.more():
            pass
        return self.buf


def parse_array(body, pos):
    """The elements of the JSON array starting at ``body.buf[pos]``, within the item limit."""
    items = []
    try:
        return _read_elements(body, pos, items, settings.VBA_BATCH_MAX_ITEMS)
    except BaseException:
        items.clear()  # a traceback keeps this frame: it must not keep the items too
        raise


def _read_elements(body, pos, items, max_items):
    pos = body.skip_ws(pos + 1)
    if pos < len(body.buf) and body.buf[pos] == 0x5D:  # ]
        pos += 1
    else:
        while True:
            if pos == len(body.buf):
                raise _not_json("the array is not closed")
            if len(items) == max_items:
                raise _too_many()
            while (end := _element(body.buf, pos, len(items))) is None:
                # Read on; as much again as the element has so far, so a long one is scanned
                # a few times, not once per chunk.
                if not body.more(len(body.buf) - pos):
                    raise _not_json(f"item {len(items)} is not complete")
            items.append(body.buf[pos:end])
            pos = body.skip_ws(end)
            separator = body.buf[pos] if pos < len(body.buf) else None
            if separator not in (0x2C, 0x5D):  # , ]
                raise _not_json(f"after item {len(items) - 1}, a ',' or ']' is expected")
            pos += 1
            if pos > CHUNK:  # drop what is parsed (cheap: a bytearray drops its head in place)
                del body.buf[:pos]
                pos = 0
            if separator == 0x5D:
                break
            pos = body.skip_ws(pos)
    if body.skip_ws(pos) < len(body.buf):
        raise _not_json("there is more after the array")
    return JsonArray(items)


class JsonArray:
    """The elements of a JSON array body, each kept as its bytes and parsed when it is read.

    Parsed, 10,000 Auths take three and a half times the bytes of their JSON; a batch item is
    read once, by the engine, which then releases it (``items[i] = None``). So an element stays
    bytes until then, and the request's peak is the body plus the engine's rows, not the body
    plus every parsed item. Every element was parsed once already, by the parser: reading one
    cannot fail. ``map(fn)`` is the same elements with ``fn`` applied as each is read.
    """

    __slots__ = ("_elements", "_transform")

    def __init__(self, elements, transform=None):
        self._elements = elements  # bytearray (not parsed yet) or the value itself
        self._transform = transform

    def __len__(self):
        return len(self._elements)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        value = self._elements[index]
        if isinstance(value, bytearray):
            value = orjson.loads(value)
            if self._transform is not None:
                value = self._transform(value)
        return value

    def __setitem__(self, index, value):
        self._elements[index] = value

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __eq__(self, other):
        return isinstance(other, JsonArray | list) and list(self) == list(other)

    __hash__ = None

    def __repr__(self):
        return f"<JsonArray of {len(self)} elements>"

    def map(self, transform):
        """The same elements (releasing one releases it here too), ``transform`` applied as read."""
        if self._transform is not None:
            first = self._transform
            return JsonArray(self._elements, lambda value: transform(first(value)))
        return JsonArray(self._elements, transform)


class JsonParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.VBA_BATCH_MAX_BYTES
        request = (parser_context or {}).get("request")
        meta = request.META if request is not None else {}
        declared = meta.get("CONTENT_LENGTH")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large()
        digest = hashlib.sha256() if meta.get(IDEMPOTENCY_META) else None
        body = _Body(stream, digest)
        try:
            pos = body.skip_ws(0)
            if pos < len(body.buf) and body.buf[pos] == 0x5B:  # [
                data = parse_array(body, pos)
            else:
                try:
                    data = orjson.loads(body.rest())
                except orjson.JSONDecodeError as exc:
                    raise _not_json(exc) from None
        finally:
            body.buf = None  # nor the body's bytes
        if digest is not None:
            request.idempotency_digest = digest.hexdigest()
        return data


class JsonRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, option=orjson.OPT_UTC_Z)


class ContentNegotiation(DefaultContentNegotiation):
    """Accept every JSON content type VBAPI accepts, and always answer JSON.

    Generated VBAPI clients send ``Accept: text/plain`` as often as ``application/json``; the
    answer is the same envelope either way, never a 406.
    """

    def select_parser(self, request, parsers):
        if is_json_media_type(request.content_type or ""):
            return next((p for p in parsers if isinstance(p, JsonParser)), None)
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
