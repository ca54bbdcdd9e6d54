"""What the gateway shows about the whole platform: `/health` over every upstream, and the
`/docs` portal over every service's OpenAPI and the AsyncAPI of the integration events."""

from __future__ import annotations

import asyncio
import json
import time
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

import aiohttp
import fastapi_offline
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from innopark_shared.asyncapi import build_asyncapi
from innopark_shared.db import Database
from innopark_shared.errors import NotFound, ServiceUnavailable, problem
from innopark_shared.openapi import TOKEN_URL, is_public_path, merge_documents

from .proxy import GATEWAY, ROUTES, Upstreams

router = APIRouter()

HEALTH_TIMEOUT = aiohttp.ClientTimeout(total=1.5)
SPEC_TIMEOUT = aiohttp.ClientTimeout(total=5.0)


async def _check_upstream(upstreams: Upstreams, name: str, url: str) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = {"url": url}
    try:
        async with upstreams.session.get(f"{url}/readyz", timeout=HEALTH_TIMEOUT) as resp:
            body = await resp.read()
        result["status"] = "ok" if resp.status == 200 else "down"
        result["http_status"] = resp.status
        try:
            checks = json.loads(body).get("checks")
        except (ValueError, AttributeError):
            checks = None
        if checks:
            result["checks"] = checks
    except (aiohttp.ClientError, TimeoutError) as exc:
        result["status"] = "down"
        result["error"] = type(exc).__name__
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def _check_database(database: Database) -> dict[str, Any]:
    try:
        await asyncio.wait_for(database.ping(), timeout=1.5)
        return {"status": "ok"}
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}


@router.get(
    "/health",
    tags=["health"],
    summary="The gateway and every upstream (public): 200 all ok, 503 when any is down",
)
async def health(request: Request) -> JSONResponse:
    upstreams: Upstreams = request.app.state.upstreams
    names = list(upstreams.urls)
    results = await asyncio.gather(
        _check_database(request.app.state.database),
        *(_check_upstream(upstreams, name, upstreams.urls[name]) for name in names),
    )
    database, checks = results[0], dict(zip(names, results[1:], strict=True))
    down = [name for name, check in checks.items() if check["status"] != "ok"]
    if database["status"] != "ok":
        down.insert(0, "gateway database")
    if not down:
        return JSONResponse({"status": "ok", "database": database, "upstreams": checks})
    return problem(
        503,
        slug="degraded",
        detail=f"Down: {', '.join(down)}",
        instance="/health",
        health="degraded",
        database=database,
        upstreams=checks,
    )


ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}
# Ours and immutable while this process runs: a day in any cache.
ASSET_CACHE = "public, max-age=86400"
# The merged document is rebuilt at most this often (each build asks every service).
SPEC_TTL_SECONDS = 5.0

PORTAL_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Innopark API</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<p style="font-family: sans-serif; margin: 8px 20px">
One API over every service (<a href="/openapi.json">OpenAPI</a>); sign in with
<b>Authorize</b> (OAuth2 password or client credentials).
Integration events (Kafka): <a href="/docs/events">topics, publishers and consumers</a>
(<a href="/docs/asyncapi.json">AsyncAPI</a>).</p>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  displayOperationId: true,
  filter: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
