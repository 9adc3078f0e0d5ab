"""The activity ID: one per request, in the envelope, the x-activity-id header and every log line."""

import contextvars
import logging
import uuid

from django.core.signals import request_finished
from django.dispatch import receiver

ACTIVITY_HEADER = "x-activity-id"
_activity_id = contextvars.ContextVar("vba_activity_id", default="-")


def current_activity_id():
    return _activity_id.get()


class ActivityIdFilter(logging.Filter):
    """Stamp every log record with the activity ID of the request that wrote it."""

    def filter(self, record):
        record.activity_id = _activity_id.get()
        return True


class ActivityIdMiddleware:
    """Give the request its activity ID and send it back as ``x-activity-id``.

    The ID stays set until the request is finished, so the lines Django writes after the
    middleware chain (``django.request``'s "Bad Request: ..." and the like) carry it too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        activity_id = str(uuid.uuid4())
        _activity_id.set(activity_id)
        request.activity_id = activity_id
        response = self.get_response(request)
        response[ACTIVITY_HEADER] = activity_id
        return response


@receiver(request_finished)
def _forget_activity_id(**kwargs):
    _activity_id.set("-")
