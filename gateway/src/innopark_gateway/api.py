"""Gateway identity routes: the token endpoint, the JWKS, users and API clients.

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
from innopark_shared.db import SessionDep
from innopark_shared.errors import NotFound, TooManyRequests
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from . import service
from .keys import SigningKey, TokenIssuer
from .ratelimit import TokenBuckets
from .schemas import (
    ApiClientCreate,
    ApiClientCreated,
    ApiClientRead,
    TokenResponse,
    UserCreate,
    UserRead,
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
async def _throttled(failures: TokenBuckets, key: str) -> AsyncIterator[None]:
    """Refuse a login for an account that failed too often lately (before checking the
    password, so the answer leaks nothing); count each failure."""
    tokens, retry_after = failures.peek(key)
    if tokens < 1.0:
        raise TooManyRequests(
            "Too many failed logins for this account; try again later", retry_after=retry_after
        )
    try:
        yield
    except (service.InvalidGrant, service.InvalidClient):
        failures.take(key)
        raise


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    tags=["auth"],
    summary="OAuth2 token endpoint (public; password or client_credentials grant)",
    description=(
        "Form-encoded (`application/x-www-form-urlencoded`). `grant_type=password` with "
        "`username` (the e-mail) and `password`, or `grant_type=client_credentials` with "
        "`client_id` and `client_secret` (in the form or as HTTP Basic). Errors are problem "
        "details carrying the OAuth2 `error` code."
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
    scope: FormField = None,  # accepted and ignored: access follows the role
) -> JSONResponse:
    issuer: TokenIssuer = request.app.state.token_issuer
    if not grant_type:
        raise service.InvalidRequest(
            "grant_type is required; send the form as application/x-www-form-urlencoded"
        )
    failures: TokenBuckets = request.app.state.login_failures
    if grant_type == "password":
        if not username or not password:
            missing = [n for n, v in (("username", username), ("password", password)) if not v]
            raise service.InvalidRequest(f"Missing form fields: {', '.join(missing)}")
        async with _throttled(failures, f"user:{service.normalise_email(username)}"):
            token, expires_in = await service.password_grant(
                session=session, issuer=issuer, username=username, password=password
            )
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
            token, expires_in = await service.client_credentials_grant(
                session=session, issuer=issuer, client_id=client_id, client_secret=client_secret
            )
    else:
        raise service.UnsupportedGrantType("Supported grant types: password, client_credentials")
    body = TokenResponse(access_token=token, expires_in=expires_in)
    return JSONResponse(body.model_dump(), headers=NO_STORE)


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
    if principal.client_id:
        raise NotFound("An API client has no user account; see /api/v1/api-clients")
    try:
        user_id = UUID(principal.subject)
    except ValueError:
        raise NotFound("The token's subject is not a user of this gateway") from None
    return UserRead.model_validate(await service.get_user(session=session, user_id=user_id))


@router.get(
    "/users/{user_id}", response_model=UserRead, tags=["users"], summary="Read a user (operator)"
)
async def get_user(user_id: UUID, session: SessionDep, principal: OperatorPrincipal) -> UserRead:
    return UserRead.model_validate(await service.get_user(session=session, user_id=user_id))


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
    summary="Revoke an API client (operator): no new tokens for it",
)
async def revoke_api_client(
    client_id: UUID, session: SessionDep, principal: OperatorPrincipal
) -> ApiClientRead:
    client = await service.revoke_api_client(session=session, client_id=client_id)
    return ApiClientRead.model_validate(client)
