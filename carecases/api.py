"""The care-case routes of VBAPI: cases live under their care plan, trials at the top level."""

from vbaproject.api.routes import batch_routes, resource_routes
from vbaproject.api.views import EntityViewSet

from .models import CareCase, CareCaseClinicalTrial


class CareCaseViewSet(EntityViewSet):
    model = CareCase


class CarePlanCaseViewSet(CareCaseViewSet):
    """The cases of the care plan named in the path."""

    path_fields = ("carePlan_Key",)


class CareCaseClinicalTrialViewSet(EntityViewSet):
    model = CareCaseClinicalTrial


routes = [
    batch_routes("care-cases-batch", CareCaseViewSet),
    *resource_routes("care-plans/{carePlan_Key}/cases", CarePlanCaseViewSet),
    batch_routes("care-plans/{carePlan_Key}/cases-batch", CarePlanCaseViewSet),
    batch_routes("care-case-clinical-trials-batch", CareCaseClinicalTrialViewSet),
    *resource_routes("care-case-clinical-trials", CareCaseClinicalTrialViewSet),
]
