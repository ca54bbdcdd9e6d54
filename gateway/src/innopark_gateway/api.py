"""Gateway identity routes: the token endpoint, the JWKS, users, API clients and keys.

Parse, call the service, shape the answer. Every route states who may call it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated
from urllib.parse import unquote_plus
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import JSONResponse
from innopark_shared.auth import CurrentPrincipal, OperatorPrincipal, Role
from innopark_shared.db import Database, SessionDep
from innopark_shared.errors import TooManyRequests, Unprocessable
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from . import service
from .keys import SigningKey, TokenIssuer
from .models import ApiKey
from .ratelimit import FailureBuckets
from .schemas import (
    ApiClientCreate,
    ApiClientCreated,
    ApiClientRead,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    PasswordChange,
    PasswordReset,
    PasswordResetIssued,
    SecretRotation,
    TokenResponse,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = APIRouter(prefix="/api/v1")
keys_router = APIRouter(tags=["auth"])

FormField = Annotated[str | None, Form()]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """Client credentials from HTTP Basic, which RFC 6749 §2.3.1 requires servers to accept
    (each part form-urlencoded before base64)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise service.InvalidClient("Malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise service.InvalidClient("Malformed Basic credentials")
    return unquote_plus(client_id), unquote_plus(secret)


@asynccontextmanager
async def _throttled(failures: FailureBuckets, key: str) -> AsyncIterator[None]:
    """Refuse a login for an account that failed too often lately (before checking the
    password, so the answer leaks nothing); count each failure."""
    tokens, retry_after = await failures.available(key)
    if tokens < 1.0:
        raise TooManyRequests(
            "Too many failed logins for this account; try again later", retry_after=retry_after
        )
    try:
        yield
    except (service.InvalidGrant, service.InvalidClient):
        await failures.spend(key)
        raise


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    tags=["auth"],
    summary="OAuth2 token endpoint (public; password, refresh_token, client_credentials)",
    description=(
        "Form-encoded (`application/x-www-form-urlencoded`). `grant_type=password` with "
        "`username` (the e-mail) and `password` answers a short-lived access token and a "
        "`refresh_token`; `grant_type=refresh_token` with `refresh_token` rotates it (each "
        "works once; presenting a used one revokes its whole family). "
        "`grant_type=client_credentials` with `client_id` and `client_secret` (in the form "
        "or as HTTP Basic) and optionally a narrower `scope`. Errors are problem details "
        "carrying the OAuth2 `error` code."
    ),
)
async def issue_token(
    request: Request,
    session: SessionDep,
    grant_type: FormField = None,
    username: FormField = None,
    password: FormField = None,
    client_id: FormField = None,
    client_secret: FormField = None,
    scope: FormField = None,  # clients: may narrow their scopes; people: ignored
    refresh_token: FormField = None,
) -> JSONResponse:
    issuer: TokenIssuer = request.app.state.token_issuer
    if not grant_type:
        raise service.InvalidRequest(
            "grant_type is required; send the form as application/x-www-form-urlencoded"
        )
    failures: FailureBuckets = request.app.state.login_failures
    if grant_type == "password":
        if not username or not password:
            missing = [n for n, v in (("username", username), ("password", password)) if not v]
            raise service.InvalidRequest(f"Missing form fields: {', '.join(missing)}")
        async with _throttled(failures, f"user:{service.normalise_email(username)}"):
            token, expires_in, refresh = await service.password_grant(
                session=session, issuer=issuer, username=username, password=password
            )
        body = TokenResponse(access_token=token, expires_in=expires_in, refresh_token=refresh)
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise service.InvalidRequest("Missing form fields: refresh_token")
        # Its own transaction: a reuse's family revocation commits although we refuse.
        database: Database = request.app.state.database
        async with database.transaction() as own:
            outcome = await service.refresh_grant(
                session=own, issuer=issuer, refresh_token=refresh_token
            )
        if isinstance(outcome, service.InvalidGrant):
            raise outcome
        token, expires_in, refresh = outcome
        body = TokenResponse(access_token=token, expires_in=expires_in, refresh_token=refresh)
    elif grant_type == "client_credentials":
        basic = _basic_credentials(request)
        if basic:
            client_id, client_secret = basic
        if not client_id or not client_secret:
            missing = [
                n for n, v in (("client_id", client_id), ("client_secret", client_secret)) if not v
            ]
            raise service.InvalidRequest(f"Missing form fields: {', '.join(missing)}")
        async with _throttled(failures, f"client:{client_id}"):
            token, expires_in, granted = await service.client_credentials_grant(
                session=session,
                issuer=issuer,
                client_id=client_id,
                client_secret=client_secret,
                scope=scope,
            )
        body = TokenResponse(access_token=token, expires_in=expires_in, scope=granted)
    else:
        raise service.UnsupportedGrantType(
            "Supported grant types: password, refresh_token, client_credentials"
        )
    return JSONResponse(body.model_dump(exclude_none=True), headers=NO_STORE)


