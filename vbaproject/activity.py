"""The activity ID: one per request, in the envelope, the x-activity-id header and every log line."""

import contextvars
import logging
import uuid

_activity_id = contextvars.ContextVar("vba_activity_id", default="-")


def current_activity_id():
    return _activity_id.get()


class ActivityIdFilter(logging.Filter):
    """Stamp every log record with the activity ID of the request that wrote it."""

    def filter(self, record):
        record.activity_id = _activity_id.get()
        return True


class ActivityIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        activity_id = str(uuid.uuid4())
        token = _activity_id.set(activity_id)
        request.activity_id = activity_id
        try:
            response = self.get_response(request)
        finally:
            _activity_id.reset(token)
        response["x-activity-id"] = activity_id
        return response
