"""An OpenAPI document that tells the truth about errors, headers and security.

FastAPI documents a 200 and a 422 in its own `HTTPValidationError` shape. `describe_api`
rewrites each service's document from its routes instead: every error the route can
answer (derived from its dependencies and method) as `application/problem+json` with the
shared `Problem`/`ValidationProblem` schemas, the headers it sets, and the OAuth2 and API
key schemes with the gateway's token URL. `merge_documents` is the gateway's one public
document over every service.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from .errors import PROBLEM_JSON

# An APIRoute, or the RouteContext FastAPI gives an APIRoute included through a router.
Route = Any

TOKEN_URL = "/api/v1/auth/token"
OAUTH2, API_KEY, BEARER = "OAuth2", "ApiKey", "HTTPBearer"

SECURITY_SCHEMES: dict[str, Any] = {
    OAUTH2: {
        "type": "oauth2",
        "description": "Users sign in with the password grant, API clients with client "
        "credentials; both at the gateway's token endpoint.",
        "flows": {
            "password": {"tokenUrl": TOKEN_URL, "scopes": {}},
            "clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": {}},
        },
    },
    API_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key (`ipk_…`); also accepted as `Authorization: Bearer ipk_…`.",
    },
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": f"An access token from POST {TOKEN_URL}, or an API key.",
    },
}
_SECURED: list[dict[str, list[str]]] = [{OAUTH2: []}, {API_KEY: []}, {BEARER: []}]

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path"},
    },
    "additionalProperties": True,
}
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError",
    "type": "object",
    "required": ["field", "location", "message", "type"],
    "properties": {
        "field": {"type": "string", "description": "Dotted path of the offending field"},
        "location": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Where it came from (body, query, path, header) and the path",
        },
        "message": {"type": "string"},
        "type": {"type": "string", "description": "The kind of error, e.g. missing"},
    },
}
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "A 422 problem; `errors` names each offending field.",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}
            },
        },
    ],
}
SCHEMAS = {
    "Problem": PROBLEM_SCHEMA,
    "FieldError": FIELD_ERROR_SCHEMA,
    "ValidationProblem": VALIDATION_PROBLEM_SCHEMA,
}

HEADERS: dict[str, Any] = {
    "ETag": {
        "description": "The version of the resource; send it back in If-Match / If-None-Match",
        "schema": {"type": "string"},
    },
    "Location": {"description": "Where the new resource is", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this answer replays the first one for the Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with",
        "schema": {"type": "string"},
    },
}

DESCRIPTIONS = {
    304: "Not modified: the resource still has the ETag sent in If-None-Match",
    400: "Bad request (malformed request line, headers or body framing)",
    401: "No valid credentials",
    403: "The caller may not do this",
    404: "Not found",
    409: "Conflicts with the resource's current state (or a concurrent change)",
    412: "If-Match names another version of the resource",
    413: "The request body is too large",
    415: "The body's content type is not one this operation reads",
    422: "Invalid input; `errors` names the fields",
    429: "Too many requests; wait for Retry-After",
    502: "An upstream service answered something unusable",
    503: "A service this request needs is unavailable; retry after Retry-After",
    504: "An upstream service did not answer in time",
}
_RETRY = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
_REQUIRED_HEADERS = {
    401: {"WWW-Authenticate": {"$ref": "#/components/headers/WWW-Authenticate"}},
    429: _RETRY,
    503: _RETRY,
}
# Answered by the gateway in front of every operation, whatever the operation is.
GATEWAY_ERRORS = (400, 413, 429, 502, 503, 504)


def problem_response(status: int) -> dict[str, Any]:
    schema = "ValidationProblem" if status == 422 else "Problem"
    response: dict[str, Any] = {
        "description": DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if status in _REQUIRED_HEADERS:
        response["headers"] = copy.deepcopy(_REQUIRED_HEADERS[status])
    return response


def _dependency_calls(route: Route) -> set[Callable[..., Any]]:
    calls: set[Callable[..., Any]] = set()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is not None:
            calls.add(dependant.call)
        stack.extend(dependant.dependencies)
    return calls


def _auth(route: Route) -> str | None:
    """ "required", "optional" or None, from the route's principal dependencies."""
    from .auth import current_principal, optional_principal

    calls = _dependency_calls(route)
    if current_principal in calls:
        return "required"
    if optional_principal in calls:
        return "optional"
    return None


@dataclass
class _Params:
    path_params: list[Any] = field(default_factory=list)
    query_params: list[Any] = field(default_factory=list)
    header_params: list[Any] = field(default_factory=list)


def _flat(route: Route) -> _Params:
    """The route's parameters, its dependencies' included."""
    params = _Params()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        params.path_params += dependant.path_params
        params.query_params += dependant.query_params
        params.header_params += dependant.header_params
        stack.extend(dependant.dependencies)
    return params


def route_errors(route: Route, method: str) -> set[int]:
    """The errors a route can answer, from what it depends on."""
    dependant = _flat(route)
    errors = {503}
    auth = _auth(route)
    if auth:
        errors |= {401, 403}
    if dependant.path_params or any(p.alias.endswith("_id") for p in dependant.query_params):
        errors.add(404)  # the resource, or the one a filter names, does not exist
    if route.body_field is not None:
        errors |= {413, 415, 422}
    if dependant.query_params or dependant.path_params or dependant.header_params:
        errors.add(422)
    if any(p.alias.lower() == "if-match" for p in dependant.header_params):
        errors |= {409, 412}
    if method in {"POST", "PUT", "PATCH", "DELETE"}:
        # Writes meet the domain's rules: invalid transitions, duplicates, lost races;
        # and the domain's own checks (Unprocessable) on whatever was sent.
        errors |= {409, 422}
    return errors


