"""Identity operations: users and their lifecycle, API clients, API keys, the grants
(password, refresh_token, client_credentials) and token revocation.

They flush, never commit: the caller owns the transaction. Argon2 runs in a worker
thread (argon2-cffi releases the GIL), so a login does not stall the proxy's event loop.

Revocation: users and API clients have a `token_version` their tokens carry as `ver`.
Disabling or deleting a user, changing its role, binding or password, revoking a client
or key raises it and records the new minimum in `token_revocations` (which every gateway
replica polls) and publishes `TokensRevokedV1` (which every service's read model keeps),
in the transaction of the change.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import ROLE_BINDING, Principal, Role
from innopark_shared.contracts.gateway import (
    TokensRevokedV1,
    UserCreatedV1,
    UserDeletedV1,
    UserUpdatedV1,
)
from innopark_shared.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    Unprocessable,
    field_error,
)
from innopark_shared.pagination import Slice, paginate
from innopark_shared.readmodels.revocations import record_revocation
from pwdlib import PasswordHash
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .keys import TokenIssuer
from .models import ApiClient, ApiKey, RefreshToken, User, known_bindings, outbox
from .models import token_revocations as revocations_table
from .passwords import check_password
from .schemas import ApiClientCreate, ApiKeyCreate, UserCreate, UserUpdate

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


class InvalidScope(OAuthError):
    slug, error = "invalid-scope", "invalid_scope"


REFRESH_TTL = timedelta(days=30)
RESET_TTL = timedelta(hours=1)


# --- passwords ---


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(password_hash.hash, secret)


async def verify_secret(secret: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash if the stored one uses outdated parameters)."""
    if stored_hash is None:
        await asyncio.to_thread(password_hash.verify, secret, _DUMMY_HASH)
        return False, None
    return await asyncio.to_thread(password_hash.verify_and_update, secret, stored_hash)


def fast_hash(secret: str) -> str:
    """For generated secrets of 256 random bits (API keys, refresh and reset tokens):
    guessing is hopeless, so SHA-256 suffices and costs a request nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _split_token(raw: str, prefix: str) -> tuple[UUID, str] | None:
    """`<prefix><32 hex id>_<secret>` → (id, secret), or None when it is not one."""
    if not raw.startswith(prefix):
        return None
    ident, sep, secret = raw[len(prefix) :].partition("_")
    if not sep or not secret or len(ident) != 32:
        return None
    try:
        return UUID(hex=ident), secret
    except ValueError:
        return None


def _matches(secret: str, stored: str | None) -> bool:
    return stored is not None and hmac.compare_digest(fast_hash(secret), stored)


# --- revocation and events ---


async def revoke_tokens(
    session: AsyncSession,
    *,
    subject: str,
    kind: Literal["user", "client", "key"],
    min_version: int,
    reason: str,
) -> None:
    """Tokens of `subject` with `ver` below `min_version` stop working everywhere."""
    await record_revocation(session, revocations_table, subject=subject, min_version=min_version)
    await outbox.add(
        session,
        TokensRevokedV1(
            subject=subject,
            subject_kind=kind,
            min_version=min_version,
            reason=reason,
            occurred_at=datetime.now(UTC),
        ),
    )
    log.info("tokens of %s %s revoked: %s", kind, subject, reason)


async def _revoke_user_tokens(session: AsyncSession, user: User, reason: str) -> None:
    user.token_version += 1
    await session.flush()
    await revoke_tokens(
        session, subject=str(user.id), kind="user", min_version=user.token_version, reason=reason
    )


async def _publish_user(
    session: AsyncSession, user: User, cls: type[UserCreatedV1] = UserUpdatedV1
) -> None:
    # Role, binding and state only: never a password, hash or reset token.
    await outbox.add(
        session,
        cls(
            user_id=user.id,
            role=user.role,
            is_active=user.is_active,
            park_id=user.park_id,
            resident_id=user.resident_id,
            partner_id=user.partner_id,
            name=user.name,
            occurred_at=datetime.now(UTC),
        ),
    )


# --- role bindings ---


def check_role_binding(
    role: Role,
    *,
    park_id: UUID | None,
    resident_id: UUID | None,
    partner_id: UUID | None,
) -> None:
    """A role carries exactly the binding it needs (park_manager → park_id, …), no other."""
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


BINDING_KINDS = {"park_id": "park", "resident_id": "resident", "partner_id": "partner"}


async def check_binding_exists(session: AsyncSession, field: str, value: UUID | None) -> None:
    """The bound park, resident or partner exists and is not removed, as far as the
    gateway's read model (fed by the registry's and orders' events) knows."""
    if value is None:
        return
    kind = BINDING_KINDS[field]
    removed = await session.scalar(
        sa.select(known_bindings.c.removed).where(
            known_bindings.c.kind == kind, known_bindings.c.entity_id == value
        )
    )
    if removed is None:
        raise Unprocessable.for_field(field, f"no {kind} {value} is known", kind="unknown")
    if removed:
        raise Unprocessable.for_field(field, f"{kind} {value} was removed", kind="removed")


