"""Passwords, the signing key, and tokens as the services will verify them."""

from __future__ import annotations

import base64
import json
import stat
import time

import jwt
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from innopark_gateway import service
from innopark_gateway.keys import SigningKey, TokenIssuer, jwk_thumbprint
from innopark_shared.auth import Role, TokenVerifier
from innopark_shared.errors import Unauthorized

from .conftest import serve

PARK = "7a4d1d54-4a4a-4c3e-9c55-7d2f6b1f8e01"


@pytest.fixture
def key(tmp_path) -> SigningKey:
    return SigningKey.load_or_create(tmp_path / "keys" / "jwt.pem")


def issuer_for(key: SigningKey, ttl: int = 600) -> TokenIssuer:
    return TokenIssuer(key=key, issuer="innopark-gateway", audience="innopark", ttl_seconds=ttl)


async def test_password_hash_round_trip():
    stored = await service.hash_secret("correct horse")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert (await service.verify_secret("correct horse", stored))[0] is True
    assert (await service.verify_secret("wrong horse", stored))[0] is False
    # An unknown account still costs a verification and never matches.
    assert (await service.verify_secret("anything", None)) == (False, None)


def test_key_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "deep" / "keys" / "jwt.pem"
    first = SigningKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = SigningKey.load_or_create(path)
    assert again.kid == first.kid
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_kid_is_the_rfc7638_thumbprint(key):
    jwk = key.jwks()["keys"][0]
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    assert jwk["use"] == "sig" and jwk["alg"] == "ES256"
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]},
        separators=(",", ":"),
    ).encode()
    import hashlib

    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=")
    assert jwk["kid"] == expected.decode() == jwk_thumbprint(jwk)
    assert "d" not in jwk  # never the private part


async def test_token_verifies_with_the_shared_verifier_over_http(key):
    # The way every service sees it: the JWKS fetched over HTTP from the gateway.
    jwks_app = FastAPI()

    @jwks_app.get("/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse(key.jwks())

    token, expires_in = issuer_for(key).issue(
        subject="u-1",
        role="park_manager",
        extra={"email": "pm@park.test", "park_id": PARK, "resident_id": None},
    )
    assert expires_in == 600
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == key.kid
    async with serve(jwks_app) as base:
        verifier = TokenVerifier(
            jwks_url=f"{base}/.well-known/jwks.json",
            issuer="innopark-gateway",
            audience="innopark",
        )
        principal = await verifier.verify(token)
    assert principal.subject == "u-1"
    assert principal.role is Role.PARK_MANAGER
    assert str(principal.park_id) == PARK
    assert principal.email == "pm@park.test"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"iss", "aud", "sub", "iat", "exp", "jti", "role"} <= claims.keys()
    assert "resident_id" not in claims and "partner_id" not in claims


async def test_tampered_expired_and_foreign_tokens_are_rejected(key, tmp_path):
    verifier = TokenVerifier(jwks=key.jwks(), issuer="innopark-gateway", audience="innopark")
    token, _ = issuer_for(key).issue(subject="u-1", role="resident", extra={"resident_id": PARK})
    assert (await verifier.verify(token)).role is Role.RESIDENT

    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "operator"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthorized):
        await verifier.verify(f"{head}.{forged}.{signature}")

    expired = jwt.encode(
        {**claims, "role": "resident", "exp": int(time.time()) - 60, "iat": 0},
        key.private_key,
        algorithm="ES256",
        headers={"kid": key.kid},
    )
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(expired)

    other = SigningKey.load_or_create(tmp_path / "other.pem")
    stranger, _ = issuer_for(other).issue(subject="u-1", role="operator", extra={})
    with pytest.raises(Unauthorized):
        await verifier.verify(stranger)

    wrong_audience = TokenIssuer(
        key=key, issuer="innopark-gateway", audience="elsewhere", ttl_seconds=60
    ).issue(subject="u", role="operator", extra={})[0]
    with pytest.raises(Unauthorized):
        await verifier.verify(wrong_audience)


@pytest.mark.parametrize(
    ("role", "binding", "ok"),
    [
        (Role.OPERATOR, {}, True),
        (Role.EXPERT, {}, True),
        (Role.PARK_MANAGER, {"park_id": PARK}, True),
        (Role.RESIDENT, {"resident_id": PARK}, True),
        (Role.PARTNER, {"partner_id": PARK}, True),
        (Role.PARK_MANAGER, {}, False),
        (Role.PARTNER, {"park_id": PARK}, False),
        (Role.OPERATOR, {"park_id": PARK}, False),
    ],
)
def test_role_binding(role, binding, ok):
    from uuid import UUID

    values = {"park_id": None, "resident_id": None, "partner_id": None}
    values.update({name: UUID(v) for name, v in binding.items()})
    if ok:
        service.check_role_binding(role, **values)
        return
    with pytest.raises(service.Unprocessable) as caught:
        service.check_role_binding(role, **values)
    fields = {e["field"] for e in caught.value.extensions["errors"]}
    needed = {"park_manager": "park_id", "partner": "partner_id"}.get(role.value)
    assert fields & ({needed} | set(binding))


async def test_cursor_round_trip_and_garbage():
    # Users and API clients page through the shared paginate().
    from datetime import UTC, datetime
    from uuid import uuid4

    from innopark_gateway.models import User
    from innopark_shared.errors import Unprocessable
    from innopark_shared.pagination import _parse, decode_cursor, encode_cursor, paginate

    at, row = datetime.now(UTC), uuid4()
    assert decode_cursor(encode_cursor(at, row), 2) == [at.isoformat(), str(row)]
    columns = [User.created_at, User.id]
    raw = decode_cursor(encode_cursor(at, row), 2)
    parsed = [_parse(c, v) for c, v in zip(columns, raw, strict=True)]
    assert parsed == [at, row]  # accepted, as the types the columns hold
    for garbage in ("", "!!!", base64.urlsafe_b64encode(b"no-separator").decode()):
        with pytest.raises(Unprocessable):
            # A bad cursor is refused before any query runs (so no session is needed).
            await paginate(
                None,  # type: ignore[arg-type]
                sa.select(User),
                order_by=columns,
                cursor=garbage or "=",
                limit=10,
            )
