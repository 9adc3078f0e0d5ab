"""The care-case routes of VBAPI: cases live under their care plan, trials at the top level."""

from vbaproject.api_resources import batch_routes, resource_routes

from .models import CareCase, CareCaseClinicalTrial

routes = [
    batch_routes("care-cases-batch", CareCase),
    *resource_routes("care-plans/{carePlan_Key}/cases", CareCase),
    batch_routes("care-plans/{carePlan_Key}/cases-batch", CareCase),
    batch_routes("care-case-clinical-trials-batch", CareCaseClinicalTrial),
    *resource_routes("care-case-clinical-trials", CareCaseClinicalTrial),
]
