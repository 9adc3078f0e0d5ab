"""The grievance routes of VBAPI."""

from vbaproject.api_resources import batch_routes, resource_routes

from .models import Grievance

routes = [
    *resource_routes("grievances", Grievance),
    batch_routes("grievances-batch", Grievance, delete=True),
]
