"""The five entity models and their batch routes (contract §1), as the tests address them."""

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from claims.models import ClaimPromptPay
from grievances.models import Grievance

MODELS = (CareCase, CareCaseClinicalTrial, Grievance, ClaimPromptPay, Auth)
BATCH_ROUTES = {
    CareCase: "/vbasoftware/care-cases-batch",
    CareCaseClinicalTrial: "/vbasoftware/care-case-clinical-trials-batch",
    Grievance: "/vbasoftware/grievances-batch",
    ClaimPromptPay: "/vbasoftware/claim-prompt-pays-batch",
    Auth: "/vbasoftware/auths",
}
