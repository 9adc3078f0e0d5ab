"""JSON in and out of the API: orjson, the content types VBAPI accepts, the body size limit."""

import orjson
from django.conf import settings
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer

from vbaproject.api.exceptions import PayloadTooLarge


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


class JsonParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.VBA_BATCH_MAX_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large()
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise _too_large()
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from None


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
