"""Per-client rate limits: an in-memory token bucket per caller, IETF RateLimit headers.

The caller is the subject of a bearer token this gateway signed (checked against its own
key once per token, then cached), otherwise the client IP. Keying on a claim nobody
verified would let a caller mint a fresh bucket per request. Limits are per gateway
process; with several replicas each enforces its own share.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

import jwt
from innopark_shared.errors import problem
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .keys import ALGORITHM

# Probes and key discovery are never limited: a throttled JWKS would lock services out.
EXEMPT_PREFIXES = ("/livez", "/readyz", "/health", "/.well-known/")


class TokenBuckets:
    def __init__(self, *, per_minute: int, burst: int, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(burst)
        self.per_minute = per_minute
        self.max_clients = max_clients
        # key → (tokens, last refill); insertion order doubles as least-recently-seen order.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def peek(self, key: str, now: float | None = None) -> tuple[float, float]:
        """(tokens available, seconds until one is) without spending any."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        return tokens, max(0.0, (1.0 - tokens) / self.rate)

    def take(self, key: str, now: float | None = None) -> tuple[bool, float, float]:
        """(allowed, tokens left, seconds until the bucket is full again)."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            # Forget the longest-idle caller; its bucket had refilled long ago anyway.
            self._buckets.popitem(last=False)
        return allowed, tokens, (self.capacity - tokens) / self.rate


class SubjectCache:
    """Token → subject for tokens this gateway signed; verified once, remembered until
    they expire (bounded)."""

    def __init__(
        self, *, public_key, kid: str, issuer: str, audience: str, size: int = 10_000
    ) -> None:
        self.public_key = public_key
        self.kid = kid
        self.issuer = issuer
        self.audience = audience
        self.size = size
        self._cache: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    def subject(self, token: str) -> str | None:
        hit = self._cache.get(token)
        now = time.time()
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            # A token signed by another key is not ours to trust: skip the signature check.
            if jwt.get_unverified_header(token).get("kid") != self.kid:
                raise jwt.InvalidTokenError("foreign key")
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
            )
            subject, expires = str(claims["sub"]), float(claims["exp"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            # Not ours or not valid: the caller counts by IP. Remember that briefly.
            subject, expires = None, now + 60
        self._cache[token] = (subject, expires)
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return subject


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets, subjects: SubjectCache) -> None:
        self.app = app
        self.buckets = buckets
        self.subjects = subjects
        self.limit = str(buckets.per_minute).encode()
        self.policy = f"{buckets.per_minute};w=60;burst={int(buckets.capacity)}".encode()

    def client_key(self, scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token:
                    subject = self.subjects.subject(token.strip())
                    if subject:
                        return "sub:" + subject
                break
        client = scope.get("client")
        return "ip:" + (client[0] if client else "unknown")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        allowed, remaining, full_in = self.buckets.take(self.client_key(scope))
        headers = [
            (b"ratelimit-limit", self.limit),
            (b"ratelimit-remaining", str(int(remaining)).encode()),
            (b"ratelimit-reset", str(math.ceil(full_in)).encode()),
            (b"ratelimit-policy", self.policy),
        ]
        if not allowed:
            retry_after = max(1, math.ceil((1.0 - remaining) / self.buckets.rate))
            response = problem(
                429,
                slug="rate-limited",
                detail=f"Rate limit exceeded; retry in {retry_after} s",
                instance=scope["path"],
                headers={"Retry-After": str(retry_after)},
            )
            response.raw_headers.extend(headers)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
