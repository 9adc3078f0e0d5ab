"""The OpenAPI document against the field rules, the routes and the documented answers.

Expectations come from tests/data/vba-field-constraints.json (VBASoftware's own models), the
URL patterns the service really has, and the statuses the README documents, never from a stored copy of
the document.
"""

import re
from urllib.parse import urlencode

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

from tests.support.constraints import CONSTRAINTS, EACH_RULE
from tests.support.entities import BY_NAME

pytestmark = pytest.mark.django_db(databases=["default", "demo", "other"])

TYPES = {
    "Integer": {"type": "integer", "format": "int32"},
    "Float": {"type": "number", "format": "double"},
    "Boolean": {"type": "boolean"},
    "Time": {"type": "string", "format": "date-time"},
    "String": {"type": "string"},
}
AUDIT = {"entry_Date", "entry_User", "update_Date", "update_User"}
METHODS = ("get", "put", "post", "delete", "patch")
DOCS_ROUTES = {"openapi.json", "docs/"}


@pytest.fixture(scope="module")
def document(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/vbasoftware/openapi.json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def schema_of(document, name):
    return document["components"]["schemas"][name]


def resolve(document, node):
    """Follow a local ``$ref`` (components/...) to the object it names."""
    while isinstance(node, dict) and "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = document["components"][section][name]
    return node


def operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def served_routes():
    """(path as in the document, method) of every API route the URL patterns really serve."""
    found = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("vbasoftware/"):
                route = route.removeprefix("vbasoftware/")
                actions = getattr(pattern.callback, "actions", None)
                if route in DOCS_ROUTES:
                    continue
                assert actions, f"{route} is not a VBA view"
                path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
                # DRF answers HEAD wherever there is a GET (and adds it to ``actions`` when it does).
                found.update((path, method) for method in actions if method != "head")

    walk(get_resolver().url_patterns, "")
    return found


# The document itself ----------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_and_public(document, client):
    validate_schema(document)
    assert document["openapi"].startswith("3.0")
    assert document["servers"] == [{"url": "/vbasoftware", "description": "This server"}]
    # No credentials, no database header: still 200.
    assert client.get("/vbasoftware/openapi.json").status_code == 200


def test_swagger_ui_is_public_and_served_from_this_host(client):
    response = client.get("/vbasoftware/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/vbasoftware/openapi.json" in page
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert "//cdn" not in page and "unpkg" not in page
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_every_route_is_documented_and_nothing_else(document):
    documented = {(path, method) for path, method, _ in operations(document)}
    assert documented == served_routes()


def test_the_documented_paths_are_vbapis(document):
    """Every VBAPI endpoint of the five entities the service offers is there, under VBAPI's path."""
    documented = {(re.sub(r"\{\w+\}", "{}", path), method) for path, method, _ in operations(document)}
    offered = {"batch_upsert", "batch_delete", "create", "get_update_delete", "list"}
    for entity, endpoints in CONSTRAINTS["related_endpoints"].items():
        if entity not in BY_NAME:
            continue
        for kind, endpoint in endpoints.items():
            if kind not in offered:
                continue
            words = endpoint.split()
            methods = ["get", "put", "delete"] if kind == "get_update_delete" else [words[0].lower()]
            path = re.sub(r"\{\w+\}", "{}", words[-1] if kind == "get_update_delete" else words[1])
            for method in methods:
                assert (path, method) in documented, (entity, kind, endpoint)
    assert ("/care-cases-batch", "put") in documented  # the simplified path of the seeds


def test_operation_ids_are_unique(document):
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


def test_security_schemes_and_every_route_requires_them(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKeyAuth"] == {
        **schemes["apiKeyAuth"],
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    assert schemes["bearerAuth"] == {
        **schemes["bearerAuth"],
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schemes["basicAuth"]["scheme"] == "basic"
    for path, _, operation in operations(document):
        expected = "basicAuth" if path == "/user-authentication" else "bearerAuth"
        assert operation["security"] == [{"apiKeyAuth": [], expected: []}], path


def test_every_route_takes_the_database_header(document):
    for path, method, operation in operations(document):
        headers = [
            resolve(document, p) for p in operation["parameters"] if resolve(document, p)["in"] == "header"
        ]
        writes = method in ("post", "put", "delete") and path != "/user-authentication"
        assert len(headers) == 1 + writes, (path, method)
        assert headers[0] == {**headers[0], "name": "vbasoftware-database", "in": "header", "required": True}
        assert headers[0]["schema"] == {"type": "string"}
        if writes:  # this service's extension (README, *For API consumers*)
            assert headers[1] == {
                **headers[1],
                "name": "Idempotency-Key",
                "required": False,
                "x-vbaproject-extension": True,
            }, (path, method)
            assert {"409", "422"} <= set(operation["responses"]), (path, method)


def test_path_parameters_are_the_key_fields(document):
    for path, method, operation in operations(document):
        in_path = {
            p["name"]: p
            for p in map(lambda p: resolve(document, p), operation["parameters"])
            if p["in"] == "path"
        }
        assert set(in_path) == set(re.findall(r"\{(\w+)\}", path)), (path, method)
        for name, parameter in in_path.items():
            assert parameter["required"] is True
            entity = next(e for e, fields in CONSTRAINTS["entities"].items() if name in fields)
            rule = CONSTRAINTS["entities"][entity][name]
            assert {
                k: parameter["schema"][k] for k in ("type", "format") if k in parameter["schema"]
            } == TYPES[rule["type"]]


def test_documented_statuses(document):
    for path, method, operation in operations(document):
        statuses = set(operation["responses"])
        has_body = "requestBody" in operation
        assert {"400", "401", "403", "429", "503"} <= statuses, (path, method)
        if "{" in path:
            assert "404" in statuses, (path, method)
        if has_body:
            assert {"413", "415"} <= statuses, (path, method)
        success = {s for s in statuses if s.startswith("2")}
        if path.endswith("-batch") or (path == "/auths" and method == "put"):
            assert success == {"207"}, (path, method)
            schema = operation["responses"]["207"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/MultiCodeResponseListVBAResponse"}
        elif method == "post" and path != "/user-authentication":
            assert success == {"201"} and "409" in statuses, (path, method)
        else:
            assert success == {"200"}, (path, method)
        for status in statuses - success:
            body = resolve(document, operation["responses"][status])
            assert body["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorVBAResponse"
            }
            assert "x-activity-id" in body["headers"]
        for status in {"429", "503"}:
            assert "Retry-After" in resolve(document, operation["responses"][status])["headers"]
    delete_case = document["paths"]["/care-plans/{carePlan_Key}/cases/{case_Key}"]["delete"]
    assert "409" in delete_case["responses"]  # clinical trials refer to care cases


def test_request_bodies_accept_every_json_content_type(document):
    for path, method, operation in operations(document):
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]
            assert set(content) == {"application/json", "text/json", "application/*+json"}, (path, method)
            assert operation["requestBody"]["required"] is True


def test_lists_have_their_paging_header_and_parameters(document):
    lists = [
        (p, o)
        for p, m, o in operations(document)
        if m == "get" and "{" not in p.rsplit("/", 1)[-1] and not p.endswith("/history")
    ]
    assert {p for p, _ in lists} == {
        "/auths",
        "/care-case-clinical-trials",
        "/care-plans/{carePlan_Key}/cases",
        "/claim-prompt-pays",
        "/grievances",
    }
    for path, operation in lists:
        ok = operation["responses"]["200"]
        assert resolve(document, ok["headers"]["x-pagination"])["required"] is True
        query = {p["name"]: p["schema"] for p in operation["parameters"] if p.get("in") == "query"}
        assert query["page"] == {
            "type": "integer",
            "format": "int32",
            "minimum": 1,
            "maximum": 2**31 - 1,
            "default": 1,
        }
        assert query["pageSize"] == {
            "type": "integer",
            "format": "int32",
            "minimum": 1,
            "maximum": 1000,
            "default": 100,
        }
        assert query["sortBy"] == {"type": "string"}
        schema = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert schema.endswith("ListVBAResponse"), path


def test_every_documented_list_parameter_is_accepted(document, api):
    """The document and the server agree: each documented query parameter works, others are a 400."""
    examples = {"int32": "1", "string": "X", "date-time": "2024-01-01T00:00:00Z"}
    for path, method, operation in operations(document):
        if method != "get" or not any(p.get("in") == "query" for p in operation["parameters"]):
            continue
        if path.endswith("/history"):  # a record's history: its paging is tests/test_history.py's
            continue
        url = "/vbasoftware" + path.replace("{carePlan_Key}", "7")
        envelope = resolve(document, operation["responses"]["200"]["content"]["application/json"]["schema"])
        entity = resolve(document, envelope["properties"]["data"]["items"])
        examples["sortBy"] = ",".join(f"{name}:desc" for name in entity["properties"])
        for parameter in operation["parameters"]:
            if parameter.get("in") != "query" or parameter["name"] == "after":
                continue  # after takes a NextCursor, no made-up value: tests/test_lists_at_scale.py
            schema = parameter["schema"]
            value = examples.get(parameter["name"]) or examples[schema.get("format", schema["type"])]
            response = api.get(f"{url}?{urlencode({parameter['name']: value})}")
            assert response.status_code == 200, (path, parameter["name"], response.content)
        assert api.get(f"{url}?notAParameter=1").status_code == 400


# Models against the field rules -----------------------------------------------------------------


@EACH_RULE
def test_every_field_of_every_entity_follows_its_rule(document, entity, name, rule):
    schema = schema_of(document, entity)
    field = schema["properties"][name]
    assert {k: field[k] for k in ("type", "format") if k in field} == TYPES[rule["type"]]
    assert field.get("nullable", False) is rule["nullable"]
    assert (name in schema["required"]) is rule["required"]
    assert field.get("maxLength") == rule["max_length"]
    assert field.get("minLength") == rule["min_length"]
    assert field.get("enum") == rule["enum"]
    assert " ".join(field["description"].split()) == " ".join(rule["description"].split())


@pytest.mark.parametrize("entity", CONSTRAINTS["entities"])
def test_entity_models_have_exactly_the_documented_fields_in_order(document, entity):
    schema = schema_of(document, entity)
    assert list(schema["properties"]) == list(CONSTRAINTS["entities"][entity])
    assert len(schema["properties"]) == CONSTRAINTS["entity_models"][entity]["attribute_count"]
    assert set(schema["required"]) <= set(schema["properties"]) and not set(schema["required"]) & AUDIT
    assert schema["additionalProperties"] is False  # an unknown field is a 400


@pytest.mark.parametrize("entity", CONSTRAINTS["entity_models"])
def test_entity_envelopes_are_named_as_vbapis(document, entity):
    names = CONSTRAINTS["entity_models"][entity]
    single = schema_of(document, names["single_envelope"])["properties"]
    listed = schema_of(document, names["list_envelope"])["properties"]
    assert single["data"] == {"allOf": [{"$ref": f"#/components/schemas/{entity}"}], "nullable": True}
    assert listed["data"] == {
        "type": "array",
        "items": {"$ref": f"#/components/schemas/{entity}"},
        "nullable": True,
    }
    for envelope in (single, listed):
        assert set(envelope) == {"data", "error", "debug"}
        assert envelope["error"]["allOf"] == [{"$ref": "#/components/schemas/VBAProblemDetails"}]
        assert "nullable" not in envelope["error"]  # as VBASoftware's: an object, left out on success
        assert envelope["debug"] == {"$ref": "#/components/schemas/Debug"}


def _check_attributes(document, model, attributes):
    schema = schema_of(document, model)
    for name, rule in attributes.items():
        field = schema["properties"][name]
        kind = rule["type"]
        if kind in TYPES:
            assert {k: field[k] for k in ("type", "format") if k in field} == TYPES[kind], (model, name)
        elif kind.startswith("Array<"):
            item = kind.removeprefix("Array<").removesuffix(">")
            assert field["type"] == "array" and field["items"] == {"$ref": f"#/components/schemas/{item}"}
        else:
            assert field == {"$ref": f"#/components/schemas/{kind}"} or field.get("allOf") == [
                {"$ref": f"#/components/schemas/{kind}"}
            ], (model, name)
        assert field.get("minLength") == rule["min_length"], (model, name)
        assert (name in schema.get("required", [])) is rule["required"], (model, name)


def test_the_multi_status_model(document):
    batch = CONSTRAINTS["batch_response"]
    item = batch["item_model"]
    assert list(schema_of(document, item["model"])["properties"]) == list(item["attributes"])
    _check_attributes(document, item["model"], item["attributes"])
    # VBAPI's key values are integers or strings (an auth number): the document says "any, or null".
    key_value = dict(batch["key_value_model"]["attributes"])
    pair = schema_of(document, "KeyValuePair")["properties"]
    assert pair["value"].get("nullable") is True and "type" not in pair["value"]
    _check_attributes(document, "KeyValuePair", {"key": key_value["key"]})
    envelope = schema_of(document, batch["model"])["properties"]
    assert envelope["data"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/MultiCodeResponse"},
        "nullable": True,
    }


def test_the_problem_details_and_debug_models(document):
    problem = CONSTRAINTS["problem_details"]
    schema = schema_of(document, problem["model"])
    assert set(schema["properties"]) == set(problem["attributes"])
    for name, rule in problem["attributes"].items():
        field = schema["properties"][name]
        assert {k: field[k] for k in ("type", "format") if k in field} == TYPES[rule["type"]], name
        assert field.get("nullable", False) is rule["nullable"], name
    debug = CONSTRAINTS["debug"]
    assert list(schema_of(document, debug["model"])["properties"]) == list(debug["attributes"])
    _check_attributes(document, debug["model"], debug["attributes"])
    error = schema_of(document, "ErrorVBAResponse")
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["allOf"] == [{"$ref": f"#/components/schemas/{problem['model']}"}]


def test_the_login_model(document):
    auth = CONSTRAINTS["authentication_result"]
    schema = schema_of(document, auth["model"])
    for name, rule in auth["attributes"].items():
        field = schema["properties"][name]
        assert {k: field[k] for k in ("type", "format") if k in field} == TYPES[rule["type"]], name
    login = document["paths"]["/user-authentication"]["post"]["responses"]["200"]
    envelope = CONSTRAINTS["user_authentication_response"]["envelope"]["model"]
    assert login["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{envelope}"}


def test_every_record_route_has_its_history_paged_like_the_lists(document):
    records = {p for p, m, _ in operations(document) if m == "get" and p.endswith("}")}
    histories = {p: o for p, m, o in operations(document) if m == "get" and p.endswith("/history")}
    assert set(histories) == {f"{p}/history" for p in records}
    for operation in histories.values():
        ok = operation["responses"]["200"]
        assert ok["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ChangeListVBAResponse"
        }
        assert resolve(document, ok["headers"]["x-pagination"])["required"] is True
        assert {p["name"] for p in operation["parameters"] if p.get("in") == "query"} == {"page", "pageSize"}
        assert "404" in operation["responses"]
    change = document["components"]["schemas"]["Change"]["properties"]
    assert change["action"]["enum"] == ["create", "update", "delete"]
    assert change["changes"]["items"] == {"$ref": "#/components/schemas/FieldChange"}
