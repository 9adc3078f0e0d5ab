"""The claim prompt-pay routes of VBAPI."""

from vbaproject.api_resources import resource_routes
from vbaproject.api_views import batch_route

from .models import ClaimPromptPay

routes = [
    batch_route("claim-prompt-pays-batch", ClaimPromptPay),
    *resource_routes("claim-prompt-pays", ClaimPromptPay),
]
