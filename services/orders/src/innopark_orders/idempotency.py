"""`Idempotency-Key` on creates: a replay returns the stored response, the same key with
another body is a 422, a retry while the first request is still running is a 409.

A key is claimed in its own short transaction (so a concurrent duplicate sees it at
once); the response is stored in the request's transaction together with the object it
created, so either both exist or neither. Keys and responses are kept for
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
from innopark_shared.db import Database, DatabaseDep, SessionDep
from innopark_shared.errors import Conflict, Unprocessable
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .config import OrdersSettings, SettingsDep
from .models import IdempotencyKey

Created = tuple[int, Any, dict[str, str]]  # status, body, headers


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
    database: Database
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
            self.database,
            scope=scope,
            key=self.key,
            digest=digest,
            expires_at=expires_at,
            stale_after=self.settings.idempotency_stale_seconds,
        )
        if replay is not None:
            return replay
        try:
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
        except BaseException:
            await _release(self.database, scope=scope, key=self.key)
            raise
        return JSONResponse(encoded, status_code=status, headers=headers)


async def _idempotency(
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
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
    return Idempotency(request, session, database, settings, principal, key)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]


async def _claim(
    database: Database,
    *,
    scope: str,
    key: str,
    digest: str,
    expires_at: datetime,
    stale_after: float,
) -> JSONResponse | None:
    """Claim the key (None), or answer from what an earlier request left."""
    async with database.transaction() as session:
        # An expired key, or a claim whose request died, no longer counts.
        await session.execute(
            sa.delete(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                sa.or_(
                    IdempotencyKey.expires_at < sa.func.now(),
                    sa.and_(
                        IdempotencyKey.state == "in_progress",
                        IdempotencyKey.created_at
                        < sa.func.now() - sa.text(f"interval '{float(stale_after)} seconds'"),
                    ),
                ),
            )
        )
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
        if inserted.first() is not None:
            return None
        existing = (
            await session.execute(
                sa.select(IdempotencyKey).where(
                    IdempotencyKey.scope == scope, IdempotencyKey.key == key
                )
            )
        ).scalar_one_or_none()
    if existing is None:  # released between our insert and select: let the client retry
        raise Conflict("A request with this Idempotency-Key is in progress; retry shortly")
    if existing.request_hash != digest:
        raise _key_error(
            "key reused with another request body",
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request",
        )
    if existing.state != "done":
        raise Conflict("A request with this Idempotency-Key is still in progress; retry shortly")
    headers = {**(existing.response_headers or {}), "Idempotent-Replayed": "true"}
    return JSONResponse(
        existing.response_body, status_code=existing.response_status or 200, headers=headers
    )


async def _release(database: Database, *, scope: str, key: str) -> None:
    async with database.transaction() as session:
        await session.execute(
            sa.delete(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_progress",
            )
        )


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at < sa.func.now())
    )
    return result.rowcount or 0
