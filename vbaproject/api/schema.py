"""The OpenAPI 3 document of the VBAPI routes, generated from the code.

drf-spectacular walks the URL patterns; ``VbaAutoSchema`` (DRF's schema class) describes every
VBA operation from the route and the entity spec, and ``add_vba_components`` (a
postprocessing hook) adds the models, named as in VBASoftware's own document: the entities
(``Grievance``), their envelopes (``GrievanceVBAResponse``, ``GrievanceListVBAResponse``), the
batch answer (``MultiCodeResponseListVBAResponse``, ``MultiCodeResponse``, ``KeyValuePair``),
the failure (``VBAProblemDetails`` in ``ErrorVBAResponse``) and ``Debug``.

Nothing here lists an entity's fields: names, types, nullability, required-ness, lengths and
descriptions all come from ``entity_spec``, the one declaration the validator reads too.

Served at ``/vbasoftware/openapi.json`` with Swagger UI at ``/vbasoftware/docs/`` (``vbaproject.api.docs``).
"""

import re

from django.db.models import PROTECT
from drf_spectacular.openapi import AutoSchema

from vbaproject.accounts.authentication import API_KEY_HEADER
from vbaproject.api.activity import ACTIVITY_HEADER
from vbaproject.api.exceptions import DATABASE_HEADER
from vbaproject.api.lists import PAGINATION_HEADER, PAGING_PARAMETERS, list_parameters
from vbaproject.apps import entity_models
from vbaproject.engine.options import ALL_OR_NONE, VALIDATE_ONLY
from vbaproject.idempotency.digest import IDEMPOTENCY_HEADER
from vbaproject.spec.entities import FieldKind, entity_spec

JSON_MEDIA_TYPES = ("application/json", "text/json", "application/*+json")
SECURITY_SCHEMES = {
    "apiKeyAuth": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "The calling application's API key.",
    },
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The calling user's ID token, from POST /user-authentication.",
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "The user's name and password; only POST /user-authentication takes them.",
    },
}
API_SECURITY = [{"apiKeyAuth": [], "bearerAuth": []}]
LOGIN_SECURITY = [{"apiKeyAuth": [], "basicAuth": []}]

_REF = "#/components/schemas/"
_TYPES = {
    FieldKind.INTEGER: {"type": "integer", "format": "int32"},
    FieldKind.NUMBER: {"type": "number", "format": "double"},
    FieldKind.BOOLEAN: {"type": "boolean"},
    FieldKind.DATETIME: {"type": "string", "format": "date-time"},
    FieldKind.STRING: {"type": "string"},
}
# Whole-request failures (README, *For API consumers*), as named responses under components/responses.
_PROBLEMS = {
    400: ("BadRequest", "The request is not valid: the body, a parameter or the database header."),
    401: ("Unauthorized", "No or a wrong API key, or no, an expired or a forged bearer token."),
    403: ("Forbidden", "The database named in vbasoftware-database is not available to this caller."),
    404: ("NotFound", "There is no such record (or no such route)."),
    409: (
        "Conflict",
        "The request conflicts with the stored records, or a request with the same Idempotency-Key is "
        "still being processed (then with Retry-After).",
    ),
    413: ("PayloadTooLarge", "More items than the configured maximum, or a body over the byte limit."),
    415: ("UnsupportedMediaType", "The body is not JSON (application/json, text/json, application/*+json)."),
    422: (
        "UnprocessableContent",
        "The Idempotency-Key was used before with a different request (method, path, query or body).",
    ),
    429: ("TooManyRequests", "Over the rate limit; try again after Retry-After seconds."),
    503: ("ServiceUnavailable", "The client database cannot be reached right now; try again shortly."),
}
_COMMON_PROBLEMS = (400, 401, 403, 429, 503)
# The actions that write: they take an Idempotency-Key (vbaproject.idempotency).
_WRITE_ACTIONS = ("create", "update", "destroy", "put_batch", "delete_batch")


