"""Requests refused before any view reads them: bodies too large for the admin, and NUL characters.

``BodyLimitMiddleware``: outside the API, a request whose ``Content-Length`` is over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's 2.5 MB; the admin has no file uploads) is answered
413 before anything reads its body. Django's own check covers only form bodies read through
``request.POST``/``request.body``; a multipart body would still be read to the end (its file
parts spooled to disk) before the login view refused it, and a 200 MB POST to ``/admin/login/``
used to be read whole into memory. The API's batch routes (``/vbasoftware/``) read their body as
a stream with their own, larger limit (``VBA_BATCH_MAX_BYTES``, ``vbaproject.api.content``), and
are left alone here.

``RejectNulMiddleware``: PostgreSQL text cannot hold NUL (U+0000); psycopg refuses a query
parameter containing one, so an admin search (``?q=%00``), a list filter or a form value with
one ended as a 500. No legitimate value carries it: outside the API, a path, query string or
form value with NUL is answered 400 here. The API checks its own input (a key with NUL names no
record: 404; a list parameter with NUL is a 400 that names it; an item value with NUL is that
item's 400).
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse

API_PREFIX = "/vbasoftware/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_api(request):
    return request.path_info.startswith(API_PREFIX)


def _refuse(request, status, detail):
    if _is_api(request):
        from vbaproject.api.envelope import problem  # the API's envelope (imports DRF)

        return JsonResponse(problem(status, detail, request.path), status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


class BodyLimitMiddleware:
    """413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` outside the API, from its Content-Length."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and not _is_api(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                detail = f"The request body is larger than this page accepts ({limit} bytes)."
                return _refuse(request, 413, detail)
        return self.get_response(request)


def _has_nul(values):
    return any("\x00" in key or any("\x00" in v for v in vs) for key, vs in values.lists())


class RejectNulMiddleware:
    """400 for NUL in the path, the query string or a form value, outside the API."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _is_api(request):
            return self.get_response(request)
        if "\x00" in request.path_info or _has_nul(request.GET):
            return _refuse(request, 400, "The request's URL contains a NUL character.")
        if request.method == "POST" and request.content_type in FORM_TYPES and _has_nul(request.POST):
            return _refuse(request, 400, "A form value contains a NUL character.")
        return self.get_response(request)
