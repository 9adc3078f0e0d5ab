"""The care-case routes of VBAPI."""

from vbaproject.api_views import batch_route

from .models import CareCase, CareCaseClinicalTrial

routes = [
    batch_route("care-cases-batch", CareCase),
    batch_route("care-case-clinical-trials-batch", CareCaseClinicalTrial),
]
