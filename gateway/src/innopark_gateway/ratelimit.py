"""Per-client rate limits: a token bucket per caller, and the IETF RateLimit header fields.

The caller is the subject of a bearer token this gateway signed (checked against its own
key once per token, then cached), otherwise the client IP. Keying on a claim nobody
verified would let a caller mint a fresh bucket per request.

Where the buckets live: with `RATE_LIMIT_REDIS_URL` set, in Redis (one atomic script per
request, Redis's clock), so every gateway replica spends from the same bucket; unset (the
embedded default, one process), in this process. If Redis cannot be reached the request
is let through and counted (`innopark_gateway_ratelimit_unavailable_total`): a limiter
outage must not take the API down with it.

Failed logins are counted in buckets of their own, in the same place: with Redis, every
replica refuses an account that failed too often on any of them (N replicas must not mean
N times the guesses). While Redis cannot be reached, each process counts on its own.

Header fields, per draft-ietf-httpapi-ratelimit-headers-11: one policy, `"default"`, whose
quota `q` is the bucket's capacity (RATE_LIMIT_BURST) and window `w` the seconds an
empty bucket takes to fill (burst × 60 / RATE_LIMIT_PER_MINUTE); on every answer
`RateLimit: "default";r=<whole tokens left after this request>;t=<seconds until full>`,
read from the same counter that decided the request.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from innopark_shared.errors import problem
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .keys import ALGORITHM

log = logging.getLogger(__name__)

# Probes and key discovery are never limited: a throttled JWKS would lock services out.
EXEMPT_PREFIXES = ("/livez", "/readyz", "/health", "/.well-known/")
POLICY = "default"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    tokens: float  # left after this request
    full_in: float  # seconds until the bucket is full again
    retry_after: float  # seconds until one token is available (0 when allowed)


class Limiter(Protocol):
    per_minute: int
    capacity: float
    rate: float

    async def decide(self, key: str) -> Decision | None:
        """Spend a token of `key`'s bucket; None when the counter is unreachable."""
        ...


class TokenBuckets:
    """Buckets in this process (the embedded default; also failed logins)."""

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

    async def decide(self, key: str) -> Decision:
        allowed, tokens, full_in = self.take(key)
        wait = 0.0 if allowed else (1.0 - tokens) / self.rate
        return Decision(allowed, tokens, full_in, wait)

    # FailureBuckets
    async def available(self, key: str) -> tuple[float, float]:
        return self.peek(key)

    async def spend(self, key: str) -> None:
        self.take(key)


class FailureBuckets(Protocol):
    """Failed logins per account or client: look before checking, spend on a failure."""

    async def available(self, key: str) -> tuple[float, float]:
        """(tokens left, seconds until one is) without spending any."""
        ...

    async def spend(self, key: str) -> None: ...


# KEYS[1]: the bucket; ARGV: refill rate (tokens/s), capacity. Redis's clock, so replicas
# whose clocks differ still agree. Returns {allowed, tokens left} (tokens as a string:
# Lua numbers come back truncated to integers otherwise).
TOKEN_BUCKET_LUA = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(tokens)}
"""

# The same bucket, only read: tokens available now (as a string).
PEEK_BUCKET_LUA = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
return tostring(math.min(capacity, tokens + math.max(0, now - at) * rate))
"""


class RedisTokenBuckets:
    """Buckets in Redis, shared by every gateway replica."""

    # After a failure, Redis is not asked again for this long (requests pass meanwhile),
    # so an outage costs one timeout per interval, not one per request.
    RETRY_AFTER_FAILURE_SECONDS = 1.0

    def __init__(
        self,
        *,
        url: str,
        per_minute: int,
        burst: int,
        prefix: str = "innopark:ratelimit:",
        timeout: float = 0.25,
        unavailable: Counter | None = None,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.per_minute = per_minute
        self.prefix = prefix
        self.redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._script = self.redis.register_script(TOKEN_BUCKET_LUA)
        self._peek = self.redis.register_script(PEEK_BUCKET_LUA)
        self._skip_until = 0.0
        self.unavailable = unavailable
        # Failed logins while Redis is unreachable: counted here rather than not at all.
        self._local = TokenBuckets(per_minute=per_minute, burst=burst)

    async def _run(self, script: Any, key: str) -> Any:
        """The script's answer for `key`'s bucket; None while Redis cannot be reached."""
        if time.monotonic() < self._skip_until:
            self._count_unavailable()
            return None
        try:
            return await script(
                keys=[self.prefix + key], args=[repr(self.rate), repr(self.capacity)]
            )
        except (RedisError, OSError) as exc:
            self._skip_until = time.monotonic() + self.RETRY_AFTER_FAILURE_SECONDS
            self._count_unavailable()
            log.warning("rate limits unavailable (Redis: %s); counting in this process", exc)
            return None

    async def decide(self, key: str) -> Decision | None:
        answer = await self._run(self._script, key)
        if answer is None:
            return None  # let the request through
        allowed, tokens = answer
        left = float(tokens)
        wait = 0.0 if allowed else (1.0 - left) / self.rate
        return Decision(bool(allowed), left, (self.capacity - left) / self.rate, wait)

    # FailureBuckets
    async def available(self, key: str) -> tuple[float, float]:
        answer = await self._run(self._peek, key)
        if answer is None:
            return self._local.peek(key)
        tokens = float(answer)
        return tokens, max(0.0, (1.0 - tokens) / self.rate)

    async def spend(self, key: str) -> None:
        if await self._run(self._script, key) is None:
            self._local.take(key)

    def _count_unavailable(self) -> None:
        if self.unavailable is not None:
            self.unavailable.inc()

    async def close(self) -> None:
        await self.redis.aclose()


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


def policy_field(limiter: Limiter) -> bytes:
    window = math.ceil(limiter.capacity / limiter.rate)
    return f'"{POLICY}";q={int(limiter.capacity)};w={window}'.encode()


def limit_field(decision: Decision) -> bytes:
    return f'"{POLICY}";r={int(decision.tokens)};t={math.ceil(decision.full_in)}'.encode()


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, buckets: Limiter, subjects: SubjectCache) -> None:
        self.app = app
        self.buckets = buckets
        self.subjects = subjects
        self.policy = policy_field(buckets)

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
        decision = await self.buckets.decide(self.client_key(scope))
        if decision is None:  # the shared counter is unreachable: let it through
            await self.app(scope, receive, send)
            return
        headers = [(b"ratelimit-policy", self.policy), (b"ratelimit", limit_field(decision))]
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.retry_after))
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
