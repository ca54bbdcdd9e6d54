"""What the gateway shows about the whole platform: `/health` over every upstream, and the
`/docs` portal over every service's OpenAPI and the AsyncAPI of the integration events."""

from __future__ import annotations

import asyncio
import json
import time
from functools import cache
from typing import Any

import aiohttp
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from innopark_shared.asyncapi import build_asyncapi
from innopark_shared.db import Database
from innopark_shared.errors import NotFound, ServiceUnavailable, problem

from .proxy import ROUTES, Upstreams

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


PORTAL_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Innopark API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<p style="font-family: sans-serif; margin: 8px 20px">
Integration events (Kafka): <a href="/docs/events">AsyncAPI</a>
(<a href="/docs/asyncapi.json">JSON</a>)</p>
<div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-standalone-preset.js">
</script>
<script>
window.ui = SwaggerUIBundle({
  urls: __URLS__,
  "urls.primaryName": "gateway",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
});
</script>
</body>
</html>
"""


@router.get("/docs", include_in_schema=False)
async def docs_portal(request: Request) -> HTMLResponse:
    # The spec selector (`urls`) lives in Swagger UI's standalone preset, which FastAPI's
    # get_swagger_ui_html does not load; hence this page of our own.
    upstreams: Upstreams = request.app.state.upstreams
    urls = [{"name": "gateway", "url": "/openapi.json"}]
    urls += [{"name": name, "url": f"/docs/specs/{name}.json"} for name in upstreams.urls]
    return HTMLResponse(PORTAL_HTML.replace("__URLS__", json.dumps(urls)))


@router.get("/docs/specs/{name}.json", include_in_schema=False)
async def service_spec(name: str, request: Request) -> Response:
    """A service's OpenAPI, fetched on request, keeping only the paths the gateway routes
    to it, so "Try it out" through the gateway reaches the right place."""
    upstreams: Upstreams = request.app.state.upstreams
    base = upstreams.urls.get(name)
    if base is None:
        raise NotFound(f"No service named {name}")
    try:
        async with upstreams.session.get(f"{base}/openapi.json", timeout=SPEC_TIMEOUT) as resp:
            if resp.status != 200:
                raise ServiceUnavailable(f"The {name} service answered {resp.status}")
            spec = json.loads(await resp.read())
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ServiceUnavailable(f"The {name} service's OpenAPI is not available") from exc
    prefixes = tuple(prefix for prefix, owner in ROUTES.items() if owner == name)
    spec["paths"] = {
        path: item
        for path, item in spec.get("paths", {}).items()
        if any(path == p or path.startswith(p + "/") for p in prefixes)
    }
    return JSONResponse(spec, headers={"Cache-Control": "no-cache"})


EVENTS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Innopark integration events</title>
<link rel="stylesheet"
 href="https://unpkg.com/@asyncapi/react-component@2/styles/default.min.css">
</head>
<body>
<div id="asyncapi"></div>
<script src="https://unpkg.com/@asyncapi/react-component@2/browser/standalone/index.js">
</script>
<script>
AsyncApiStandalone.render(
  {schema: {url: "/docs/asyncapi.json"}, config: {show: {sidebar: true}}},
  document.getElementById("asyncapi"));
</script>
</body>
</html>
"""


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
    return HTMLResponse(EVENTS_HTML)
