"""Identity operations: users, API clients, password and client-credentials grants.

They flush, never commit: the caller owns the transaction. Argon2 runs in a worker
thread (argon2-cffi releases the GIL), so a login does not stall the proxy's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import ROLE_BINDING, Role
from innopark_shared.errors import Conflict, DomainError, NotFound, Unprocessable, field_error
from innopark_shared.pagination import Slice, paginate
from pwdlib import PasswordHash
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .keys import TokenIssuer
from .models import ApiClient, User
from .schemas import ApiClientCreate, UserCreate

log = logging.getLogger(__name__)

password_hash = PasswordHash.recommended()  # Argon2id with the library's current parameters

# Verified against when the account does not exist, so a wrong e-mail costs the same time
# as a wrong password and does not reveal which accounts exist.
_DUMMY_HASH = password_hash.hash(secrets.token_urlsafe(16))

BINDING_FIELDS = ("park_id", "resident_id", "partner_id")


# --- OAuth2 token endpoint errors (RFC 6749 §5.2), as problem details with `error` ---


class OAuthError(DomainError):
    status, slug, error = 400, "invalid-request", "invalid_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error=self.error)
        # Token responses, errors included, must not be cached (RFC 6749 §5.1).
        self.headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class InvalidRequest(OAuthError):
    pass


class InvalidGrant(OAuthError):
    slug, error = "invalid-grant", "invalid_grant"


class InvalidClient(OAuthError):
    status, slug, error = 401, "invalid-client", "invalid_client"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers["WWW-Authenticate"] = 'Basic realm="innopark"'


class UnsupportedGrantType(OAuthError):
    slug, error = "unsupported-grant-type", "unsupported_grant_type"


# --- passwords ---


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(password_hash.hash, secret)


async def verify_secret(secret: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash if the stored one uses outdated parameters)."""
    if stored_hash is None:
        await asyncio.to_thread(password_hash.verify, secret, _DUMMY_HASH)
        return False, None
    return await asyncio.to_thread(password_hash.verify_and_update, secret, stored_hash)


# --- role bindings ---


def check_role_binding(
    role: Role,
    *,
    park_id: UUID | None,
    resident_id: UUID | None,
    partner_id: UUID | None,
) -> None:
    """A role carries exactly the binding it needs (park_manager → park_id, …), no other.

    The bound ids belong to other services; the gateway cannot check they exist (no
    synchronous calls between services), the owning service does when the token is used.
    """
    values = {"park_id": park_id, "resident_id": resident_id, "partner_id": partner_id}
    needed = ROLE_BINDING[role]
    errors: list[dict[str, Any]] = []
    if needed and values[needed] is None:
        errors.append(field_error(needed, f"required for role {role.value}", kind="missing"))
    for name in BINDING_FIELDS:
        if name != needed and values[name] is not None:
            errors.append(field_error(name, f"not allowed for role {role.value}", kind="extra"))
    if errors:
        fields = ", ".join(e["field"] for e in errors)
        raise Unprocessable.for_fields(errors, detail=f"Invalid role binding: {fields}")


# --- users ---


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_user(*, session: AsyncSession, data: UserCreate) -> User:
    check_role_binding(
        data.role, park_id=data.park_id, resident_id=data.resident_id, partner_id=data.partner_id
    )
    user = User(
        email=normalise_email(data.email),
        password_hash=await hash_secret(data.password),
        role=data.role.value,
        park_id=data.park_id,
        resident_id=data.resident_id,
        partner_id=data.partner_id,
    )
    session.add(user)
    try:
        # A savepoint, so a duplicate leaves the request's transaction usable.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A user with e-mail {user.email} already exists") from exc
    await session.refresh(user)
    return user


