"""The auth routes of VBAPI (its batch route has no -batch suffix: PUT /auths)."""

from vbaproject.api_resources import resource_routes

from .models import Auth

routes = [*resource_routes("auths", Auth, batch_put=True)]