def ref(name):
    return {"$ref": _REF + name}


def nullable_ref(name):
    return {"allOf": [ref(name)], "nullable": True}


# Components ------------------------------------------------------------------------------------


def field_schema(field):
    """One entity field as an OpenAPI 3.0 schema: type, format, lengths, nullable, description."""
    schema = dict(_TYPES[field.kind])
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    if field.min_length is not None:
        schema["minLength"] = field.min_length
    if field.nullable:
        schema["nullable"] = True
    schema["description"] = field.description
    return schema


def entity_schema(model):
    spec = entity_spec(model)
    return {
        "type": "object",
        "description": " ".join((model.__doc__ or "").split()),
        "properties": {f.name: field_schema(f) for f in spec.fields},
        # The server keeps the audit fields: a client never has to send them.
        "required": [f.name for f in spec.fields if f.required and not f.is_audit],
        "additionalProperties": False,
    }


def envelope_schema(data, description):
    return {
        "type": "object",
        "description": description,
        "properties": {
            "data": data,
            "error": {
                "allOf": [ref("VBAProblemDetails")],
                "description": "Present only when the request failed as a whole (left out on success).",
            },
            "debug": ref("Debug"),
        },
    }


def _nullable_string(description):
    return {"type": "string", "nullable": True, "description": description}


def shared_schemas():
    """The models every route shares: batch results, problem details, the debug block, login."""
    return {
        "KeyValuePair": {
            "type": "object",
            "properties": {
                "key": _nullable_string("The name of the key field, such as grievance_Key."),
                # Any JSON value: an integer key, or an auth number (a string).
                "value": {"nullable": True, "description": "The key's value, as assigned or as sent."},
            },
        },
        "MultiCodeResponse": {
            "type": "object",
            "description": "The MultiCodeResponse provides status for multiple independent operations.",
            "properties": {
                "id": {
                    "type": "array",
                    "items": ref("KeyValuePair"),
                    "description": (
                        "List of key/value pairs that represent the unique id for the entity operation."
                    ),
                },
                "status": {
                    "type": "integer",
                    "format": "int32",
                    "description": "http status of the operation (eg, 200, 201, 500)",
                },
                "body": {
                    "type": "string",
                    "minLength": 1,
                    "description": "operation message (eg, Updated, Created, Error message)",
                },
            },
            "required": ["id", "status", "body"],
        },
        "MultiCodeResponseListVBAResponse": envelope_schema(
            {"type": "array", "items": ref("MultiCodeResponse"), "nullable": True},
            "The answer of a batch route (HTTP 207): one result per item, in the order sent.",
        ),
        "VBAProblemDetails": {
            "type": "object",
            "description": "A problem-details object (RFC 9457) describing why the whole request failed.",
            "properties": {
                "type": _nullable_string("A URI reference that identifies the problem type."),
                "title": _nullable_string("A short, human-readable summary of the problem type."),
                "status": {
                    "type": "integer",
                    "format": "int32",
                    "description": "The HTTP status code of this occurrence of the problem.",
                },
                "detail": _nullable_string(
                    "A human-readable explanation specific to this occurrence of the problem."
                ),
                "instance": _nullable_string("The path of the request that failed."),
            },
        },
        "Debug": {
            "type": "object",
            "properties": {
                "activityID": {
                    "type": "string",
                    "minLength": 1,
                    "description": f"Unique per request; also sent as the {ACTIVITY_HEADER} header.",
                },
            },
            "required": ["activityID"],
        },
        "ErrorVBAResponse": {
            **envelope_schema({"type": "object", "nullable": True, "description": "Always null."}, ""),
            "description": "The answer of a request that failed as a whole: error says why.",
            "required": ["error"],
        },
        "AuthenticationResult": {
            "type": "object",
            "properties": {
                "idToken": _nullable_string("The ID token: send it as Authorization: Bearer <idToken>."),
                "accessToken": _nullable_string("Not issued by this service."),
                "refreshToken": _nullable_string("Not issued by this service."),
                "expiresIn": {
                    "type": "integer",
                    "format": "int32",
                    "description": "The expiration period of the authentication result in seconds.",
                },
                "tokenType": _nullable_string("Bearer."),
            },
        },
        "UserAuthenticationResponse": {
            "type": "object",
            "properties": {
                "challengeName": _nullable_string("Not used by this service."),
                "session": _nullable_string("Not used by this service."),
                "authenticationResult": ref("AuthenticationResult"),
            },
        },
        "UserAuthenticationResponseVBAResponse": envelope_schema(
            nullable_ref("UserAuthenticationResponse"), "The answer of POST /user-authentication."
        ),
        **history_schemas(),
    }


