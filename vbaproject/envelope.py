"""The VBAPI envelope, ``{"data", "error", "debug"}``, and problem details for failures (§3).

Every API response goes through here: successes via ``envelope_response``, every exception a
view raises via ``exception_handler`` (DRF's handler supplies the status and headers such as
``WWW-Authenticate`` and ``Retry-After``; this one rewrites the body).
"""

import logging
from http import HTTPStatus

from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from vbaproject.activity import current_activity_id

logger = logging.getLogger(__name__)

_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    403: "https://tools.ietf.org/html/rfc9110#section-15.5.4",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    406: "https://tools.ietf.org/html/rfc9110#section-15.5.7",
    409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
    413: "https://tools.ietf.org/html/rfc9110#section-15.5.14",
    415: "https://tools.ietf.org/html/rfc9110#section-15.5.16",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is larger than this service accepts."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The client database cannot be reached right now; try again shortly."
    default_code = "database_unavailable"


def envelope(data):
    return {"data": data, "error": None, "debug": {"activityID": current_activity_id()}}


def envelope_response(data, status=200, headers=None):
    return Response(envelope(data), status=status, headers=headers)


def problem(status_code, detail, instance=None):
    """An envelope carrying an RFC 9457 problem-details object."""
    return {
        "data": None,
        "error": {
            "type": _PROBLEM_TYPES.get(status_code, "about:blank"),
            "title": HTTPStatus(status_code).phrase,
            "status": status_code,
            "detail": detail,
            "instance": instance,
        },
        "debug": {"activityID": current_activity_id()},
    }


def _detail_text(detail):
    if isinstance(detail, list):
        return "; ".join(_detail_text(d) for d in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_detail_text(value)}" for key, value in detail.items())
    return str(detail)


def exception_handler(exc, context):
    from vbaproject.batch import DatabaseUnavailable

    request = context.get("request")
    instance = request.path if request is not None else None
    if isinstance(exc, OperationalError | InterfaceError | DatabaseUnavailable):
        logger.warning("client database unavailable: %s", exc)
        exc = ServiceUnavailable()
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.error("unexpected error", exc_info=exc)
        detail = f"An unexpected error occurred; quote activityID {current_activity_id()} when reporting it."
        return Response(problem(500, detail, instance), status=500)
    if isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = "5"
    data = response.data
    detail = _detail_text(data.get("detail", data) if isinstance(data, dict) else data)
    response.data = problem(response.status_code, detail, instance)
    return response
