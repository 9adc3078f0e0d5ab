"""The VBAPI envelope, ``{"data", "error", "debug"}``, and problem details for failures.

Every API response goes through here (README, *For API consumers*): successes via
``envelope_response``, the engine's per-item outcomes via ``multi_code_response``, failures via
``problem`` (from ``vbaproject.api.exceptions.exception_handler``).
"""

from http import HTTPStatus

from rest_framework.response import Response

from vbaproject.api.activity import current_activity_id

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
    422: "https://tools.ietf.org/html/rfc9110#section-15.5.21",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
}


def envelope(data):
    """A success: ``data`` and ``debug``. ``error`` is left out rather than null: VBASoftware's
    schema declares it a non-nullable object, and strict generated clients reject the null."""
    return {"data": data, "debug": {"activityID": current_activity_id()}}


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


def multi_code_response(outcomes, key_name):
    """The engine's item outcomes as VBAPI ``MultiCodeResponse`` objects, in order."""
    return [
        {"id": [{"key": key_name, "value": o.key}], "status": o.kind.status, "body": o.body} for o in outcomes
    ]