def history_schemas():
    """A record's history (not part of VBAPI): ``Change``, ``FieldChange`` and their envelope."""
    any_value = {"nullable": True, "description": "The value, as the record's field is written in JSON."}
    return {
        "FieldChange": {
            "type": "object",
            "properties": {
                "field": {"type": "string", "description": "The field's name."},
                "old": {**any_value, "description": "Its value before the change (null for a create)."},
                "new": {**any_value, "description": "Its value after the change (null for a delete)."},
            },
        },
        "Change": {
            "type": "object",
            "description": "One change of a record: who made it, when, through what, from what to what.",
            "properties": {
                "history_Key": {"type": "integer", "format": "int64", "description": "The change's number."},
                "changed_At": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When it was written.",
                },
                "action": {"type": "string", "enum": ["create", "update", "delete"]},
                "database": {"type": "string", "description": "The client database."},
                "entity": {"type": "string", "description": "The entity, such as Grievance."},
                "key": {"nullable": True, "description": "The record's key."},
                "user": _nullable_string("Who made it (null: unknown, a write from outside the service)."),
                "api_Key_Name": _nullable_string("The name of the API key it came through, for the API."),
                "activity_ID": _nullable_string("The activityID of the request that made it."),
                "via": {
                    **_nullable_string("Through what: api, admin or command."),
                    "enum": ["api", "admin", "command", None],
                },
                "changes": {
                    "type": "array",
                    "items": ref("FieldChange"),
                    "description": (
                        "The fields an update changed, or every field a create set or a delete removed; "
                        "the audit fields are not repeated."
                    ),
                },
            },
        },
        "ChangeListVBAResponse": envelope_schema(
            {"type": "array", "items": ref("Change"), "nullable": True},
            f"One page of a record's changes, newest first; the {PAGINATION_HEADER} header tells where.",
        ),
    }


def all_schemas():
    schemas = {}
    for model in entity_models():
        name = model.__name__
        schemas[name] = entity_schema(model)
        schemas[f"{name}VBAResponse"] = envelope_schema(
            nullable_ref(name), f"One {name} (null after a delete)."
        )
        schemas[f"{name}ListVBAResponse"] = envelope_schema(
            {"type": "array", "items": ref(name), "nullable": True},
            f"One page of {name} records; the {PAGINATION_HEADER} header tells where it is in the list.",
        )
    return {**schemas, **shared_schemas()}


def _activity_header():
    return {"$ref": "#/components/headers/ActivityId"}


