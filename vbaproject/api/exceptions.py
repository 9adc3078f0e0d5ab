"""Every error the API answers, and the handler that puts them in the envelope.

A view raises one of these (or DRF's own: ``NotAuthenticated``, ``Throttled`` ...);
``exception_handler``, DRF's ``EXCEPTION_HANDLER``, lets DRF supply the status and headers such
as ``WWW-Authenticate`` and ``Retry-After``, then rewrites the body as an RFC 9457 problem in the
envelope. A lost client database is a 503 with ``Retry-After``, and so is one at the cap of its
bulkhead; anything unexpected a 500 that quotes the activity ID, its traceback in the log only.
"""

import logging

from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from vbaproject.api.activity import current_activity_id
from vbaproject.api.envelope import problem
from vbaproject.db.limits import DeadlinePassed
from vbaproject.engine.outcomes import DatabaseTooSlow, WriteCutShort

logger = logging.getLogger(__name__)

DATABASE_HEADER = "vbasoftware-database"
RETRY_AFTER_SECONDS = 5  # when to try again after the client database failed a write


class PayloadTooLarge(exceptions.APIException):
    """More items or bytes than the configured limits (``VBA_BATCH_MAX_ITEMS``, ``VBA_BATCH_MAX_BYTES``)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is larger than this service accepts."


class ServiceUnavailable(exceptions.APIException):
    """The client database cannot be reached; answered with ``Retry-After``."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The client database cannot be reached right now; try again shortly."


class DatabaseAtCapacity(exceptions.APIException):
    """The client database already serves its cap of concurrent requests in this process
    (``vbaproject.db.bulkheads``): 503 with ``Retry-After``, answered at once."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self, database, wait):
        super().__init__(f"The client database {database} is at capacity; try again in {wait} s.")
        self.wait = wait  # DRF's handler sends it as Retry-After


class BadRequest(exceptions.APIException):
    """A 400 whose detail is one readable string (a parameter, a body or a path value is wrong)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request is not valid."


class DatabaseHeaderMissing(BadRequest):
    default_detail = f"The {DATABASE_HEADER} header is required: it names the client database to work on."


class DatabaseForbidden(exceptions.PermissionDenied):
    # One answer for "not configured" and "not yours", so a caller cannot probe for names.
    default_detail = f"The database named in {DATABASE_HEADER} is not available to this caller."


class Conflict(exceptions.APIException):
    """The request conflicts with the stored records: a key taken, a record still referred to."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the stored records."


def _detail_text(detail):
    if isinstance(detail, list):
        return "; ".join(_detail_text(d) for d in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_detail_text(value)}" for key, value in detail.items())
    return str(detail)


def exception_handler(exc, context):
    request = context.get("request")
    instance = request.path if request is not None else None
    if isinstance(exc, DeadlinePassed):
        exc = DatabaseTooSlow(str(exc))
    if isinstance(exc, OperationalError | InterfaceError | WriteCutShort):
        # A write cut short before anything was written (after, the engine answers 207).
        logger.warning("client database unavailable or too slow: %s", exc)
        exc = ServiceUnavailable(exc.detail if isinstance(exc, WriteCutShort) else None)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.error("unexpected error", exc_info=exc)
        detail = f"An unexpected error occurred; quote activityID {current_activity_id()} when reporting it."
        return Response(problem(500, detail, instance), status=500)
    if isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    data = response.data
    detail = _detail_text(data.get("detail", data) if isinstance(data, dict) else data)
    response.data = problem(response.status_code, detail, instance)
    return response
