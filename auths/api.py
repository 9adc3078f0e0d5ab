"""The auth routes of VBAPI (its batch route has no -batch suffix: PUT /auths)."""

from vbaproject.api.routes import resource_routes
from vbaproject.api.views import EntityViewSet

from .models import Auth


class AuthViewSet(EntityViewSet):
    model = Auth


routes = [*resource_routes("auths", AuthViewSet, batch_put=True)]