def _components():
    problem_body = {"application/json": {"schema": ref("ErrorVBAResponse")}}
    responses = {}
    for status, (name, description) in _PROBLEMS.items():
        headers = {ACTIVITY_HEADER: _activity_header()}
        if status in (409, 429, 503):
            headers["Retry-After"] = {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "string"},
            }
        responses[name] = {"description": description, "headers": headers, "content": problem_body}
    return {
        "schemas": all_schemas(),
        "responses": responses,
        "headers": {
            "ActivityId": {
                "description": "The request's activityID, as in the body's debug block.",
                "required": True,
                "schema": {"type": "string"},
            },
            "Pagination": {
                "description": (
                    'JSON: {"TotalCount", "TotalPages", "CurrentPage", "PageSize"}; record lists add '
                    '"TotalCountExact" and "NextCursor". TotalCount is exact up to 10,000 records; past '
                    "that, on PostgreSQL, it is the planner's estimate and TotalCountExact is false. "
                    "NextCursor (null on the last page) is the after parameter for the next page."
                ),
                "required": True,
                "schema": {"type": "string"},
            },
        },
        "parameters": {
            "Database": {
                "name": DATABASE_HEADER,
                "in": "header",
                "required": True,
                "description": "Target database: the name of the client database the call works on.",
                "schema": {"type": "string"},
            },
            **batch_option_parameters(),
            "IdempotencyKey": {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": False,
                "description": (
                    "An extension of this service (IETF httpapi Idempotency-Key draft): a unique value per "
                    "write, such as a UUID, sent again unchanged with every retry of it. The write is "
                    "applied at most once per API key, database and key; a retry gets the first answer "
                    "again with Idempotency-Replayed: true, and a retry of an attempt that failed half-way "
                    "finishes it. The same key with a different request is a 422; while the first attempt "
                    "runs, a 409 with Retry-After. Keys are remembered for VBA_IDEMPOTENCY_TTL seconds "
                    "(24 hours by default)."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "x-vbaproject-extension": True,
            },
        },
        "securitySchemes": SECURITY_SCHEMES,
    }


def ref_parameter(name):
    return {"$ref": f"#/components/parameters/{name}"}


def batch_option_parameters():
    """The PUT batch routes' options (``vbaproject.engine.options``): extensions, off by default."""

    def option(name, description):
        return {
            "name": name,
            "in": "query",
            "required": False,
            "description": f"An extension of this service, off by default: {description}",
            "schema": {"type": "boolean", "default": False},
            "x-vbaproject-extension": True,
        }

    return {
        "AllOrNone": option(
            ALL_OR_NONE,
            "if any item fails, nothing is written; the failing items answer as usual, every other "
            "item 424 (not written: another item of this allOrNone batch failed).",
        ),
        "ValidateOnly": option(
            VALIDATE_ONLY,
            "every item is checked exactly as a real call would check it, the database's own checks "
            "included, and nothing is written; the answers are the real call's (an assigned key "
            "shown is not kept).",
        ),
    }


def add_vba_components(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the VBA models, responses and security schemes."""
    components = result.setdefault("components", {})
    for section, entries in _components().items():
        components.setdefault(section, {}).update(entries)
    return result


# Operations ------------------------------------------------------------------------------------


def _title(name):
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"_+", name.removesuffix("_Key")))


def _ok(schema_name, description, headers=None):
    return {
        "description": description,
        "headers": {ACTIVITY_HEADER: _activity_header(), **(headers or {})},
        "content": {"application/json": {"schema": ref(schema_name)}},
    }


def _body(schema, description):
    return {
        "required": True,
        "description": description,
        "content": {media_type: {"schema": schema} for media_type in JSON_MEDIA_TYPES},
    }


def _is_referred_to(model):
    return any(getattr(rel, "on_delete", None) is PROTECT for rel in model._meta.related_objects)


class VbaAutoSchema(AutoSchema):
    """DRF's schema class: VBA operations from the route and the entity spec, the rest as usual."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        action = getattr(self.view, "action", None)
        model = getattr(self.view, "model", None)
        if action == "log_in":
            self.registry, self.path, self.method = registry, path, method.upper()
            return self._login_operation()
        if model is None or action not in self._ENTITY_ACTIONS:
            return super().get_operation(path, path_regex, path_prefix, method, registry)
        self.registry, self.path, self.method = registry, path, method.upper()
        return self._entity_operation(model, action, path)

    _ENTITY_ACTIONS = (
        "list",
        "create",
        "retrieve",
        "update",
        "destroy",
        "put_batch",
        "delete_batch",
        "history",
    )

    def _responses(self, success, problems):
        responses = dict(success)
        for status in sorted(problems):
            responses[str(status)] = {"$ref": f"#/components/responses/{_PROBLEMS[status][0]}"}
        return responses

    def _entity_operation(self, model, action, path):
        spec = entity_spec(model)
        name = model.__name__
        plural = model._meta.verbose_name_plural
        noun = model._meta.verbose_name
        by_lower = spec.by_lower_name
        bound = [by_lower[p.lower()] for p in re.findall(r"\{(\w+)\}", path)]
        path_fields = tuple(f.name for f in bound if not f.is_key)
        suffix = "".join(f"By{_title(f)}" for f in path_fields)
        parameters = [{"$ref": "#/components/parameters/Database"}]
        for field in bound:
            schema = {k: v for k, v in field_schema(field).items() if k not in ("nullable", "description")}
            if field.kind == FieldKind.STRING:
                schema["minLength"] = 1
            parameters.append(
                {
                    "name": field.name,
                    "in": "path",
                    "required": True,
                    "description": field.description,
                    "schema": schema,
                }
            )
        problems = set(_COMMON_PROBLEMS)
        if bound:
            problems.add(404)
        binds = (
            f" The {', '.join(path_fields)} of the path applies: a value in the body is replaced by it."
            if path_fields
            else ""
        )
        request_body = None
        key = spec.key.name

        if action == "list":
            operation_id, summary = f"List{name}s{suffix}", f"List {plural}"
            description = (
                f"One page of {plural}, filtered and sorted as asked. The {PAGINATION_HEADER} header holds "
                'JSON {"TotalCount", "TotalPages", "CurrentPage", "PageSize"}; a page past the end is empty. '
                "Parameter names ignore case; an unknown or bad parameter is a 400."
            )
            parameters += [self._query_parameter(p) for p in list_parameters(model, path_fields)]
            pagination = {PAGINATION_HEADER: {"$ref": "#/components/headers/Pagination"}}
            success = {"200": _ok(f"{name}ListVBAResponse", "One page of records.", pagination)}
        elif action in ("create", "update"):
            creating = action == "create"
            if creating:
                operation_id, summary = f"Create{name}{suffix}", f"Create a {noun}"
                description = (
                    f"Creates one {noun} with the rules of a batch item. Leave {key} out"
                    f"{' (or send 0)' if spec.integer_key else ' (or send null or an empty string)'} to have "
                    f"a new key assigned; a key that exists already is a 409."
                )
            else:
                operation_id, summary = f"Update{name}{suffix}", f"Update a {noun}"
                description = (
                    f"Replaces the {noun} with this {key}, with the rules of a batch item: a nullable field "
                    f"left out becomes null; entry_Date and entry_User keep their values. The body's {key} "
                    "may be left out or name the path's key; a record's key cannot be changed."
                )
            description += binds
            request_body = _body(ref(name), f"The new {noun}." if creating else f"The {noun} as it is to be.")
            stored = f"{'Created' if creating else 'Updated'}: the {noun} as stored."
            success = {"201" if creating else "200": _ok(f"{name}VBAResponse", stored)}
            problems |= {409 if creating else 404, 413, 415}
        elif action == "history":
            operation_id, summary = f"List{name}History{suffix}", f"Read a {noun}'s history"
            description = (
                f"Every change of the {noun} with this {key}, newest first: who made it, when, through "
                "which application and API key, and each field's old and new value. An extension of this "
                "service, beside VBAPI's routes; paged as the lists are. A deleted record's history stays "
                "readable."
            )
            parameters += [self._query_parameter(p) for p in PAGING_PARAMETERS]
            pagination = {PAGINATION_HEADER: {"$ref": "#/components/headers/Pagination"}}
            success = {"200": _ok("ChangeListVBAResponse", "One page of changes.", pagination)}
            problems.add(404)
        elif action == "retrieve":
            operation_id, summary = f"Get{name}{suffix}", f"Get a {noun}"
            description = f"The {noun} with this {key}."
            success = {"200": _ok(f"{name}VBAResponse", f"The {noun}.")}
            problems.add(404)
        elif action == "destroy":
            operation_id, summary = f"Delete{name}{suffix}", f"Delete a {noun}"
            description = f"Deletes the {noun} with this {key}; data is null."
            success = {"200": _ok(f"{name}VBAResponse", "Deleted.")}
            problems.add(404)
            if _is_referred_to(model):
                description += f" A {noun} that other records still refer to cannot be deleted (409)."
                problems.add(409)
        elif action == "put_batch":
            operation_id, summary = (
                f"CreateOrUpdateBatch{name}{suffix}",
                f"Create or update {plural} in a batch",
            )
            description = (
                f"Creates or updates many {plural} at once: HTTP 207 with one result per item, in the order "
                "sent, exactly as if the items were applied one at a time. 201 Created, 200 Updated, 400 "
                "with every offending field named, 500 for an unexpected failure of that item alone. A "
                f"{key} of 0 (or left out) has a key assigned." + binds
            )
            description += (
                " With allOrNone=true nothing is written if any item fails (the others answer 424); with "
                "validateOnly=true every item is checked, the database's own checks included, and nothing "
                "is written."
            )
            parameters += [ref_parameter("AllOrNone"), ref_parameter("ValidateOnly")]
            request_body = _body({"type": "array", "items": ref(name)}, f"The {plural} to create or update.")
            success = {"207": _ok("MultiCodeResponseListVBAResponse", "One result per item.")}
            problems |= {413, 415}
        else:  # delete_batch
            operation_id, summary = f"DeleteBatch{name}{suffix}", f"Delete {plural} in a batch"
            description = (
                f"Deletes the {plural} an array names by {key}: HTTP 207 with one result per item, in "
                "order: 200 Deleted, 404 Not found, 400 for an item without a valid key."
            )
            request_body = _body({"type": "array", "items": ref(name)}, f"The {plural} to delete.")
            success = {"207": _ok("MultiCodeResponseListVBAResponse", "One result per item.")}
            problems |= {413, 415}
            if _is_referred_to(model):
                problems.add(409)

        if action in _WRITE_ACTIONS:
            parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
            problems |= {409, 422}
        operation = {
            "operationId": operation_id,
            "summary": summary,
            "description": description,
            "tags": [f"{name}s"],
            "parameters": parameters,
        }
        if request_body:
            operation["requestBody"] = request_body
        operation["security"] = API_SECURITY
        operation["responses"] = self._responses(success, problems)
        return operation

    @staticmethod
    def _query_parameter(parameter):
        if parameter.kind == FieldKind.DATETIME:
            schema = dict(_TYPES[FieldKind.DATETIME])
        else:
            schema = dict(_TYPES[parameter.kind])
            for key, value in (
                ("minimum", parameter.minimum),
                ("maximum", parameter.maximum),
                ("maxLength", parameter.max_length),
                ("default", parameter.default),
            ):
                if value is not None:
                    schema[key] = value
        return {
            "name": parameter.name,
            "in": "query",
            "required": False,
            "description": parameter.description,
            "schema": schema,
        }

    def _login_operation(self):
        return {
            "operationId": "UserAuthentication",
            "summary": "Log in",
            "description": (
                "Takes the application's API key and the user's name and password (HTTP Basic) and answers "
                "an ID token for the Authorization: Bearer header of every other route."
            ),
            "tags": ["Authentication"],
            "parameters": [{"$ref": "#/components/parameters/Database"}],
            "security": LOGIN_SECURITY,
            "responses": self._responses(
                {"200": _ok("UserAuthenticationResponseVBAResponse", "Logged in.")},
                _COMMON_PROBLEMS,
            ),
        }
