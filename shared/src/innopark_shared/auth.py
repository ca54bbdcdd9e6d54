"""Token verification and the caller's principal.

The gateway (or an external OpenID Connect issuer) signs JWTs with an asymmetric key and
publishes its JWKS; every service verifies tokens itself with that key set and never
trusts a bare identity header. Routes declare who may call them with the dependencies
at the bottom of this module.

Revocation: a token carries its subject's token version (`ver`, 0 when absent); the
verifier refuses it when the subject's minimum version is higher (`Revocations`, kept by
`innopark_shared.readmodels.revocations` from the gateway's events). Scopes: API clients
and keys carry a `scope` claim and may only do what it names (`require_scopes_by_method`);
people's tokens carry no scope and are limited by their role alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Protocol
from uuid import UUID

import httpx
import jwt
from cachetools import LRUCache
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import Forbidden, ServiceUnavailable, Unauthorized

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ["ES256", "RS256", "EdDSA"]


class Role(StrEnum):
    OPERATOR = "operator"
    PARK_MANAGER = "park_manager"
    RESIDENT = "resident"
    PARTNER = "partner"
    EXPERT = "expert"


# The binding claim each role must carry.
ROLE_BINDING: dict[Role, str | None] = {
    Role.OPERATOR: None,
    Role.EXPERT: None,
    Role.PARK_MANAGER: "park_id",
    Role.RESIDENT: "resident_id",
    Role.PARTNER: "partner_id",
}


# What API clients and keys may be limited to (`scope` claim, space-separated).
SCOPES: dict[str, str] = {
    "orders:read": "Read orders, proposals to them and the partner's own record",
    "orders:write": "Create, change and move orders through their lifecycle",
    "proposals:write": "Submit and withdraw proposals (residents, park managers)",
    "proposals:decide": "Shortlist, accept and reject proposals to the partner's orders",
    "webhooks:manage": "Create, change and delete webhook endpoints",
}


class Revocations(Protocol):
    def is_revoked(self, subject: str, version: int) -> bool: ...


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    email: str | None = None
    park_id: UUID | None = None
    resident_id: UUID | None = None
    partner_id: UUID | None = None
    client_id: str | None = None
    # None: a person's token, limited by role only; else what the client or key may do.
    scopes: frozenset[str] | None = None
    version: int = 0

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def manages_park(self, park_id: UUID) -> bool:
        return self.role is Role.PARK_MANAGER and self.park_id == park_id

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        try:
            role = Role(str(claims.get("role")))
        except ValueError as exc:
            raise Unauthorized("Token carries no known role") from exc

        def uuid_claim(name: str) -> UUID | None:
            value = claims.get(name)
            if value in (None, ""):
                return None
            try:
                return UUID(str(value))
            except ValueError as exc:
                raise Unauthorized(f"Token claim {name} is not a UUID") from exc

        try:
            version = int(claims.get("ver", 0))
        except (TypeError, ValueError) as exc:
            raise Unauthorized("Token claim ver is not an integer") from exc
        principal = cls(
            subject=str(claims["sub"]),
            role=role,
            email=claims.get("email"),
            park_id=uuid_claim("park_id"),
            resident_id=uuid_claim("resident_id"),
            partner_id=uuid_claim("partner_id"),
            client_id=claims.get("client_id"),
            scopes=frozenset(str(claims["scope"]).split()) if "scope" in claims else None,
            version=version,
        )
        binding = ROLE_BINDING[role]
        if binding and getattr(principal, binding) is None:
            raise Unauthorized(f"A {role} token must carry {binding}")
        return principal


# Clock skew allowed between the issuer and this process.
TOKEN_LEEWAY_SECONDS = 10
VERIFIED_TOKENS_KEPT = 10_000


class TokenVerifier:
    """Verifies JWTs against a JWKS fetched over HTTP, cached and refreshed on unknown keys.

    Given `jwks` (a JWKS document) instead of `jwks_url`, it verifies against that fixed
    key set and never fetches: the gateway checks its own tokens without calling itself.
    """

    def __init__(
        self,
        *,
        jwks_url: str = "",
        issuer: str,
        audience: str,
        refresh_interval: float = 300.0,
        min_refetch_interval: float = 5.0,
        jwks: dict[str, Any] | None = None,
        leeway: float = TOKEN_LEEWAY_SECONDS,
    ) -> None:
        if not jwks_url and jwks is None:
            raise ValueError("TokenVerifier needs jwks_url or jwks")
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.refresh_interval = refresh_interval
        self.min_refetch_interval = min_refetch_interval
        self.leeway = leeway
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._static = jwks is not None
        # Tokens already verified, with the key that signed them: checking an ES256
        # signature is a tenth of a write's CPU, and a client sends the same token for
        # as long as it lives. Bounded; each entry still answers to its expiry, to its
        # key still being published, and to revocation, on every request.
        self._verified: LRUCache[str, tuple[Principal, str, float]] = LRUCache(
            maxsize=VERIFIED_TOKENS_KEPT
        )
        # Set by the app once its revocation list is loaded; None checks nothing.
        self.revocations: Revocations | None = None
        if jwks is not None:
            self._keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id}

    async def _refresh(self, *, force: bool) -> None:
        if self._static:
            return
        if not force and self._keys and time.monotonic() - self._fetched_at < self.refresh_interval:
            return
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if self._keys and age < (self.min_refetch_interval if force else self.refresh_interval):
                return
            try:
                async with httpx.AsyncClient(timeout=3.0) as client:
                    response = await client.get(self.jwks_url)
                    response.raise_for_status()
                    jwks = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, jwt.PyJWKSetError, ValueError) as exc:
                log.warning("cannot fetch JWKS from %s: %s", self.jwks_url, exc)
                if not self._keys:
                    raise ServiceUnavailable("Token keys are not available yet") from exc
                return
            self._keys = {k.key_id: k for k in jwks.keys if k.key_id}
            self._fetched_at = time.monotonic()

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        await self._refresh(force=False)
        if kid not in self._keys:
            await self._refresh(force=True)
        try:
            return self._keys[kid]
        except KeyError:
            raise Unauthorized("Token signed by an unknown key") from None

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            await self._refresh(force=False)  # a withdrawn key ends its tokens here too
            principal, kid, expires = known
            if time.time() <= expires + self.leeway and kid in self._keys:
                return self._not_revoked(principal)
            del self._verified[token]
        principal, kid, expires = await self._verify_signature(token)
        self._verified[token] = (principal, kid, expires)
        return self._not_revoked(principal)

    def _not_revoked(self, principal: Principal) -> Principal:
        if self.revocations is not None and self.revocations.is_revoked(
            principal.subject, principal.version
        ):
            raise Unauthorized("Token revoked")
        return principal

    async def _verify_signature(self, token: str) -> tuple[Principal, str, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("Malformed token") from exc
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise Unauthorized("Token algorithm not accepted")
        kid = str(header.get("kid", ""))
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[header["alg"]],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=self.leeway,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid token") from exc
        return Principal.from_claims(claims), kid, float(claims["exp"])


_bearer = HTTPBearer(auto_error=False, description="JWT from POST /api/v1/auth/token")


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    if credentials is None:
        if request.headers.get("authorization"):
            raise Unauthorized("Authorization must be a Bearer token")
        return None
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(credentials.credentials)


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized("Authentication required")
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role):
    """Dependency: the caller must be authenticated with one of `roles` (else 403)."""
    allowed = frozenset(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"This action needs one of the roles: {', '.join(sorted(allowed))}")
        return principal

    return dependency


OperatorPrincipal = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]


def require_scopes_by_method(*, read: str, write: str, actions: dict[str, str] | None = None):
    """Router dependency: a scoped token (API client or key) needs `read` for GET and
    HEAD, `write` for any other method, or `actions[last path segment]` for an action
    route (`POST .../accept`). People's tokens, and anonymous calls (the route's own
    dependencies decide those), pass."""
    by_action = actions or {}

    async def dependency(request: Request, principal: OptionalPrincipal) -> None:
        if principal is None or principal.scopes is None:
            return
        if request.method in ("GET", "HEAD"):
            needed = read
        else:
            needed = by_action.get(request.url.path.rstrip("/").rsplit("/", 1)[-1], write)
        if needed not in principal.scopes:
            raise Forbidden(f"This action needs the scope {needed}", required_scope=needed)

    return dependency
