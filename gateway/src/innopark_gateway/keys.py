"""The gateway's token signing key: load or create it, publish it as a JWKS, sign tokens.

One EC P-256 key (ES256) in a PEM file. Services fetch the public half from
`/.well-known/jwks.json`; the `kid` is the key's RFC 7638 thumbprint, so it is stable
for a key and changes with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from innopark_shared.keyfiles import load_or_create_private_key
from jwt.algorithms import ECAlgorithm

log = logging.getLogger(__name__)

ALGORITHM = "ES256"


def jwk_thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an EC public JWK: SHA-256 over its required members only,
    sorted, without whitespace, base64url without padding."""
    required = {name: public_jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str
    public_jwk: dict[str, Any]

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        key = load_or_create_private_key(path, lambda: ec.generate_private_key(ec.SECP256R1()))
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{path} must hold an EC P-256 private key for ES256")
        return cls.from_private_key(key)

    @classmethod
    def from_private_key(cls, key: ec.EllipticCurvePrivateKey) -> SigningKey:
        public_jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        kid = jwk_thumbprint(public_jwk)
        public_jwk = {**public_jwk, "kid": kid, "use": "sig", "alg": ALGORITHM}
        return cls(private_key=key, kid=kid, public_jwk=public_jwk)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}


@dataclass(frozen=True)
class TokenIssuer:
    """Signs access tokens in the shape `innopark_shared.auth.TokenVerifier` accepts."""

    key: SigningKey
    issuer: str
    audience: str
    ttl_seconds: int

    def issue(
        self, *, subject: str, role: str, extra: dict[str, Any], ttl_seconds: int | None = None
    ) -> tuple[str, int]:
        """A signed token and its lifetime in seconds. `extra` claims with value None
        are left out (an unbound role carries no binding claims); integers stay numbers
        (`ver`), everything else becomes a string."""
        ttl = ttl_seconds or self.ttl_seconds
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "role": role,
        }
        claims.update(
            {
                name: value if type(value) is int else str(value)
                for name, value in extra.items()
                if value is not None
            }
        )
        token = jwt.encode(
            claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid}
        )
        return token, ttl
