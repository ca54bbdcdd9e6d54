"""Routing table and the proxy against a real upstream on a loopback port."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
from innopark_gateway.main import create_app
from innopark_gateway.proxy import GATEWAY, ROUTES, RouteTable, has_dot_segment

from .conftest import free_port, serve


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("/api/v1/parks", "registry"),
        ("/api/v1/parks/", "registry"),
        ("/api/v1/parks/5/residents", "registry"),
        ("/api/v1/stats/kpi", "registry"),
        ("/api/v1/orders/1/proposals", "orders"),
        ("/api/v1/webhooks", "orders"),
        ("/api/v1/certificates/AB-1", "accreditation"),
        ("/api/v1/accreditation/applications/1/submit", "accreditation"),
        ("/api/v1/events/1/registrations", "events"),
        ("/api/v1/users/me", GATEWAY),
        ("/api/v1/auth/token", GATEWAY),
        ("/api/v1/api-clients", GATEWAY),
        ("/.well-known/jwks.json", GATEWAY),
        ("/docs/specs/orders.json", GATEWAY),
        ("/health", GATEWAY),
        ("/api/v1/parksx", None),
        ("/api/v1/park", None),
        ("/api/v1", None),
        ("/api/v2/parks", None),
        ("/", None),
        ("", None),
        ("/healthz", None),
    ],
)
def test_route_table(path, owner):
    assert RouteTable(ROUTES).match(path) == owner


def test_dot_segments():
    assert has_dot_segment("/api/v1/parks/../users")
    assert has_dot_segment("/api/v1/parks/.")
    assert not has_dot_segment("/api/v1/parks/a.b/.well")


# --- a real upstream ---


class Upstream:
    """A tiny raw-ASGI service recording what reached it."""

    def __init__(self) -> None:
        self.first_chunk = asyncio.Event()
        self.release = asyncio.Event()
        self.last: dict = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        if path == "/api/v1/parks/stream":
            # Chunked answer whose second half waits until the test saw the first.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"first|", "more_body": True})
            await asyncio.wait_for(self.release.wait(), 5)
            await send({"type": "http.response.body", "body": b"second", "more_body": False})
            return
        if path in ("/openapi.json", "/readyz"):
            document = {"openapi": "3.1.0", "paths": {"/api/v1/parks": {}, "/livez": {}}}
            if path == "/readyz":
                document = {"status": "ok", "checks": {"database": "ok"}}
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": json.dumps(document).encode()})
            return
        if path == "/api/v1/parks/redirect":
            await send(
                {
                    "type": "http.response.start",
                    "status": 307,
                    "headers": [
                        (b"location", f"{self.url}/api/v1/parks/".encode()),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/api/v1/parks/slow":
            await asyncio.sleep(1.5)
        body = bytearray()
        chunks = 0
        while True:
            message = await receive()
            if message.get("body"):
                chunks += 1
                body += message["body"]
                self.first_chunk.set()
            if not message.get("more_body"):
                break
        self.last = {
            "method": scope["method"],
            "raw_path": scope["raw_path"].decode(),
            "query": scope["query_string"].decode(),
            "headers": [(k.decode(), v.decode()) for k, v in scope["headers"]],
            "size": len(body),
        }
        payload = json.dumps(self.last).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-upstream", b"yes"),
                    (b"x-request-id", b"upstream-would-echo"),
                    (b"connection", b"keep-alive"),
                    (b"location", b"/api/v1/parks/42"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@pytest.fixture
async def upstream():
    app = Upstream()
    async with serve(app) as url:
        app.url = url
        yield app


@pytest.fixture
async def gateway(upstream, make_settings):
    settings = make_settings(
        registry_url=upstream.url,
        orders_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        upstream_read_timeout_seconds=1.0,
        max_body_bytes=1000,
        cors_allow_origins=["https://portal.example"],
    )
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield client


async def test_forwards_method_path_query_and_headers(gateway, upstream):
    rid = "0f8fad5bd9cb469fa16570867728950e"
    response = await gateway.post(
        "/api/v1/parks/a%2Fb/x?q=%D0%BF%D0%B0%D1%80%D0%BA&limit=2",
        content=b"hello",
        headers={
            "Authorization": "Bearer not-checked-here",
            "X-Request-ID": rid,
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "must not pass",
            "Proxy-Authorization": "secret",
            "X-Custom": "kept",
        },
    )
    assert response.status_code == 201
    seen = upstream.last
    headers = dict(seen["headers"])
    assert seen["method"] == "POST"
    assert seen["raw_path"] == "/api/v1/parks/a%2Fb/x"  # encoded slash kept as sent
    assert seen["query"] == "q=%D0%BF%D0%B0%D1%80%D0%BA&limit=2"
    assert seen["size"] == 5
    assert headers["authorization"] == "Bearer not-checked-here"
    assert headers["x-custom"] == "kept"
    assert "x-hop" not in headers and "proxy-authorization" not in headers
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"].startswith("127.0.0.1:")
    assert headers["x-request-id"] == rid
    assert headers["host"] == upstream.url.removeprefix("http://")
    # The answer: upstream headers through, hop-by-hop and duplicates out, same request id.
    assert response.headers["x-upstream"] == "yes"
    assert response.headers["location"] == "/api/v1/parks/42"
    assert response.headers.get_list("x-request-id") == [rid]
    assert "upstream;desc=registry" in response.headers["server-timing"]


async def test_request_id_is_created_and_shared(gateway, upstream):
    response = await gateway.get("/api/v1/parks")
    rid = response.headers["x-request-id"]
    assert rid and dict(upstream.last["headers"])["x-request-id"] == rid


async def test_request_body_streams_upstream(gateway, upstream):
    async def body():
        yield b"a" * 100
        # The upstream has the first chunk before the client sends the second:
        # the gateway does not buffer the request.
        await asyncio.wait_for(upstream.first_chunk.wait(), 5)
        yield b"b" * 100

    response = await gateway.put("/api/v1/parks/1", content=body())
    assert response.status_code == 201
    assert upstream.last["size"] == 200


async def test_response_body_streams_back(gateway, upstream):
    async with gateway.stream("GET", "/api/v1/parks/stream") as response:
        chunks = response.aiter_raw()
        first = await asyncio.wait_for(anext(chunks), 5)
        assert first == b"first|"  # arrived while the upstream still holds the rest
        upstream.release.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert rest == b"second"


async def test_body_limit_by_length_and_while_streaming(gateway, upstream):
    response = await gateway.post("/api/v1/parks", content=b"x" * 1001)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["max_body_bytes"] == 1000

    async def chunked():
        for _ in range(5):
            yield b"x" * 400

    response = await gateway.post("/api/v1/parks", content=chunked())
    assert response.status_code == 413
    assert response.json()["status"] == 413


async def test_unknown_path_is_a_404_problem(gateway):
    response = await gateway.get("/api/v1/parksx")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert (await gateway.get("/nowhere")).status_code == 404


async def test_dot_segments_refused(gateway):
    response = await gateway.get("/api/v1/parks/%2E%2E/users")
    assert response.status_code == 400


async def test_down_upstream_is_a_fast_503_and_recovers(make_settings):
    port = free_port()
    settings = make_settings(registry_url=f"http://127.0.0.1:{port}")
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        started = time.monotonic()
        response = await client.get("/api/v1/parks")
        assert time.monotonic() - started < 2
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/upstream-unavailable")
        # The upstream comes up on that port: the next request goes through.
        async with serve(Upstream(), port=port):
            assert (await client.get("/api/v1/parks")).status_code == 201


async def test_upstream_that_never_accepts_times_out_connecting(make_settings):
    # A listener whose accept queue is full: the kernel drops further SYNs, so connecting
    # hangs, the way a dead host behind a firewall behaves.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    settings = make_settings(
        registry_url=f"http://127.0.0.1:{port}", upstream_connect_timeout_seconds=0.5
    )
    try:
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
            started = time.monotonic()
            response = await client.get("/api/v1/parks")
            assert time.monotonic() - started < 2
            assert response.status_code == 503
            assert "0.5 s" in response.json()["detail"]
    finally:
        for sock in (*fillers, listener):
            sock.close()


async def test_slow_upstream_is_a_504(gateway):
    started = time.monotonic()
    response = await gateway.get("/api/v1/parks/slow")
    assert response.status_code == 504
    assert time.monotonic() - started < 2.5
    # An outage like any other: a problem saying when to retry.
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"


async def test_cors_applies_to_proxied_answers(gateway):
    response = await gateway.get("/api/v1/parks", headers={"Origin": "https://portal.example"})
    assert response.headers["access-control-allow-origin"] == "https://portal.example"
    assert "X-Request-ID" in response.headers["access-control-expose-headers"]
    preflight = await gateway.options(
        "/api/v1/parks",
        headers={
            "Origin": "https://portal.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    refused = await gateway.get("/api/v1/parks", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


async def test_rate_limit(upstream, make_settings):
    settings = make_settings(
        registry_url=upstream.url, rate_limit_per_minute=60, rate_limit_burst=3
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        answers = [await client.get("/api/v1/parks") for _ in range(4)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        # draft-ietf-httpapi-ratelimit-headers: quota = burst, window = time to refill it.
        assert answers[0].headers["ratelimit-policy"] == '"default";q=3;w=3'
        assert answers[0].headers["ratelimit"].startswith('"default";r=2;t=')
        assert answers[2].headers["ratelimit"].startswith('"default";r=0;t=')
        limited = answers[-1]
        assert limited.headers["content-type"] == "application/problem+json"
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["ratelimit"].startswith('"default";r=0;t=')
        # Probes are never limited.
        assert (await client.get("/livez")).status_code == 200


async def test_health_lists_every_upstream(gateway, upstream):
    started = time.monotonic()
    response = await gateway.get("/health")
    assert time.monotonic() - started < 2.5
    # orders is down, and these tests run without a gateway database.
    assert response.status_code == 503
    body = response.json()
    assert body["health"] == "degraded"
    assert set(body["upstreams"]) == {"registry", "orders", "accreditation", "events"}
    assert body["upstreams"]["registry"]["status"] == "ok"
    assert body["upstreams"]["registry"]["url"] == upstream.url
    assert body["upstreams"]["orders"]["status"] == "down"


async def test_docs_portal(gateway):
    page = await gateway.get("/docs")
    # Served from the gateway itself (no CDN), over the one merged document.
    assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "https://" not in page.text.split("<body>")[0]
    spec = await gateway.get("/docs/specs/registry.json")
    # Only what the gateway routes to that service.
    assert spec.status_code == 200 and list(spec.json()["paths"]) == ["/api/v1/parks"]
    assert (await gateway.get("/docs/specs/orders.json")).status_code == 503
    assert (await gateway.get("/docs/specs/nope.json")).status_code == 404
    events = await gateway.get("/docs/asyncapi.json")
    assert events.status_code == 200 and events.json()["asyncapi"].startswith("3.")
    merged = await gateway.get("/openapi.json")  # orders is down: left out, and said so
    assert (
        merged.json()["paths"]["/api/v1/auth/token"] and "/api/v1/parks" in merged.json()["paths"]
    )
    assert "orders" in merged.json()["info"]["x-unavailable-services"]


async def test_redirects_are_passed_on_not_followed_and_point_at_the_gateway(gateway):
    response = await gateway.get("/api/v1/parks/redirect")
    assert response.status_code == 307
    assert response.headers["location"] == f"{gateway.base_url}".rstrip("/") + "/api/v1/parks/"


async def test_rate_limit_keys_on_verified_subject(upstream, make_settings, tmp_path):
    from innopark_gateway.keys import SigningKey, TokenIssuer

    settings = make_settings(
        registry_url=upstream.url, rate_limit_per_minute=60, rate_limit_burst=2
    )
    app = create_app(settings)  # creates the key file
    ours = SigningKey.load_or_create(settings.jwt_private_key_path)
    theirs = SigningKey.load_or_create(tmp_path / "forger.pem")

    def bearer(key: SigningKey, subject: str) -> dict[str, str]:
        issuer = TokenIssuer(
            key=key, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_seconds=60
        )
        token, _ = issuer.issue(subject=subject, role="operator", extra={})
        return {"Authorization": f"Bearer {token}"}

    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        alice, bob = bearer(ours, "alice"), bearer(ours, "bob")
        statuses = [
            (await client.get("/api/v1/parks", headers=alice)).status_code for _ in range(3)
        ]
        assert statuses == [201, 201, 429]
        assert (await client.get("/api/v1/parks", headers=bob)).status_code == 201
        # Tokens this gateway did not sign count against the caller's IP, whatever
        # subject they claim: a fresh subject per request buys nothing.
        forged = [
            (await client.get("/api/v1/parks", headers=bearer(theirs, f"x{i}"))).status_code
            for i in range(3)
        ]
        assert forged == [201, 201, 429]


def test_proxied_server_spans_are_named_from_the_route_table() -> None:
    table = RouteTable({"/api/v1/parks": "registry", "/api/v1/users": GATEWAY})

    def scope(method: str, path: str) -> dict:
        return {"type": "http", "method": method, "path": path}

    assert table.span_details(scope("GET", "/api/v1/parks/5b0e")) == (
        "GET /api/v1/parks/{path}",
        {"http.route": "/api/v1/parks/{path}"},
    )
    assert table.span_details(scope("POST", "/api/v1/parks/")) == (
        "POST /api/v1/parks",
        {"http.route": "/api/v1/parks"},
    )
    # A method token outside HTTP's own is not let into span names.
    assert table.span_details(scope("BREW", "/api/v1/parks"))[0] == "HTTP /api/v1/parks"
    # The gateway's own routes, and paths nobody serves, are named by the router.
    assert table.span_details(scope("GET", "/api/v1/users/me")) is None
    assert table.span_details(scope("GET", "/nowhere")) is None
