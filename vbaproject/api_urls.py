"""The VBAPI routes, collected from each entity app's ``api.routes``."""

from auths import api as auths_api
from carecases import api as carecases_api
from claims import api as claims_api
from grievances import api as grievances_api
from vbaproject import api_docs, auth_views

urlpatterns = [*carecases_api.routes, *grievances_api.routes, *claims_api.routes, *auths_api.routes]

# POST user-authentication: the login that gives the ID token every other route needs.
urlpatterns += auth_views.routes

# The OpenAPI document and Swagger UI over it: public, generated from the code.
urlpatterns += api_docs.routes