</script>
</body>
</html>
"""


@router.get("/docs", include_in_schema=False)
async def docs_portal() -> HTMLResponse:
    # Everything the page loads comes from this gateway: it works with no network.
    return HTMLResponse(PORTAL_HTML)


@router.get("/docs/assets/{name}", include_in_schema=False)
async def docs_asset(name: str) -> Response:
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise NotFound(f"No asset named {name}")
    return FileResponse(
        ASSETS / name, media_type=media_type, headers={"Cache-Control": ASSET_CACHE}
    )


async def _service_document(upstreams: Upstreams, name: str) -> dict[str, Any]:
    base = upstreams.urls[name]
    try:
        async with upstreams.session.get(
            f"{base}/openapi.json", timeout=SPEC_TIMEOUT, headers={"Accept-Encoding": "identity"}
        ) as resp:
            if resp.status != 200:
                raise ServiceUnavailable(f"The {name} service answered {resp.status}")
            return json.loads(await resp.read())
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ServiceUnavailable(f"The {name} service's OpenAPI is not available") from exc


def _public_prefixes() -> dict[str, list[str]]:
    prefixes: dict[str, list[str]] = {}
    for prefix, owner in ROUTES.items():
        if prefix not in GATEWAY_INTERNAL:
            prefixes.setdefault(owner, []).append(prefix)
    return prefixes


# Routed to the gateway but no part of the API: the portal itself and the probes.
GATEWAY_INTERNAL = frozenset({"/docs", "/openapi.json", "/livez", "/readyz"})


async def public_document(app: Any) -> tuple[dict[str, Any], bool]:
    """The one public OpenAPI: the gateway's and every service's public operations; and
    whether it is complete (a service that does not answer is left out, and named in
    `info.x-unavailable-services`, rather than taking the whole document down)."""
    cached = getattr(app.state, "public_openapi", None)
    if cached is not None and time.monotonic() - cached[0] < SPEC_TTL_SECONDS:
        return cached[1], True
    upstreams: Upstreams = app.state.upstreams
    names = list(upstreams.urls)
    fetched = await asyncio.gather(
        *(_service_document(upstreams, n) for n in names), return_exceptions=True
    )
    documents: dict[str, dict[str, Any]] = {GATEWAY: app.openapi()}
    missing = []
    for name, result in zip(names, fetched, strict=True):
        if isinstance(result, ServiceUnavailable):
            missing.append(name)
        elif isinstance(result, BaseException):
            raise result
        else:
            documents[name] = result
    document = merge_documents(
        documents,
        prefixes=_public_prefixes(),
        title="Innopark API",
        version=app.version,
        description=(
            "Every Innopark service through its one entry point, the gateway. Errors are "
            "RFC 9457 problem details (`application/problem+json`). Sign in at "
            f"`POST {TOKEN_URL}`; the integration events are at /docs/events."
        ),
    )
    if missing:
        document["info"]["x-unavailable-services"] = missing
        return document, False
    app.state.public_openapi = (time.monotonic(), document)
    return document, True


@router.get("/openapi.json", include_in_schema=False)
async def openapi_document(request: Request) -> JSONResponse:
    document, complete = await public_document(request.app)
    return JSONResponse(document, headers={"Cache-Control": "no-cache" if complete else "no-store"})


@router.get("/docs/specs/{name}.json", include_in_schema=False)
async def service_spec(name: str, request: Request) -> Response:
    """One service's public operations alone, as they are reached through the gateway."""
    upstreams: Upstreams = request.app.state.upstreams
    if name not in upstreams.urls:
        raise NotFound(f"No service named {name}")
    prefixes = _public_prefixes().get(name, [])
    spec = await _service_document(upstreams, name)
    spec["paths"] = {
        path: item for path, item in spec.get("paths", {}).items() if is_public_path(path, prefixes)
    }
    return JSONResponse(spec, headers={"Cache-Control": "no-cache"})


@cache
def _asyncapi_document() -> bytes:
    # Built from the event contracts in this process's shared library; they cannot
    # change while it runs.
    return json.dumps(build_asyncapi()).encode()


@router.get("/docs/asyncapi.json", include_in_schema=False)
async def asyncapi_document() -> Response:
    return Response(_asyncapi_document(), media_type="application/json")


@router.get("/docs/events", include_in_schema=False)
async def events_portal() -> HTMLResponse:
    return HTMLResponse(_events_page())


@cache
def _events_page() -> str:
    """The AsyncAPI document as a page of its own, rendered here (no renderer to fetch):
    each topic, who publishes to it, who consumes it, and each message's schema."""
    document = json.loads(_asyncapi_document())
    messages = document.get("components", {}).get("messages", {})
    schemas = document.get("components", {}).get("schemas", {})
    consumers: dict[str, list[str]] = {}
    for key, operation in document.get("operations", {}).items():
        if operation.get("action") == "receive":
            channel = operation["channel"]["$ref"].rsplit("/", 1)[-1]
            consumers.setdefault(channel, []).append(key.rsplit(".receive.", 1)[-1])
    sections = []
    for name, channel in document.get("channels", {}).items():
        parts = name.split(".")
        publisher = (
            parts[1] if len(parts) > 2 and parts[0] == "innopark" else "every consumer group"
        )
        rows = []
        for ref in channel.get("messages", {}).values():
            message_name = ref["$ref"].rsplit("/", 1)[-1]
            message = messages.get(message_name, {})
            payload_ref = message.get("payload", {}).get("$ref", "")
            payload = schemas.get(payload_ref.rsplit("/", 1)[-1], message.get("payload", {}))
            rows.append(
                f'<li class="message"><code>{escape(message_name)}</code> '
                f"{escape(message.get('summary') or message.get('title') or '')}"
                f"<details><summary>payload</summary><pre>"
                f"{escape(json.dumps(payload, indent=2))}</pre></details></li>"
            )
        who = ", ".join(sorted(set(consumers.get(name, [])))) or "no service yet"
        sections.append(
            f'<section class="channel" id="{escape(name)}"><h2>{escape(channel["address"])}</h2>'
            f"<p>{escape(channel.get('description', ''))}</p>"
            f'<p>Published by <b class="publisher">{escape(publisher)}</b>; '
            f'consumed by <b class="consumers">{escape(who)}</b>.</p>'
            f"<ul>{''.join(rows)}</ul></section>"
        )
    info = document.get("info", {})
    return EVENTS_HTML.format(
        title=escape(info.get("title", "Integration events")),
        description=escape(info.get("description", "")),
        sections="".join(sections),
    )


EVENTS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 20px; max-width: 70em }}
section {{ border-top: 1px solid #ccc; padding: 4px 0 }}
pre {{ background: #f6f6f6; padding: 8px; overflow: auto }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{description}</p>
<p><a href="/docs/asyncapi.json">AsyncAPI document</a> · <a href="/docs">HTTP API</a></p>
{sections}
</body>
</html>
"""
