"""Routing by resource prefix, and the streaming reverse proxy to the owning service.

A pure ASGI layer in front of the gateway's own FastAPI routes: gateway-owned paths go
on to FastAPI, service paths are forwarded over one pooled keep-alive aiohttp session,
anything else is a 404 problem. aiohttp rather than httpx, on measurement: on the build
machine a Starlette+httpx proxy managed ~900 req/s (encode/httpx#3215), aiohttp ~9,000.
The request path parses no JSON and copies no body: both directions stream.

Credentials at the edge, on every proxied request: an API key (`Bearer ipk_…` or
`X-API-Key`) is exchanged for a short-lived token the gateway signs (`apikeys`), so the
upstream never sees the key; a bearer token of a revoked subject (disabled user, revoked
client) is refused here, from the revocation list every replica keeps in step. Anything
else is for the upstream to verify, as it always does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import jwt
from innopark_shared.errors import problem
from innopark_shared.outages import is_transient
from innopark_shared.tracing import HTTP_METHODS, SpanKind, current_headers, tracer
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from .config import GatewaySettings

log = logging.getLogger(__name__)

GATEWAY = "gateway"

# The public contract (DESIGN.md §4): resource prefix → owner. Matched on whole path
# segments, so /api/v1/parks and /api/v1/parks/... route, /api/v1/parksx does not.
ROUTES: dict[str, str] = {
    "/api/v1/parks": "registry",
    "/api/v1/residents": "registry",
    "/api/v1/clusters": "registry",
    "/api/v1/agreements": "registry",
    "/api/v1/stats": "registry",
    "/api/v1/registry": "registry",
    "/api/v1/partners": "orders",
    "/api/v1/orders": "orders",
    "/api/v1/proposals": "orders",
    "/api/v1/webhooks": "orders",
    "/api/v1/accreditation": "accreditation",
    "/api/v1/certificates": "accreditation",
    "/api/v1/events": "events",
    # Served by the gateway itself.
    "/api/v1/auth": GATEWAY,
    "/api/v1/users": GATEWAY,
    "/api/v1/api-clients": GATEWAY,
    "/api/v1/api-keys": GATEWAY,
    "/.well-known/jwks.json": GATEWAY,
    "/health": GATEWAY,
    "/livez": GATEWAY,
    "/readyz": GATEWAY,
    "/docs": GATEWAY,
    "/openapi.json": GATEWAY,
}

# RFC 9110 §7.6.1 hop-by-hop fields, plus what the gateway sets itself (host, the
# X-Forwarded-* it computes) and `expect` (the gateway already answered 100-continue).
REQUEST_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"expect",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        # The gateway's own span is the upstream's parent: it sends its own trace context.
        b"traceparent",
        b"tracestate",
    }
)
# From responses also the fields this server adds (date, server, the request id) so they
# are not doubled, and CORS fields: the gateway is the one CORS authority.
RESPONSE_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"date",
        b"server",
        b"x-request-id",
    }
)
# aiohttp would otherwise add its own values; the client's (if any) are forwarded as sent.
SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
CHUNK = 64 * 1024


class RouteTable:
    """Longest prefix on a segment boundary: cut the path at each '/' from the right."""

    def __init__(self, routes: Mapping[str, str]) -> None:
        self._routes = {prefix.rstrip("/"): owner for prefix, owner in routes.items()}

    def match(self, path: str) -> str | None:
        found = self.prefix_of(path)
        return found[1] if found is not None else None

    def prefix_of(self, path: str) -> tuple[str, str] | None:
        """(the longest matching prefix, its owner), or None."""
        candidate = path.rstrip("/")
        while candidate:
            owner = self._routes.get(candidate)
            if owner is not None:
                return candidate, owner
            cut = candidate.rfind("/")
            if cut <= 0:
                return None
            candidate = candidate[:cut]
        return None

    def span_details(self, scope: Scope) -> tuple[str, dict[str, str]] | None:
        """The server span's name for a proxied request, without trying every one of the
        gateway's routes (see innopark_shared.tracing): `GET /api/v1/parks/{path}`, say.
        None for the gateway's own paths, which its routes name."""
        found = self.prefix_of(scope["path"])
        if found is None or found[1] == GATEWAY:
            return None
        prefix = found[0]
        route = prefix if scope["path"].rstrip("/") == prefix else f"{prefix}/{{path}}"
        method = scope.get("method", "")
        return f"{method if method in HTTP_METHODS else 'HTTP'} {route}", {"http.route": route}


