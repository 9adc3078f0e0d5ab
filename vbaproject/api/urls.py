"""The VBAPI routes: every entity app's ``api.routes``, the login, and the OpenAPI document."""

from importlib import import_module

from vbaproject.accounts.views import routes as login_routes
from vbaproject.api.docs import routes as docs_routes
from vbaproject.apps import entity_apps

urlpatterns = [route for app in entity_apps() for route in import_module(f"{app.name}.api").routes]

# POST user-authentication: the login that gives the ID token every other route needs.
urlpatterns += login_routes

# The OpenAPI document and Swagger UI over it: public, generated from the code.
urlpatterns += docs_routes
