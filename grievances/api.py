"""The grievance routes of VBAPI."""

from vbaproject.api_views import batch_route

from .models import Grievance

routes = [batch_route("grievances-batch", Grievance)]