def has_dot_segment(path: str) -> bool:
    # Starlette and the services do not normalise paths; refusing "." and ".." segments
    # (also when they arrived percent-encoded) means routing sees what the upstream sees.
    return "/." in path and any(part in (".", "..") for part in path.split("/"))


class Upstreams:
    """The one client session to every upstream: a pooled keep-alive connector."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.urls = settings.upstream_urls
        self.settings = settings
        connect = settings.upstream_connect_timeout_seconds
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=connect,
            # Includes waiting for a free pooled connection: a saturated pool answers 503
            # instead of queueing callers forever.
            connect=connect + 5.0,
            sock_read=settings.upstream_read_timeout_seconds,
        )
        self._session: aiohttp.ClientSession | None = None
        self.requests: Counter | None = None
        self.latency: Histogram | None = None

    def instrument(self, registry: CollectorRegistry) -> None:
        """Count and time what each upstream answered, in the app's metrics registry."""
        if self.requests is not None:
            return
        self.requests = Counter(
            "innopark_gateway_upstream_requests",
            "Requests forwarded, by upstream and the status the gateway answered",
            ["upstream", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "innopark_gateway_upstream_duration_seconds",
            "Time from forwarding a request to the end of the answer",
            ["upstream"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Upstreams.start() has not run (app lifespan not started)")
        return self._session

    async def start(self) -> None:
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=s.upstream_pool_size,
            limit_per_host=s.upstream_pool_size_per_host,
            keepalive_timeout=s.upstream_keepalive_seconds,
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeout,
            # Never keep cookies between callers, never decode bodies we only pass on,
            # never read proxy settings from the environment.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=SKIP_AUTO_HEADERS,
            trust_env=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class _Upload:
    """What happened to the request body while aiohttp streamed it upstream."""

    __slots__ = ("too_large", "client_gone", "done")

    def __init__(self) -> None:
        self.too_large = self.client_gone = self.done = False


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, *, upstreams: Upstreams, table: RouteTable) -> None:
        self.app = app
        self.upstreams = upstreams
        self.table = table
        self.max_body = upstreams.settings.max_body_bytes
        self.connect_timeout = upstreams.settings.upstream_connect_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        owner = self.table.match(path)
        if owner == GATEWAY:
            await self.app(scope, receive, send)
        elif owner is None:
            await problem(404, detail=f"No API at {path}", instance=path)(scope, receive, send)
        elif has_dot_segment(path):
            await problem(400, detail="Dot segments are not allowed in paths", instance=path)(
                scope, receive, send
            )
        else:
            await self.traced_forward(owner, scope, receive, send)

    async def _edge_credentials(self, scope: Scope) -> tuple[str | None, str | None]:
        """(token to send upstream instead of the caller's credentials, why to refuse)."""
        authorization = api_key = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-api-key":
                api_key = value.decode("latin-1").strip()
        scheme, _, credentials = (authorization or "").partition(" ")
        credentials = credentials.strip()
        is_bearer = scheme.lower() == "bearer"
        if api_key is None and is_bearer and credentials.startswith("ipk_"):
            api_key = credentials
        state = scope["app"].state
        if api_key is not None:
            exchange = getattr(state, "key_exchange", None)
            token = await exchange.token_for(api_key) if exchange is not None else None
            if token is None:
                return None, "Invalid, expired or revoked API key"
            return token, None
        revocations = getattr(state, "revocations", None)
        if is_bearer and credentials and revocations is not None:
            try:
                # Unverified: this can only refuse; the upstream verifies the signature.
                claims = jwt.decode(credentials, options={"verify_signature": False})
                subject, version = str(claims.get("sub")), int(claims.get("ver", 0))
            except (jwt.PyJWTError, TypeError, ValueError):
                return None, None
            if revocations.is_revoked(subject, version):
                return None, "Token revoked"
        return None, None

    def _request_headers(
        self, scope: Scope, token: str | None = None
    ) -> tuple[list[tuple[str, str]], int | None]:
        headers: list[tuple[str, str]] = []
        forwarded_for = host = None
        content_length: int | None = None
        extra_drop: set[bytes] = set()
        for name, value in scope["headers"]:
            if name == b"connection":
                # Fields named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
                extra_drop.update(v.strip().lower() for v in value.split(b","))
            elif name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
            elif name == b"content-length":
                content_length = int(value)  # ValueError → 400 by the caller
            if name in REQUEST_DROP or name.startswith(b"proxy-"):
                continue
            if token is not None and name in (b"authorization", b"x-api-key"):
                continue  # the key stays here; the upstream gets the token for it
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
        if token is not None:
            headers.append(("Authorization", f"Bearer {token}"))
        if extra_drop:
            headers = [(n, v) for n, v in headers if n.encode("latin-1") not in extra_drop]
        client = scope.get("client")
        if client:
            if not forwarded_for:
                forwarded_for = client[0]
            elif forwarded_for.rpartition(",")[2].strip() != client[0]:
                # When uvicorn trusted the previous proxy (proxy_headers), the client is
                # already the last entry; otherwise add the peer, as every proxy does.
                forwarded_for = f"{forwarded_for}, {client[0]}"
        if forwarded_for:
            headers.append(("X-Forwarded-For", forwarded_for))
        headers.append(("X-Forwarded-Proto", scope.get("scheme", "http")))
        if host:
            headers.append(("X-Forwarded-Host", host))
        headers.extend(current_headers().items())  # traceparent of the gateway's span
        return headers, content_length

    async def _stream_body(
        self, first: bytes, receive: Receive, upload: _Upload
    ) -> AsyncIterator[bytes]:
        size = len(first)
        if first:
            yield first
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                upload.client_gone = True
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                upload.too_large = True
                raise _BodyTooLarge
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                upload.done = True
                return

    async def forward(self, owner: str, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        try:
            token, refusal = await self._edge_credentials(scope)
        except Exception as exc:
            if not is_transient(exc):
                raise
            # The key could not be looked up: the gateway's database is down.
            log.warning("cannot check an API key: %r", exc)
            await problem(
                503,
                slug="service-unavailable",
                detail="Credentials cannot be checked right now; try again shortly",
                instance=path,
                headers={"Retry-After": "1"},
            )(scope, receive, send)
            return
        if refusal is not None:
            await problem(
                401,
                slug="unauthorized",
                detail=refusal,
                instance=path,
                headers={"WWW-Authenticate": 'Bearer realm="innopark"'},
            )(scope, receive, send)
            return
        try:
            headers, content_length = self._request_headers(scope, token)
        except ValueError:
            await problem(400, detail="Invalid Content-Length", instance=path)(scope, receive, send)
            return
        if content_length is not None and content_length > self.max_body:
            await self._too_large(scope, receive, send)
            return

        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body = message.get("body", b"")
        upload = _Upload()
        data: Any
        if message.get("more_body", False):
            data = self._stream_body(body, receive, upload)
        else:
            if len(body) > self.max_body:
                await self._too_large(scope, receive, send)
                return
            upload.done = True
            data = body or None

        raw_path = scope.get("raw_path") or path.encode()
        target = self.upstreams.urls[owner] + raw_path.decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        url = URL(target, encoded=True)  # forwarded byte for byte, no re-quoting
        method = scope["method"]
        # One retry, only when it is safe: an idempotent request with its body in hand,
        # on a pooled connection the upstream closed just as we reused it.
        attempts = 2 if method in IDEMPOTENT and not isinstance(data, AsyncIterator) else 1
        started = time.perf_counter()
        for attempt in range(attempts):
            try:
                async with self.upstreams.session.request(
                    method, url, headers=headers, data=data, allow_redirects=False
                ) as response:
                    await self._relay_response(
                        response, owner, started, scope, receive, send, upload
                    )
                return
            except aiohttp.ServerDisconnectedError:
                if attempt + 1 < attempts:
                    continue
                # The upstream died under the request (crash, restart): an outage, so a
                # 503 with Retry-After. A write may or may not have been applied.
                error = self._unavailable(
                    owner,
                    path,
                    "closed the connection before answering"
                    + ("" if method in IDEMPOTENT else " (the change may have been applied)"),
                )
            except aiohttp.ConnectionTimeoutError:
                error = self._unavailable(
                    owner, path, f"did not accept a connection within {self.connect_timeout:g} s"
                )
            except aiohttp.ClientConnectorError:
                error = self._unavailable(owner, path, "is not reachable")
            except aiohttp.SocketTimeoutError:
                # Silent for UPSTREAM_READ_TIMEOUT_SECONDS (frozen, overloaded): an
                # outage the client may retry, so it says when. A write may or may not
                # have been applied: read it, or resend with the same Idempotency-Key.
                error = problem(
                    504,
                    slug="upstream-timeout",
                    instance=path,
                    detail=f"The {owner} service did not answer in time"
                    + ("" if method in IDEMPOTENT else " (the change may have been applied)"),
                    headers={"Retry-After": "1"},
                )
            except aiohttp.ClientError as exc:
                if upload.too_large:
                    await self._too_large(scope, receive, send)
                    return
                if upload.client_gone:
                    return
                log.warning("proxying to %s failed: %r", owner, exc)
                error = self._unavailable(owner, path, "could not be reached")
            await error(scope, receive, send)
            return

    async def _relay_response(
        self,
        response: aiohttp.ClientResponse,
        owner: str,
        started: float,
        scope: Scope,
        receive: Receive,
        send: Send,
        upload: _Upload,
    ) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        headers = []
        for name, value in response.raw_headers:
            name = name.lower()
            if name in RESPONSE_DROP or name.startswith((b"proxy-", b"access-control-")):
                continue
            if name == b"location":
                value = self._public_location(owner, value, scope)
            headers.append((name, value))
        headers.append((b"server-timing", f"upstream;desc={owner};dur={elapsed_ms:.1f}".encode()))
        length = response.content_length
        if length is not None and length <= CHUNK:
            # Small and sized (most API answers): one read, one send.
            body = await response.read()
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        # An open-ended stream (no length: SSE, exports) would run on after the client
        # left, since the server drops writes to a closed connection; watch for that.
        watcher = (
            asyncio.create_task(_close_on_disconnect(receive, response))
            if length is None and upload.done
            else None
        )
        try:
            async for chunk in response.content.iter_chunked(CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Headers are out: no problem document possible. Leaving the response
            # incomplete makes the server drop the connection, so the client sees a
            # truncated response rather than a false success.
            if not response.closed or watcher is None or not watcher.done():
                log.warning("%s broke off a response: %r", owner, exc)
            return
        finally:
            if watcher is not None:
                watcher.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _public_location(self, owner: str, location: bytes, scope: Scope) -> bytes:
        """An absolute redirect to the upstream's own address (a trailing-slash redirect,
        say) is rewritten to the gateway's, as nginx's `proxy_redirect default` does:
        clients must never be sent to an internal host."""
        base = self.upstreams.urls[owner].encode("latin-1")
        if not location.startswith(base):
            return location
        host = next((v for n, v in scope["headers"] if n == b"host"), None)
        if host is None:
            return location[len(base) :] or b"/"
        return scope.get("scheme", "http").encode() + b"://" + host + location[len(base) :]

    async def traced_forward(self, owner: str, scope: Scope, receive: Receive, send: Send) -> None:
        """`forward` inside a client span of the gateway's own (its context is what the
        upstream continues), counted and timed per upstream."""
        status = 499  # nothing was answered: the client went away first

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method = scope["method"]
        started = time.perf_counter()
        with tracer().start_as_current_span(
            f"{method} {owner}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "server.address": owner},
        ) as span:
            try:
                await self.forward(owner, scope, receive, send_status)
            finally:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
                requests, latency = self.upstreams.requests, self.upstreams.latency
                if requests is not None and latency is not None:
                    requests.labels(owner, f"{status // 100}xx").inc()
                    latency.labels(owner).observe(time.perf_counter() - started)

    def _unavailable(self, owner: str, path: str, why: str):
        return problem(
            503,
            slug="upstream-unavailable",
            detail=f"The {owner} service {why}; try again shortly",
            instance=path,
            headers={"Retry-After": "1"},
        )

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(
            413,
            slug="content-too-large",
            detail=f"The request body exceeds {self.max_body} bytes",
            instance=scope["path"],
            max_body_bytes=self.max_body,
            # The rest of the body is not read; the connection cannot be reused.
            headers={"Connection": "close"},
        )(scope, receive, send)


async def _close_on_disconnect(receive: Receive, response: aiohttp.ClientResponse) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            response.close()
            return
