"""The grievance routes of VBAPI."""

from vbaproject.api.routes import batch_routes, resource_routes
from vbaproject.api.views import EntityViewSet

from .models import Grievance


class GrievanceViewSet(EntityViewSet):
    model = Grievance


routes = [
    *resource_routes("grievances", GrievanceViewSet),
    batch_routes("grievances-batch", GrievanceViewSet, delete=True),
]