def _status_headers(route: Route, status: str, method: str) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    dependant = _flat(route)
    names = {p.alias.lower() for p in dependant.header_params}
    if status == "201":
        headers["Location"] = {"$ref": "#/components/headers/Location"}
    if status in {"200", "201"} and (dependant.path_params or status == "201"):
        headers["ETag"] = {"$ref": "#/components/headers/ETag"}
    if status.startswith("2") and "idempotency-key" in names:
        headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}
    return headers


def describe_api(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, with errors, headers and security made truthful."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(copy.deepcopy(SCHEMAS))
    components["headers"] = copy.deepcopy(HEADERS)
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    for item in document.get("webhooks", {}).values():
        for operation in item.values():
            # What we send: the receiver's validation errors are not ours to document.
            operation.get("responses", {}).pop("422", None)
    paths = document.get("paths", {})
    for route in routing.iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        item = paths.get(route.path_format)
        if item is None:
            continue
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            _describe_operation(route, method, operation)
    return document


def _describe_operation(route: Route, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    for status, response in responses.items():
        headers = _status_headers(route, status, method)
        if headers:
            response.setdefault("headers", {}).update(headers)
    if method == "GET" and _flat(route).path_params:
        responses.setdefault(
            "304",
            {
                "description": DESCRIPTIONS[304],
                "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
            },
        )
    errors = route_errors(route, method)
    # Query parameter models are flattened in the document only: look there for filters
    # that name another resource.
    if any(
        p.get("in") == "query" and p.get("name", "").endswith("_id")
        for p in operation.get("parameters", [])
    ):
        errors.add(404)
    for error in sorted(errors):
        responses.setdefault(str(error), problem_response(error))
    auth = _auth(route)
    if auth == "required":
        operation["security"] = copy.deepcopy(_SECURED)
    elif auth == "optional":
        operation["security"] = [*copy.deepcopy(_SECURED), {}]
    else:
        operation.pop("security", None)


# ---------------------------------------------------------------------------------------
# The gateway's one public document.

_REF = re.compile(r"^#/components/(schemas|headers)/(.+)$")
INTERNAL_PATHS = ("/metrics", "/livez", "/readyz", "/internal")


def is_public_path(path: str, prefixes: Iterable[str]) -> bool:
    if any(path == p or path.startswith(p + "/") for p in INTERNAL_PATHS):
        return False
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def _rename_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value in renames:
                out[key] = renames[value]
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def merge_documents(
    documents: Mapping[str, dict[str, Any]],
    *,
    prefixes: Mapping[str, Iterable[str]],
    title: str,
    version: str,
    description: str = "",
) -> dict[str, Any]:
    """One OpenAPI 3.1 document over several services' documents.

    `prefixes[name]` are the public path prefixes a service answers under; other paths
    (metrics, health probes, internal endpoints) stay out. Component schemas that two
    services define differently are renamed `<Service><Name>`; operation ids that two
    services share get the service's name in front. Every operation also lists the
    errors the gateway itself answers (400, 413, 429, 5xx)."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": {},
        "webhooks": {},
        "components": {
            "schemas": {},
            "headers": copy.deepcopy(HEADERS),
            "securitySchemes": copy.deepcopy(SECURITY_SCHEMES),
        },
        "tags": [],
    }
    schemas: dict[str, Any] = merged["components"]["schemas"]
    operation_owners: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, original in documents.items():
        document = copy.deepcopy(original)
        renames: dict[str, str] = {}
        for schema_name, schema in document.get("components", {}).get("schemas", {}).items():
            if schema_name in schemas and schemas[schema_name] != schema:
                new_name = f"{name.capitalize()}{schema_name}"
                renames[f"#/components/schemas/{schema_name}"] = f"#/components/schemas/{new_name}"
        document = _rename_refs(document, renames)
        for schema_name, schema in document.get("components", {}).get("schemas", {}).items():
            key = renames.get(f"#/components/schemas/{schema_name}", schema_name)
            schemas[key.rsplit("/", 1)[-1]] = schema
        service_prefixes = tuple(prefixes.get(name, ()))
        for path, item in document.get("paths", {}).items():
            if not is_public_path(path, service_prefixes):
                continue
            for method, operation in item.items():
                if method not in {"get", "put", "post", "delete", "patch", "head", "options"}:
                    continue
                operation["tags"] = [name]
                for status in GATEWAY_ERRORS:
                    operation.setdefault("responses", {}).setdefault(
                        str(status), problem_response(status)
                    )
                operation_owners.setdefault(operation.get("operationId", ""), []).append(
                    (name, operation)
                )
            merged["paths"][path] = item
        for hook, item in document.get("webhooks", {}).items():
            merged["webhooks"][hook] = item
        merged["tags"].append(
            {"name": name, "description": document.get("info", {}).get("title", name)}
        )
    for operation_id, owners in operation_owners.items():
        if len(owners) > 1 or not operation_id:
            for name, operation in owners:
                operation["operationId"] = f"{name}_{operation_id}"
    if not merged["webhooks"]:
        del merged["webhooks"]
    return merged


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: the route function's name (`create_park`), not FastAPI's
    path-and-method concatenation."""
    return route.name