async def get_user(*, session: AsyncSession, user_id: UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


async def list_users(
    *, session: AsyncSession, limit: int, cursor: str | None, role: Role | None
) -> Slice[User]:
    stmt = sa.select(User).where(User.role == role.value) if role else sa.select(User)
    return await paginate(
        session, stmt, order_by=[User.created_at, User.id], cursor=cursor, limit=limit
    )


async def ensure_operator(*, session: AsyncSession, email: str, password: str) -> User:
    """The bootstrap operator: created, or reset to an active operator with this password.

    Several replicas may start at once; the insert is ON CONFLICT DO NOTHING and the
    update is idempotent, so they agree.
    """
    email = normalise_email(email)
    user = await session.scalar(sa.select(User).where(User.email == email).with_for_update())
    if user is None:
        await session.execute(
            pg_insert(User)
            .values(
                id=uuid.uuid4(),
                email=email,
                password_hash=await hash_secret(password),
                role=Role.OPERATOR.value,
            )
            .on_conflict_do_nothing(index_elements=["email"])
        )
        user = await session.scalar(sa.select(User).where(User.email == email))
        assert user is not None
        log.info("bootstrap operator %s is ready", email)
        return user
    matches, _ = await verify_secret(password, user.password_hash)
    if not matches:
        user.password_hash = await hash_secret(password)
    user.role = Role.OPERATOR.value
    user.park_id = user.resident_id = user.partner_id = None
    user.is_active = True
    await session.flush()
    log.info("bootstrap operator %s is ready", email)
    return user


# --- API clients ---


def new_client_secret() -> str:
    # 256 bits; the prefix lets secret scanners and operators recognise a leaked one.
    return "ipk_" + secrets.token_urlsafe(32)


async def create_api_client(
    *, session: AsyncSession, data: ApiClientCreate, created_by: str
) -> tuple[ApiClient, str]:
    check_role_binding(
        data.role, park_id=data.park_id, resident_id=data.resident_id, partner_id=data.partner_id
    )
    secret = new_client_secret()
    client = ApiClient(
        name=data.name,
        secret_hash=await hash_secret(secret),
        role=data.role.value,
        park_id=data.park_id,
        resident_id=data.resident_id,
        partner_id=data.partner_id,
        created_by=created_by,
    )
    session.add(client)
    await session.flush()
    await session.refresh(client)
    return client, secret


async def get_api_client(*, session: AsyncSession, client_id: UUID) -> ApiClient:
    client = await session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"API client {client_id} not found")
    return client


async def list_api_clients(
    *, session: AsyncSession, limit: int, cursor: str | None
) -> Slice[ApiClient]:
    return await paginate(
        session,
        sa.select(ApiClient),
        order_by=[ApiClient.created_at, ApiClient.id],
        cursor=cursor,
        limit=limit,
    )


async def revoke_api_client(*, session: AsyncSession, client_id: UUID) -> ApiClient:
    """Its tokens stop being issued at once; those already issued live until they expire."""
    client = await get_api_client(session=session, client_id=client_id)
    if client.is_active:
        client.is_active = False
        client.revoked_at = datetime.now(UTC)
        await session.flush()
    return client


# --- grants ---


async def password_grant(
    *, session: AsyncSession, issuer: TokenIssuer, username: str, password: str
) -> tuple[str, int]:
    user = await session.scalar(sa.select(User).where(User.email == normalise_email(username)))
    matches, new_hash = await verify_secret(password, user.password_hash if user else None)
    if user is None or not matches or not user.is_active:
        # One answer for every failure: no account enumeration.
        raise InvalidGrant("Invalid username or password")
    if new_hash:
        user.password_hash = new_hash
    return issuer.issue(
        subject=str(user.id),
        role=user.role,
        extra={
            "email": user.email,
            "park_id": user.park_id,
            "resident_id": user.resident_id,
            "partner_id": user.partner_id,
        },
    )


async def client_credentials_grant(
    *, session: AsyncSession, issuer: TokenIssuer, client_id: str, client_secret: str
) -> tuple[str, int]:
    try:
        client = await session.get(ApiClient, UUID(client_id))
    except ValueError:
        client = None
    matches, new_hash = await verify_secret(client_secret, client.secret_hash if client else None)
    if client is None or not matches or not client.is_active:
        raise InvalidClient("Invalid client credentials")
    if new_hash:
        client.secret_hash = new_hash
    return issuer.issue(
        subject=str(client.id),
        role=client.role,
        extra={
            "client_id": client.id,
            "park_id": client.park_id,
            "resident_id": client.resident_id,
            "partner_id": client.partner_id,
        },
    )
