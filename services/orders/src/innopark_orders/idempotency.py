"""`Idempotency-Key` on creates: a replay returns the stored response, the same key with
another body is a 422.

The key is claimed in the request's own transaction, together with the object it creates
and the response stored for replays: either all three exist or none does. A request that
dies (a crash, a database outage mid-create) leaves no claim behind, so the client's retry
is served as a first attempt. A concurrent duplicate waits on the key's unique index until
the first finishes, then replays its answer (or, if the first failed, runs itself); past
`WAIT_SECONDS` it is a 409 to retry. Keys and responses are kept for
`idempotency_ttl_hours` (24 h by default), announced in the `Idempotency-Expires` header.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from innopark_shared.auth import CurrentPrincipal, Principal
from innopark_shared.db import SessionDep
from innopark_shared.errors import Conflict, Unprocessable
from innopark_shared.outages import sqlstate_of
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from .config import OrdersSettings, SettingsDep
from .models import IdempotencyKey

Created = tuple[int, Any, dict[str, str]]  # status, body, headers

# How long a duplicate waits for the request holding its key before a 409.
WAIT_SECONDS = 5.0
LOCK_NOT_AVAILABLE = "55P03"


def scope_of(principal: Principal) -> str:
    if principal.partner_id is not None:
        return f"partner:{principal.partner_id}"
    return f"subject:{principal.subject}"


async def request_hash(request: Request) -> str:
    raw = await request.body()
    try:
        canonical = json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = raw.decode(errors="replace")
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode())
    return digest.hexdigest()


def _expires_header(expires_at: datetime) -> dict[str, str]:
    return {"Idempotency-Expires": expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")}


def _key_error(message: str, kind: str, detail: str) -> Unprocessable:
    return Unprocessable.for_field(
        "Idempotency-Key", message, location="header", kind=kind, detail=detail
    )


@dataclass(frozen=True)
class Idempotency:
    """A create route's guard: `await idempotency.run(create)`."""

    request: Request
    session: AsyncSession
    settings: OrdersSettings
    principal: Principal
    key: str | None

    async def run(self, create: Callable[[], Awaitable[Created]]) -> JSONResponse:
        """`create()` once per key (in the request's transaction), or the stored answer."""
        if self.key is None:
            status, body, headers = await create()
            return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)
        if not 1 <= len(self.key) <= 255:
            raise _key_error(
                "1 to 255 characters",
                "string_length",
                "Idempotency-Key must be 1 to 255 characters",
            )
        scope = scope_of(self.principal)
        digest = await request_hash(self.request)
        expires_at = datetime.now(UTC) + timedelta(hours=self.settings.idempotency_ttl_hours)

        replay = await _claim(
            self.session, scope=scope, key=self.key, digest=digest, expires_at=expires_at
        )
        if replay is not None:
            return replay
        status, body, headers = await create()
        encoded = jsonable_encoder(body)
        headers = {**headers, **_expires_header(expires_at)}
        await self.session.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.scope == scope, IdempotencyKey.key == self.key)
            .values(
                state="done",
                response_status=status,
                response_body=encoded,
                response_headers=headers,
            )
        )
        return JSONResponse(encoded, status_code=status, headers=headers)


async def _idempotency(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            description="Makes the create safe to retry: replays within 24 h return the response",
        ),
    ] = None,
) -> Idempotency:
    return Idempotency(request, session, settings, principal, key)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]


async def _claim(
    session: AsyncSession, *, scope: str, key: str, digest: str, expires_at: datetime
) -> JSONResponse | None:
    """Claim the key in the request's transaction (None), or answer from what an earlier
    request stored."""
    await session.execute(
        sa.delete(IdempotencyKey).where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at < sa.func.now(),
        )
    )
    # A duplicate still running holds the key's index entry: wait for it, briefly.
    await session.execute(sa.text(f"SET LOCAL lock_timeout = '{int(WAIT_SECONDS * 1000)}ms'"))
    try:
        inserted = await session.execute(
            pg_insert(IdempotencyKey)
            .values(
                scope=scope,
                key=key,
                request_hash=digest,
                state="in_progress",
                expires_at=expires_at,
            )
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(IdempotencyKey.key)
        )
    except DBAPIError as exc:
        if sqlstate_of(exc) == LOCK_NOT_AVAILABLE:
            raise Conflict(
                "A request with this Idempotency-Key is still in progress; retry shortly"
            ) from exc
        raise
    await session.execute(sa.text("RESET lock_timeout"))
    if inserted.first() is not None:
        return None
    existing = (
        await session.execute(
            sa.select(IdempotencyKey).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key == key
            )
        )
    ).scalar_one()
    if existing.request_hash != digest:
        raise _key_error(
            "key reused with another request body",
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request",
        )
    headers = {**(existing.response_headers or {}), "Idempotent-Replayed": "true"}
    return JSONResponse(
        existing.response_body, status_code=existing.response_status or 200, headers=headers
    )


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at < sa.func.now())
    )
    return result.rowcount or 0
