"""The auth routes of VBAPI (its batch route has no -batch suffix: PUT /auths)."""

from vbaproject.api_views import batch_route

from .models import Auth

routes = [batch_route("auths", Auth)]
