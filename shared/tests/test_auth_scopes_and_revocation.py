"""Scopes and revocation in `innopark_shared.auth`, on a small real app: tokens signed and
served as JWKS by a real HTTP server, revocations in a real PostgreSQL table."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, FastAPI
from innopark_shared.auth import CurrentPrincipal, TokenVerifier, require_scopes_by_method
from innopark_shared.db import Database
from innopark_shared.errors import install_problem_handlers
from innopark_shared.readmodels.revocations import (
    RevocationList,
    record_revocation,
    token_revocations_table,
)
from innopark_shared.testing.tokens import TokenIssuer, serve_jwks


def scoped_app(verifier: TokenVerifier) -> FastAPI:
    router = APIRouter(
        prefix="/things",
        dependencies=[
            Depends(
                require_scopes_by_method(
                    read="things:read", write="things:write", actions={"decide": "things:decide"}
                )
            )
        ],
    )

    @router.get("")
    async def read(principal: CurrentPrincipal) -> dict:
        return {"subject": principal.subject}

    @router.post("")
    async def write(principal: CurrentPrincipal) -> dict:
        return {"ok": True}

    @router.post("/{thing}/decide")
    async def decide(thing: str, principal: CurrentPrincipal) -> dict:
        return {"ok": True}

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    app.state.token_verifier = verifier
    return app


@pytest.fixture
def verifier(token_issuer) -> TokenVerifier:
    return TokenVerifier(
        jwks_url=token_issuer.jwks_url,
        issuer=token_issuer.issuer,
        audience=token_issuer.audience,
    )


async def test_scoped_tokens_may_do_only_what_their_scope_names(token_issuer, verifier):
    app = scoped_app(verifier)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        reader = token_issuer.headers("expert", scope="things:read")
        assert (await http.get("/things", headers=reader)).status_code == 200
        refused = await http.post("/things", headers=reader)
        assert refused.status_code == 403
        assert refused.json()["required_scope"] == "things:write"
        writer = token_issuer.headers("expert", scope="things:read things:write")
        assert (await http.post("/things", headers=writer)).status_code == 200
        # An action route needs its own scope, not the write scope.
        decided = await http.post("/things/x/decide", headers=writer)
        assert decided.status_code == 403 and decided.json()["required_scope"] == "things:decide"
        decider = token_issuer.headers("expert", scope="things:decide")
        assert (await http.post("/things/x/decide", headers=decider)).status_code == 200
        # An empty scope is a scope: nothing allowed. People's tokens carry none at all.
        nothing = token_issuer.headers("expert", scope="")
        assert (await http.get("/things", headers=nothing)).status_code == 403
        person = token_issuer.headers("expert")
        assert (await http.post("/things/x/decide", headers=person)).status_code == 200
        assert (await http.get("/things")).status_code == 401


async def test_revoked_versions_are_refused_and_later_ones_accepted(
    token_issuer, verifier, database_url
):
    database = Database(database_url)
    metadata = sa.MetaData(schema="public")
    table = token_revocations_table(metadata)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    revocations = RevocationList(database, table, poll_interval=0.05)
    revocations.start()
    verifier.revocations = revocations
    app = scoped_app(verifier)
    subject = str(uuid.uuid4())
    old = token_issuer.headers("expert", subject=subject, ver=0)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            assert (await http.get("/things", headers=old)).status_code == 200
            async with database.transaction() as session:
                await record_revocation(session, table, subject=subject, min_version=2)
                # Never lowered: a redelivered older revocation changes nothing.
                await record_revocation(session, table, subject=subject, min_version=1)
            for _ in range(40):
                if (await http.get("/things", headers=old)).status_code == 401:
                    break
                await asyncio.sleep(0.025)
            r = await http.get("/things", headers=old)
            assert r.status_code == 401 and r.json()["detail"] == "Token revoked"
            one = token_issuer.headers("expert", subject=subject, ver=1)
            assert (await http.get("/things", headers=one)).status_code == 401
            current = token_issuer.headers("expert", subject=subject, ver=2)
            assert (await http.get("/things", headers=current)).status_code == 200
            other = token_issuer.headers("expert", ver=0)
            assert (await http.get("/things", headers=other)).status_code == 200
    finally:
        await revocations.stop()
        await database.dispose()


async def test_a_verified_token_is_refused_once_it_expires(token_issuer):
    # Verified tokens are kept (no second signature check); their expiry still holds.
    verifier = TokenVerifier(
        jwks_url=token_issuer.jwks_url,
        issuer=token_issuer.issuer,
        audience=token_issuer.audience,
        leeway=0,
    )
    app = scoped_app(verifier)
    token = token_issuer.token("expert", ttl=2)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/things", headers=headers)).status_code == 200
        assert (await http.get("/things", headers=headers)).status_code == 200
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.2)
        late = await http.get("/things", headers=headers)
        assert late.status_code == 401 and late.json()["detail"] == "Token expired"


async def test_a_verified_token_is_refused_once_its_key_is_withdrawn():
    # Kept tokens answer to the published keys too: a rotated-out key ends its tokens.
    issuer = TokenIssuer()
    server = serve_jwks(issuer)
    verifier = TokenVerifier(
        jwks_url=issuer.jwks_url,
        issuer=issuer.issuer,
        audience=issuer.audience,
        refresh_interval=0,  # re-read the key set on every request
    )
    app = scoped_app(verifier)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            old = issuer.headers("expert")
            assert (await http.get("/things", headers=old)).status_code == 200
            assert (await http.get("/things", headers=old)).status_code == 200  # kept
            issuer.key = ec.generate_private_key(ec.SECP256R1())
            issuer.kid = uuid.uuid4().hex
            refused = await http.get("/things", headers=old)
            assert refused.status_code == 401
            assert refused.json()["detail"] == "Token signed by an unknown key"
            assert (await http.get("/things", headers=issuer.headers("expert"))).status_code == 200
    finally:
        server.shutdown()
