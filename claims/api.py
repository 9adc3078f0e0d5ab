"""The claim prompt-pay routes of VBAPI."""

from vbaproject.api.routes import batch_routes, resource_routes
from vbaproject.api.views import EntityViewSet

from .models import ClaimPromptPay


class ClaimPromptPayViewSet(EntityViewSet):
    model = ClaimPromptPay


routes = [
    batch_routes("claim-prompt-pays-batch", ClaimPromptPayViewSet),
    *resource_routes("claim-prompt-pays", ClaimPromptPayViewSet),
]
