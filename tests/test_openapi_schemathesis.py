"""schemathesis against a live server: every documented route, with valid credentials.

Requests are generated from the OpenAPI document (valid and invalid ones: examples and
fuzzing) and sent over real HTTP to a live server with the ``api`` fixture's API key, bearer
token and database (the login route gets the user's password instead). No answer may be a
5xx, and every answer must be one the document promises: a documented status, JSON, the
documented headers and a body that matches the documented schema.

The document is the one the code generates; the live server must serve exactly it.
"""

import base64
import json

import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from auths.models import Auth
from carecases.models import CareCase, CareCaseClinicalTrial
from claims.models import ClaimPromptPay
from grievances.models import Grievance
from vbaproject.db.routing import using_client_database
from vbaproject.engine.upsert import upsert_batch
from vbaproject.spec.sample_data import sample_item

MAX_EXAMPLES = 30  # per operation; about 30 s for all of them on SQLite
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
DOCUMENT = SchemaGenerator().get_schema(public=True)
# Examples and fuzzing, valid and invalid data. The coverage phase's exhaustive boundary cases
# would be thousands of requests for Auth's 94 fields: too many for every CI run.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def _seed():
    """Records under the keys generated data names most often (0, 1, 2), so reads and writes find some."""
    with using_client_database("demo"):
        for model, keys in [(Grievance, (1, 2)), (ClaimPromptPay, (1, 2)), (Auth, ("0", "1", "A"))]:
            key = model._meta.pk.name
            results = upsert_batch(model, [sample_item(model, **{key: k}) for k in keys], user="seed")
            assert {r.status for r in results} == {201}
        cases = [sample_item(CareCase, case_Key=k, carePlan_Key=plan) for k, plan in ((1, 0), (2, 1), (3, 1))]
        trials = [sample_item(CareCaseClinicalTrial, careCaseClinicalTrial_Key=k, case_Key=k) for k in (1, 2)]
        for model, items in ((CareCase, cases), (CareCaseClinicalTrial, trials)):
            assert {r.status for r in upsert_batch(model, items, user="seed")} == {201}


@pytest.fixture
def live_api(live_server, api):
    """The live server serving the document under test, a few records, and the credentials."""
    served = requests.get(f"{live_server.url}/vbasoftware/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(DOCUMENT))
    _seed()
    return live_server, api


def _headers(case, api):
    if case.operation.path == "/user-authentication":
        basic = base64.b64encode(f"{api.username}:{api.password}".encode()).decode()
        return {"x-api-key": api.key, "Authorization": f"Basic {basic}", "vbasoftware-database": "demo"}
    return api.headers()


@pytest.mark.django_db(transaction=True, databases=["default", "demo", "other"])
@pytest.mark.usefixtures("keep_key_sequences")
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_answers_as_documented(case, live_api):
    live_server, api = live_api
    case.call_and_validate(
        base_url=f"{live_server.url}/vbasoftware", headers=_headers(case, api), checks=CHECKS
    )