@router.post(
    "/auth/password-reset",
    status_code=204,
    tags=["auth"],
    summary="Set a new password with a one-time reset token (public)",
)
async def reset_password(data: PasswordReset, session: SessionDep) -> Response:
    await service.reset_password(session=session, token=data.token, new_password=data.new_password)
    return Response(status_code=204)


@keys_router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify the gateway's tokens (public)",
    responses={200: {"content": {"application/json": {}}}},
)
async def jwks(request: Request) -> JSONResponse:
    key: SigningKey = request.app.state.signing_key
    # Services cache it and refetch on an unknown kid; five minutes bounds staleness.
    return JSONResponse(key.jwks(), headers={"Cache-Control": "public, max-age=300"})


# --- users ---


@router.post(
    "/users",
    status_code=201,
    response_model=UserRead,
    tags=["users"],
    summary="Create a user (operator)",
)
async def create_user(
    data: UserCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> UserRead:
    user = await service.create_user(session=session, data=data)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserRead.model_validate(user)


@router.get(
    "/users", response_model=Page[UserRead], tags=["users"], summary="List users (operator)"
)
async def list_users(
    session: SessionDep,
    principal: OperatorPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    role: Annotated[Role | None, Query(description="Only users with this role")] = None,
) -> Page[UserRead]:
    users = await service.list_users(session=session, limit=limit, cursor=cursor, role=role)
    return users.present(UserRead.model_validate)


@router.get(
    "/users/me",
    response_model=UserRead,
    tags=["users"],
    summary="The signed-in user (any authenticated user)",
)
async def get_me(session: SessionDep, principal: CurrentPrincipal) -> UserRead:
    return UserRead.model_validate(await service.own_user(session=session, principal=principal))


@router.post(
    "/users/me/password",
    status_code=204,
    tags=["users"],
    summary="Change one's own password (with the current one); every token issued before "
    "stops working, this one included",
)
async def change_my_password(
    data: PasswordChange, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    failures: FailureBuckets = request.app.state.login_failures
    # Guessing the current password here counts like failed logins.
    tokens, retry_after = await failures.available(f"user:{principal.email or principal.subject}")
    if tokens < 1.0:
        raise TooManyRequests("Too many wrong passwords; try again later", retry_after=retry_after)
    try:
        await service.change_own_password(
            session=session,
            principal=principal,
            current_password=data.current_password,
            new_password=data.new_password,
        )
    except Unprocessable as exc:
        if any(e["field"] == "current_password" for e in exc.extensions.get("errors", [])):
            await failures.spend(f"user:{principal.email or principal.subject}")
        raise
    return Response(status_code=204)


@router.get(
    "/users/{user_id}", response_model=UserRead, tags=["users"], summary="Read a user (operator)"
)
async def get_user(user_id: UUID, session: SessionDep, principal: OperatorPrincipal) -> UserRead:
    return UserRead.model_validate(await service.get_user(session=session, user_id=user_id))


@router.patch(
    "/users/{user_id}",
    response_model=UserRead,
    tags=["users"],
    summary="Change a user's name, role, binding, or disable/enable it (operator); a change "
    "of role or binding, and disabling, revoke the user's tokens within a second",
)
async def update_user(
    user_id: UUID, data: UserUpdate, session: SessionDep, principal: OperatorPrincipal
) -> UserRead:
    user = await service.update_user(
        session=session, user_id=user_id, data=data, principal=principal
    )
    return UserRead.model_validate(user)


@router.delete(
    "/users/{user_id}",
    status_code=204,
    tags=["users"],
    summary="Delete a user (operator); its tokens stop working within a second",
)
async def delete_user(user_id: UUID, session: SessionDep, principal: OperatorPrincipal) -> Response:
    await service.delete_user(session=session, user_id=user_id, principal=principal)
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/password-reset",
    status_code=201,
    response_model=PasswordResetIssued,
    tags=["users"],
    summary="Issue a one-time password reset token (operator); shown only in this answer",
)
async def issue_password_reset(
    user_id: UUID, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> PasswordResetIssued:
    token, expires_at = await service.issue_password_reset(session=session, user_id=user_id)
    response.headers.update(NO_STORE)
    return PasswordResetIssued(reset_token=token, expires_at=expires_at)


# --- API clients ---


@router.post(
    "/api-clients",
    status_code=201,
    response_model=ApiClientCreated,
    tags=["api-clients"],
    summary="Create an API client (operator); its secret is shown only in this answer",
)
async def create_api_client(
    data: ApiClientCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> ApiClientCreated:
    client, secret = await service.create_api_client(
        session=session, data=data, created_by=principal.subject
    )
    response.headers["Location"] = f"/api/v1/api-clients/{client.id}"
    response.headers.update(NO_STORE)
    read = ApiClientRead.model_validate(client)
    return ApiClientCreated(**read.model_dump(), client_secret=secret)


@router.get(
    "/api-clients",
    response_model=Page[ApiClientRead],
    tags=["api-clients"],
    summary="List API clients (operator)",
)
async def list_api_clients(
    session: SessionDep,
    principal: OperatorPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ApiClientRead]:
    clients = await service.list_api_clients(session=session, limit=limit, cursor=cursor)
    return clients.present(ApiClientRead.model_validate)


@router.get(
    "/api-clients/{client_id}",
    response_model=ApiClientRead,
    tags=["api-clients"],
    summary="Read an API client (operator)",
)
async def get_api_client(
    client_id: UUID, session: SessionDep, principal: OperatorPrincipal
) -> ApiClientRead:
    client = await service.get_api_client(session=session, client_id=client_id)
    return ApiClientRead.model_validate(client)


@router.post(
    "/api-clients/{client_id}/revoke",
    response_model=ApiClientRead,
    tags=["api-clients"],
    summary="Revoke an API client (operator): no new tokens, and its tokens stop working",
)
async def revoke_api_client(
    client_id: UUID, session: SessionDep, principal: OperatorPrincipal
) -> ApiClientRead:
    client = await service.revoke_api_client(session=session, client_id=client_id)
    return ApiClientRead.model_validate(client)


@router.post(
    "/api-clients/{client_id}/rotate-secret",
    response_model=ApiClientCreated,
    tags=["api-clients"],
    summary="New secret for an API client (operator); the old one works for grace_seconds",
)
async def rotate_client_secret(
    client_id: UUID,
    session: SessionDep,
    principal: OperatorPrincipal,
    response: Response,
    data: SecretRotation | None = None,
) -> ApiClientCreated:
    client, secret = await service.rotate_client_secret(
        session=session,
        client_id=client_id,
        grace_seconds=(data or SecretRotation()).grace_seconds,
    )
    response.headers.update(NO_STORE)
    read = ApiClientRead.model_validate(client)
    return ApiClientCreated(**read.model_dump(), client_secret=secret)


# --- API keys ---


def _key_read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead.model_validate(key)


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    tags=["api-keys"],
    summary="Create an API key (a partner's user for its partner, or an operator); the key "
    "is shown only in this answer",
)
async def create_api_key(
    data: ApiKeyCreate, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> ApiKeyCreated:
    key, raw = await service.create_api_key(session=session, data=data, principal=principal)
    response.headers["Location"] = f"/api/v1/api-keys/{key.id}"
    response.headers.update(NO_STORE)
    return ApiKeyCreated(**_key_read(key).model_dump(), key=raw)


@router.get(
    "/api-keys",
    response_model=Page[ApiKeyRead],
    tags=["api-keys"],
    summary="API keys (operator: all; a partner's user: its partner's)",
)
async def list_api_keys(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    partner_id: Annotated[UUID | None, Query(description="Only this partner's keys")] = None,
) -> Page[ApiKeyRead]:
    keys = await service.list_api_keys(
        session=session, principal=principal, partner_id=partner_id, limit=limit, cursor=cursor
    )
    return keys.present(_key_read)


@router.get(
    "/api-keys/{key_id}",
    response_model=ApiKeyRead,
    tags=["api-keys"],
    summary="Read an API key (operator, or its partner's user)",
)
async def get_api_key(key_id: UUID, session: SessionDep, principal: CurrentPrincipal) -> ApiKeyRead:
    return _key_read(await service.get_api_key(session=session, principal=principal, key_id=key_id))


@router.post(
    "/api-keys/{key_id}/revoke",
    response_model=ApiKeyRead,
    tags=["api-keys"],
    summary="Revoke an API key (operator, or its partner's user): refused within a second",
)
async def revoke_api_key(
    key_id: UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> ApiKeyRead:
    key = await service.revoke_api_key(session=session, principal=principal, key_id=key_id)
    exchange = getattr(request.app.state, "key_exchange", None)
    if exchange is not None:
        exchange.forget(service.key_subject(key))
    return _key_read(key)
