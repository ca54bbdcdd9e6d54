"""The gateway's one public OpenAPI: valid, complete, truthful about errors, headers and
security, named by the style guide (docs/api-style.md), and usable by a mainstream client
generator."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest_asyncio
from innopark_gateway.proxy import ROUTES
from openapi_spec_validator import validate

METHODS = {"get", "put", "post", "delete", "patch"}
SERVICES = {"gateway", "registry", "orders", "accreditation", "events"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def document(platform) -> dict[str, Any]:
    async with platform.client() as c:
        r = await c.get("/openapi.json")
    assert r.status_code == 200, r.text
    return r.json()


def _operations(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_service_is_in_it_under_its_public_prefixes_and_nothing_internal(document):
    paths = set(document["paths"])
    assert {op["tags"][0] for _, _, op in _operations(document)} == SERVICES
    for prefix in ROUTES:
        if prefix.startswith("/api/v1"):
            assert any(p == prefix or p.startswith(prefix + "/") for p in paths), prefix
    for path in paths:
        assert not re.match(r"^/(metrics|livez|readyz|internal|docs|openapi)", path), path
        assert path.startswith("/api/v1/") or path in {"/health", "/.well-known/jwks.json"}
    assert len(list(_operations(document))) > 100


def test_operation_ids_are_unique_and_readable(document):
    ids = Counter(op["operationId"] for _, _, op in _operations(document))
    assert not [i for i, n in ids.items() if n > 1]
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", operation_id), operation_id
        assert "_api_v1_" not in operation_id, operation_id  # not FastAPI's path soup
    assert "list_parks" in ids and "create_order" in ids and "issue_token" in ids


def test_errors_are_problem_details_with_the_shared_schemas(document):
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert {"Problem", "ValidationProblem", "FieldError"} <= set(schemas)
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        for status in ("429", "503"):
            assert status in responses, (method, path, status)
            assert "Retry-After" in responses[status]["headers"]
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                content = response["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                expected = "ValidationProblem" if status == "422" else "Problem"
                assert content["application/problem+json"]["schema"]["$ref"].endswith(expected)


def test_errors_follow_from_what_each_operation_takes(document):
    by_id = {op["operationId"]: (path, method, op) for path, method, op in _operations(document)}
    _, _, update_park = by_id["update_park"]
    assert {"401", "403", "404", "409", "412", "413", "415", "422"} <= set(update_park["responses"])
    _, _, list_parks = by_id["list_parks"]  # public: no auth errors, no body errors
    assert not {"401", "403", "412", "415"} & set(list_parks["responses"])
    _, _, get_park = by_id["get_park"]
    assert {"304", "404"} <= set(get_park["responses"])
    assert "ETag" in get_park["responses"]["200"]["headers"]
    _, _, create_park = by_id["create_park"]
    assert {"Location", "ETag"} <= set(create_park["responses"]["201"]["headers"])
    _, _, create_order = by_id["create_order"]
    assert "Idempotent-Replayed" in create_order["responses"]["201"]["headers"]


def test_security_schemes_name_the_token_url_and_leave_room_for_api_keys(document):
    schemes = document["components"]["securitySchemes"]
    flows = schemes["OAuth2"]["flows"]
    assert flows["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert flows["clientCredentials"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "apiKey", "in": "header"}
    assert schemes["ApiKey"]["name"] == "X-API-Key"
    by_id = {op["operationId"]: op for _, _, op in _operations(document)}
    assert {"OAuth2": []} in by_id["create_park"]["security"]
    assert {} not in by_id["create_park"]["security"]  # a token is required
    assert "security" not in by_id["list_parks"]  # public


def test_webhook_payloads_are_documented(document):
    webhooks = document["webhooks"]
    assert "order.published" in webhooks and "proposal.received" in webhooks
    delivery = webhooks["order.published"]["post"]
    headers = {p["name"] for p in delivery["parameters"] if p["in"] == "header"}
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers
    ref = delivery["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    message = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"type", "timestamp", "data"} <= set(message["properties"])


# -- the naming guide (docs/api-style.md) --------------------------------------------------

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Documented exceptions (docs/api-style.md, "Exceptions"), each for a reason.
NOT_AT_TIMESTAMPS = {"deadline", "at", "timestamp"}
AT_BUT_NOT_TIMESTAMP = {"signed_at"}
# Concepts with more than one spelling about; the API uses one of each pair, never both.
SPELLINGS = [
    {"created_at", "created", "creation_date"},
    {"updated_at", "updated", "modified_at"},
    {"next_cursor", "next", "next_page", "next_page_token"},
    {"cursor", "page_token", "offset", "page"},
    {"limit", "per_page", "page_size", "size"},
    {"organisation", "organization"},
    {"organisation_id", "organization_id"},
    {"organiser_name", "organizer_name"},
    {"licence", "license"},
    {"color", "colour"},
    {"email", "e_mail", "mail"},
    {"phone", "telephone", "phone_number"},
    {"postal_code", "zip", "zip_code", "postcode"},
    {"country", "country_code"},
]


def _formats(schema: dict[str, Any]) -> set[str]:
    found = {schema.get("format")}
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        found.add(option.get("format"))
    return found - {None}


def _properties(document):
    for name, schema in document["components"]["schemas"].items():
        for prop, spec in (schema.get("properties") or {}).items():
            yield name, prop, spec


def test_properties_and_parameters_are_snake_case(document):
    bad = [(n, p) for n, p, _ in _properties(document) if not SNAKE.match(p)]
    for path, method, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] in {"query", "path"} and not SNAKE.match(parameter["name"]):
                bad.append((f"{method} {path}", parameter["name"]))
    assert not bad


def test_timestamps_are_at_and_ids_are_id(document):
    bad = []
    for name, prop, spec in _properties(document):
        formats = _formats(spec)
        if "date-time" in formats and not prop.endswith("_at") and prop not in NOT_AT_TIMESTAMPS:
            bad.append((name, prop, "a timestamp not named *_at"))
        if prop.endswith("_at") and "date-time" not in formats and prop not in AT_BUT_NOT_TIMESTAMP:
            bad.append((name, prop, "*_at that is not a timestamp"))
        if "uuid" in formats and prop != "id" and not prop.endswith("_id"):
            bad.append((name, prop, "a UUID not named *_id"))
    assert not bad


def test_one_spelling_per_concept(document):
    names = {p for _, p, _ in _properties(document)}
    for _, _, operation in _operations(document):
        names |= {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    assert not [spellings & names for spellings in SPELLINGS if len(spellings & names) > 1]
    for concept in ("created_at", "next_cursor", "cursor", "limit"):
        assert concept in names, concept
    assert "since" not in names or "cursor" in names  # `since` only as cursor's old alias


BOUNDED_LISTS = {
    "GET /api/v1/orders/{order_id}/history",
    "GET /api/v1/orders/{order_id}/matches",
    "POST /api/v1/orders/{order_id}/rematch",
}


# British spelling, as in "cancelled" and "organisation" (docs/api-style.md).
AMERICAN = re.compile(r"(^|_)(canceled|organization|organizer|color|license|catalog)(_|$)")


def _enum_values(document):
    for name, schema in document["components"]["schemas"].items():
        for value in schema.get("enum", []):
            yield name, value
        for prop, spec in (schema.get("properties") or {}).items():
            for option in [spec, *spec.get("anyOf", []), spec.get("items", {})]:
                for value in option.get("enum", []):
                    yield f"{name}.{prop}", value


def test_enums_are_snake_case_and_spelling_is_british(document):
    values = list(_enum_values(document))
    assert values
    # Sort keys may lead with `-` (descending); webhook event types are `order.published`,
    # OAuth2 scopes `orders:read`.
    bad = [
        (n, v)
        for n, v in values
        if isinstance(v, str)
        and not all(SNAKE.match(part) for part in re.split(r"[.:]", v.lstrip("-")))
    ]
    assert not bad
    words = [v for _, v in values if isinstance(v, str)] + [p for _, p, _ in _properties(document)]
    assert not [w for w in words if AMERICAN.search(w)]


def test_collections_page_with_limit_and_cursor(document):
    unpaged: list[str] = []
    for path, method, operation in _operations(document):
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        response = operation["responses"].get("200", {}).get("content", {})
        ref = response.get("application/json", {}).get("schema", {}).get("$ref", "")
        if ref.rsplit("/", 1)[-1].startswith("Page_") and not {"limit", "cursor"} <= query:
            unpaged.append(f"{method.upper()} {path}")
    # A bounded list (an order's history, its matches) may come whole, in the page shape.
    assert set(unpaged) <= BOUNDED_LISTS, set(unpaged) - BOUNDED_LISTS


# -- a generated client --------------------------------------------------------------------


async def test_a_generated_client_lists_parks(platform, document, tmp_path: Path):
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    generator = Path(sys.executable).with_name("openapi-python-client")
    process = await asyncio.create_subprocess_exec(
        str(generator),
        "generate",
        "--path",
        str(spec),
        "--output-path",
        str(tmp_path / "client"),
        "--meta",
        "none",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        # The generator formats its output with ruff, which lives beside this Python.
        env={**os.environ, "PATH": f"{generator.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, out.decode()[-5000:]
    package = tmp_path / "client"
    assert (package / "api").is_dir(), out.decode()[-3000:]

    # A name of its own: the shared platform holds every other test's parks too, and a
    # page of them need not include this one.
    name = f"Generated client park {uuid.uuid4().hex[:8]}"
    async with platform.client() as c:
        created = await c.post(
            "/api/v1/parks",
            headers=await platform.login(),
            json={
                "name": name,
                "kind": "technopark",
                "country": "RU",
                "region": "Tatarstan",
                "specializations": ["sensors"],
            },
        )
        assert created.status_code == 201, created.text

    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("client")
        list_parks = importlib.import_module("client.api.registry.list_parks")
        client = client_module.Client(base_url=platform.gateway)
        async with client:
            response = await list_parks.asyncio_detailed(client=client, q=name, limit=100)
        assert response.status_code == 200, response.content
        page = response.parsed
        names = [park.name for park in page.items]
        assert name in names
        assert all(isinstance(park.id, type(page.items[0].id)) for park in page.items)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "client" or m.startswith("client.")]:
            del sys.modules[name]
