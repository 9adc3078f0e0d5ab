"""The claim prompt-pay routes of VBAPI."""

from vbaproject.api_resources import batch_routes, resource_routes

from .models import ClaimPromptPay

routes = [
    batch_routes("claim-prompt-pays-batch", ClaimPromptPay),
    *resource_routes("claim-prompt-pays", ClaimPromptPay),
]