async def _check_binding(
    session: AsyncSession,
    role: Role,
    *,
    park_id: UUID | None,
    resident_id: UUID | None,
    partner_id: UUID | None,
) -> None:
    check_role_binding(role, park_id=park_id, resident_id=resident_id, partner_id=partner_id)
    needed = ROLE_BINDING[role]
    if needed:
        values = {"park_id": park_id, "resident_id": resident_id, "partner_id": partner_id}
        await check_binding_exists(session, needed, values[needed])


async def apply_binding_snapshot(
    session: AsyncSession, *, kind: str, entity_id: UUID, removed: bool, at: datetime
) -> None:
    """Upkeep of `known_bindings` from an event; a later event wins, older ones are
    ignored whatever order redeliveries arrive in."""
    stmt = pg_insert(known_bindings).values(
        kind=kind, entity_id=entity_id, removed=removed, source_time=at
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["kind", "entity_id"],
            set_={"removed": stmt.excluded.removed, "source_time": stmt.excluded.source_time},
            where=known_bindings.c.source_time <= stmt.excluded.source_time,
        )
    )


# --- users ---


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_user(*, session: AsyncSession, data: UserCreate) -> User:
    check_password(data.password, email=data.email)
    await _check_binding(
        session,
        data.role,
        park_id=data.park_id,
        resident_id=data.resident_id,
        partner_id=data.partner_id,
    )
    user = User(
        email=normalise_email(data.email),
        password_hash=await hash_secret(data.password),
        role=data.role.value,
        name=data.name,
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
    await _publish_user(session, user, UserCreatedV1)
    return user


async def get_user(*, session: AsyncSession, user_id: UUID, for_update: bool = False) -> User:
    user = await session.get(User, user_id, with_for_update=for_update, populate_existing=True)
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


def _not_self(principal: Principal, user: User, field: str, what: str) -> None:
    if principal.subject == str(user.id):
        raise Unprocessable.for_field(field, f"operators cannot {what} their own account")


async def update_user(
    *, session: AsyncSession, user_id: UUID, data: UserUpdate, principal: Principal
) -> User:
    """Name, role, binding, enabled. A new role keeps only the binding it needs (given
    in the same request, or the one the user already has); the others are cleared. A
    change of role or binding, and disabling, revoke the user's tokens."""
    changes = data.changes()
    user = await get_user(session=session, user_id=user_id, for_update=True)
    role = Role(changes.get("role", user.role))
    if role.value != user.role:
        _not_self(principal, user, "role", "change the role of")
    needed = ROLE_BINDING[role]
    binding: dict[str, UUID | None] = {}
    for name in BINDING_FIELDS:
        if name in changes:
            binding[name] = changes[name]
        elif "role" in changes and name != needed:
            binding[name] = None  # the old role's binding goes with it
        else:
            binding[name] = getattr(user, name)
    check_role_binding(role, **binding)
    if needed and binding[needed] != getattr(user, needed):
        await check_binding_exists(session, needed, binding[needed])
    if changes.get("is_active") is False:
        _not_self(principal, user, "is_active", "disable")

    revoke = role.value != user.role or any(
        binding[name] != getattr(user, name) for name in BINDING_FIELDS
    )
    disabled = user.is_active and changes.get("is_active") is False
    user.role = role.value
    for name, value in binding.items():
        setattr(user, name, value)
    if "name" in changes:
        user.name = changes["name"]
    if "is_active" in changes:
        user.is_active = changes["is_active"]
    await session.flush()
    if revoke or disabled:
        await _revoke_user_tokens(
            session, user, "user disabled" if disabled else "role or binding changed"
        )
    await _publish_user(session, user)
    return user


async def delete_user(*, session: AsyncSession, user_id: UUID, principal: Principal) -> None:
    user = await get_user(session=session, user_id=user_id, for_update=True)
    _not_self(principal, user, "user_id", "delete")
    await revoke_tokens(
        session,
        subject=str(user.id),
        kind="user",
        min_version=user.token_version + 1,
        reason="user deleted",
    )
    await session.delete(user)
    await session.flush()
    await outbox.add(session, UserDeletedV1(user_id=user_id, occurred_at=datetime.now(UTC)))


async def change_own_password(
    *, session: AsyncSession, principal: Principal, current_password: str, new_password: str
) -> User:
    """The signed-in user's new password; every token issued before stops working."""
    user = await _own_user(session, principal)
    matches, _ = await verify_secret(current_password, user.password_hash)
    if not matches:
        raise Unprocessable.for_field(
            "current_password", "is not the current password", kind="invalid"
        )
    check_password(new_password, email=user.email, field="new_password")
    if new_password == current_password:
        raise Unprocessable.for_field("new_password", "must differ from the current password")
    user.password_hash = await hash_secret(new_password)
    await _revoke_user_tokens(session, user, "password changed")
    return user


async def _own_user(session: AsyncSession, principal: Principal) -> User:
    if principal.client_id:
        raise NotFound("An API client has no user account; see /api/v1/api-clients")
    try:
        user_id = UUID(principal.subject)
    except ValueError:
        raise NotFound("The token's subject is not a user of this gateway") from None
    return await get_user(session=session, user_id=user_id, for_update=True)


async def own_user(*, session: AsyncSession, principal: Principal) -> User:
    return await _own_user(session, principal)


async def issue_password_reset(*, session: AsyncSession, user_id: UUID) -> tuple[str, datetime]:
    """A one-time reset token (shown once; only its hash is kept), valid for an hour.
    Issuing another replaces it."""
    user = await get_user(session=session, user_id=user_id, for_update=True)
    secret = secrets.token_urlsafe(32)
    user.reset_token_hash = fast_hash(secret)
    user.reset_expires_at = datetime.now(UTC) + RESET_TTL
    await session.flush()
    return f"iprs_{user.id.hex}_{secret}", user.reset_expires_at


async def reset_password(*, session: AsyncSession, token: str, new_password: str) -> User:
    """Set a new password with a reset token: it works once, then never again; the
    user's tokens issued before stop working."""
    invalid = Unprocessable.for_field("token", "is invalid, used or expired", kind="invalid")
    parts = _split_token(token, "iprs_")
    if parts is None:
        raise invalid
    user = await session.get(User, parts[0], with_for_update=True, populate_existing=True)
    if (
        user is None
        or not _matches(parts[1], user.reset_token_hash)
        or user.reset_expires_at is None
        or user.reset_expires_at < datetime.now(UTC)
    ):
        raise invalid
    check_password(new_password, email=user.email, field="new_password")
    user.password_hash = await hash_secret(new_password)
    user.reset_token_hash = user.reset_expires_at = None
    await _revoke_user_tokens(session, user, "password reset")
    return user


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
    return "ipcs_" + secrets.token_urlsafe(32)


def _no_operator(role: Role) -> None:
    if role is Role.OPERATOR:
        raise Unprocessable.for_field(
            "role", "machines cannot act as operators; use a person's account", kind="forbidden"
        )


async def create_api_client(
    *, session: AsyncSession, data: ApiClientCreate, created_by: str
) -> tuple[ApiClient, str]:
    _no_operator(data.role)
    await _check_binding(
        session,
        data.role,
        park_id=data.park_id,
        resident_id=data.resident_id,
        partner_id=data.partner_id,
    )
    secret = new_client_secret()
    client = ApiClient(
        name=data.name,
        secret_hash=await hash_secret(secret),
        role=data.role.value,
        scopes=sorted(set(data.scopes)),
        park_id=data.park_id,
        resident_id=data.resident_id,
        partner_id=data.partner_id,
        created_by=created_by,
    )
    session.add(client)
    await session.flush()
    await session.refresh(client)
    return client, secret


async def get_api_client(
    *, session: AsyncSession, client_id: UUID, for_update: bool = False
) -> ApiClient:
    client = await session.get(
        ApiClient, client_id, with_for_update=for_update, populate_existing=True
    )
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
    """No new tokens for it, and those already issued stop working within a second."""
    client = await get_api_client(session=session, client_id=client_id, for_update=True)
    if client.is_active:
        client.is_active = False
        client.revoked_at = datetime.now(UTC)
        client.token_version += 1
        await session.flush()
        await revoke_tokens(
            session,
            subject=str(client.id),
            kind="client",
            min_version=client.token_version,
            reason="API client revoked",
        )
    return client


async def rotate_client_secret(
    *, session: AsyncSession, client_id: UUID, grace_seconds: int
) -> tuple[ApiClient, str]:
    """A new secret; the current one keeps working for `grace_seconds`, so the client's
    deployments can switch without a gap. Tokens already issued stay valid."""
    client = await get_api_client(session=session, client_id=client_id, for_update=True)
    if not client.is_active:
        raise Conflict("A revoked API client cannot get a new secret")
    secret = new_client_secret()
    client.previous_secret_hash = client.secret_hash if grace_seconds else None
    client.previous_secret_expires_at = (
        datetime.now(UTC) + timedelta(seconds=grace_seconds) if grace_seconds else None
    )
    client.secret_hash = await hash_secret(secret)
    await session.flush()
    return client, secret


# --- API keys ---


def key_subject(key: ApiKey) -> str:
    return str(key.id)


async def create_api_key(
    *, session: AsyncSession, data: ApiKeyCreate, principal: Principal
) -> tuple[ApiKey, str]:
    """A partner's key: its own users make keys for their partner only; operators name
    the partner. Keys always act as the partner role (never operator)."""
    if principal.role is Role.PARTNER:
        if data.partner_id is not None and data.partner_id != principal.partner_id:
            raise Forbidden("A partner's users create keys for their own partner only")
        partner_id = principal.partner_id
    elif principal.is_operator:
        if data.partner_id is None:
            raise Unprocessable.for_field("partner_id", "required", kind="missing")
        partner_id = data.partner_id
    else:
        raise Forbidden("API keys are for partners (created by their users or operators)")
    assert partner_id is not None
    await check_binding_exists(session, "partner_id", partner_id)
    if data.expires_at is not None and data.expires_at <= datetime.now(UTC):
        raise Unprocessable.for_field("expires_at", "must be in the future")
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=uuid.uuid4(),
        name=data.name,
        secret_hash=fast_hash(secret),
        role=Role.PARTNER.value,
        partner_id=partner_id,
        scopes=sorted(set(data.scopes)),
        created_by=principal.subject,
        expires_at=data.expires_at,
    )
    session.add(key)
    await session.flush()
    await session.refresh(key)
    return key, f"ipk_{key.id.hex}_{secret}"


