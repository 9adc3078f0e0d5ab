"""The VBAPI routes, collected from each entity app's ``api.routes``."""

from auths import api as auths_api
from carecases import api as carecases_api
from claims import api as claims_api
from grievances import api as grievances_api

urlpatterns = [*carecases_api.routes, *grievances_api.routes, *claims_api.routes, *auths_api.routes]