def _visible_keys(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.is_operator:
        return sa.true()
    if principal.role is Role.PARTNER and principal.scopes is None:
        return ApiKey.partner_id == principal.partner_id
    return sa.false()


async def list_api_keys(
    *,
    session: AsyncSession,
    principal: Principal,
    partner_id: UUID | None,
    limit: int,
    cursor: str | None,
) -> Slice[ApiKey]:
    stmt = sa.select(ApiKey).where(_visible_keys(principal))
    if partner_id is not None:
        stmt = stmt.where(ApiKey.partner_id == partner_id)
    return await paginate(
        session, stmt, order_by=[ApiKey.created_at, ApiKey.id], cursor=cursor, limit=limit
    )


async def get_api_key(
    *, session: AsyncSession, principal: Principal, key_id: UUID, for_update: bool = False
) -> ApiKey:
    stmt = sa.select(ApiKey).where(ApiKey.id == key_id, _visible_keys(principal))
    key = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    return key


async def revoke_api_key(*, session: AsyncSession, principal: Principal, key_id: UUID) -> ApiKey:
    key = await get_api_key(session=session, principal=principal, key_id=key_id, for_update=True)
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        await session.flush()
        await revoke_tokens(
            session, subject=key_subject(key), kind="key", min_version=1, reason="API key revoked"
        )
    return key


async def authenticate_key(session: AsyncSession, raw: str) -> ApiKey | None:
    """The live key `raw` is, or None; a hit records the use."""
    parts = _split_token(raw, "ipk_")
    if parts is None:
        return None
    key = await session.get(ApiKey, parts[0])
    now = datetime.now(UTC)
    if (
        key is None
        or not _matches(parts[1], key.secret_hash)
        or key.revoked_at is not None
        or (key.expires_at is not None and key.expires_at <= now)
    ):
        return None
    key.last_used_at = now
    await session.flush()
    return key


def key_claims(key: ApiKey) -> dict[str, Any]:
    return {
        "client_id": f"key:{key.id}",
        "partner_id": key.partner_id,
        "scope": " ".join(key.scopes),
        "ver": 0,
    }


# --- grants ---


def _user_claims(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "park_id": user.park_id,
        "resident_id": user.resident_id,
        "partner_id": user.partner_id,
        "ver": user.token_version,
    }


async def _new_refresh_token(
    session: AsyncSession, user: User, family_id: UUID | None = None
) -> str:
    secret = secrets.token_urlsafe(32)
    row = RefreshToken(
        id=uuid.uuid4(),
        family_id=family_id or uuid.uuid4(),
        user_id=user.id,
        token_hash=fast_hash(secret),
        user_version=user.token_version,
        expires_at=datetime.now(UTC) + REFRESH_TTL,
    )
    session.add(row)
    await session.flush()
    return f"iprt_{row.id.hex}_{secret}"


async def password_grant(
    *, session: AsyncSession, issuer: TokenIssuer, username: str, password: str
) -> tuple[str, int, str]:
    """(access token, lifetime, refresh token)."""
    user = await session.scalar(sa.select(User).where(User.email == normalise_email(username)))
    matches, new_hash = await verify_secret(password, user.password_hash if user else None)
    if user is None or not matches or not user.is_active:
        # One answer for every failure: no account enumeration.
        raise InvalidGrant("Invalid username or password")
    if new_hash:
        user.password_hash = new_hash
    token, ttl = issuer.issue(subject=str(user.id), role=user.role, extra=_user_claims(user))
    return token, ttl, await _new_refresh_token(session, user)


async def refresh_grant(
    *, session: AsyncSession, issuer: TokenIssuer, refresh_token: str
) -> tuple[str, int, str] | InvalidGrant:
    """Rotate: the presented token is used up and the answer carries its successor.
    A token presented again after use (stolen, replayed) revokes its whole family; that
    is returned, not raised, so the caller commits the revocation before refusing."""
    invalid = InvalidGrant("Invalid, expired or revoked refresh token")
    parts = _split_token(refresh_token, "iprt_")
    if parts is None:
        return invalid
    row = await session.get(RefreshToken, parts[0], with_for_update=True)
    if row is None or not _matches(parts[1], row.token_hash):
        return invalid
    now = datetime.now(UTC)
    if row.used_at is not None:
        await session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        log.warning(
            "refresh token reused: family %s of user %s revoked", row.family_id, row.user_id
        )
        return InvalidGrant("Refresh token already used; its whole family is revoked")
    user = await session.get(User, row.user_id)
    if (
        row.revoked_at is not None
        or row.expires_at <= now
        or user is None
        or not user.is_active
        or row.user_version < user.token_version
    ):
        return invalid
    row.used_at = now
    token, ttl = issuer.issue(subject=str(user.id), role=user.role, extra=_user_claims(user))
    return token, ttl, await _new_refresh_token(session, user, row.family_id)


async def client_credentials_grant(
    *,
    session: AsyncSession,
    issuer: TokenIssuer,
    client_id: str,
    client_secret: str,
    scope: str | None = None,
) -> tuple[str, int, str]:
    """(access token, lifetime, granted scope). `scope` may narrow the client's scopes."""
    try:
        client = await session.get(ApiClient, UUID(client_id))
    except ValueError:
        client = None
    matches, new_hash = await verify_secret(client_secret, client.secret_hash if client else None)
    if (
        client is not None
        and not matches
        and client.previous_secret_hash
        and client.previous_secret_expires_at
        and client.previous_secret_expires_at > datetime.now(UTC)
    ):
        matches, _ = await verify_secret(client_secret, client.previous_secret_hash)
        new_hash = None
    if client is None or not matches or not client.is_active:
        raise InvalidClient("Invalid client credentials")
    if new_hash:
        client.secret_hash = new_hash
    granted = set(client.scopes)
    if scope:
        asked = set(scope.split())
        if not asked <= granted:
            raise InvalidScope(f"Not granted to this client: {' '.join(sorted(asked - granted))}")
        granted = asked
    scope_claim = " ".join(sorted(granted))
    token, ttl = issuer.issue(
        subject=str(client.id),
        role=client.role,
        extra={
            "client_id": client.id,
            "park_id": client.park_id,
            "resident_id": client.resident_id,
            "partner_id": client.partner_id,
            "scope": scope_claim,
            "ver": client.token_version,
        },
    )
    return token, ttl, scope_claim
