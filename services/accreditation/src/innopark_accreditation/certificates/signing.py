"""Certificate signatures: Ed25519 over a canonical JSON of the signed fields.

The canonical form is the JSON object of exactly the signed fields, keys sorted, no
whitespace, UTF-8 (`json.dumps(..., sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`). Anyone holding the public key verifies a certificate offline; the
README shows how. The key is a PKCS#8 PEM file, generated on first start when missing
(by the shared key-file writer: atomic, never clobbering another replica's key).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from innopark_shared.keyfiles import load_or_create_private_key

ALGORITHM = "Ed25519"


def canonical_json(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class CertificateSigner:
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_raw(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    @property
    def key_id(self) -> str:
        """RFC 7638 thumbprint of the public JWK (OKP: crv, kty, x)."""
        required = {"crv": "Ed25519", "kty": "OKP", "x": b64url(self.public_raw())}
        return b64url(hashlib.sha256(canonical_json(required)).digest())

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(self.public_raw()),
            "kid": self.key_id,
            "alg": "EdDSA",
            "use": "sig",
        }

    def sign(self, content: dict[str, Any]) -> str:
        return b64url(self.private_key.sign(canonical_json(content)))

    def verify(self, content: dict[str, Any], signature: str) -> bool:
        return verify_with_key(self.public_key, content, signature)


def verify_with_key(public_key: Ed25519PublicKey, content: dict[str, Any], signature: str) -> bool:
    try:
        public_key.verify(b64url_decode(signature), canonical_json(content))
    except (InvalidSignature, ValueError):
        return False
    return True


def load_or_create_signer(path: str | Path) -> CertificateSigner:
    """The signer whose key is at `path`, generated there on first start (replicas sharing
    the volume end up with the same key)."""
    path = Path(path)
    try:
        key = load_or_create_private_key(path, Ed25519PrivateKey.generate)
    except OSError as exc:
        raise RuntimeError(
            f"cannot create the certificate signing key at {path} ({exc}); set "
            "CERTIFICATE_SIGNING_KEY_PATH to a writable, persistent path shared by all "
            "replicas, or mount an existing Ed25519 PEM key there"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return CertificateSigner(key)


async def _app_signer(request: Request) -> CertificateSigner:
    return request.app.state.signer  # loaded at start-up by create_app


# The app's signer, for routes.
SignerDep = Annotated[CertificateSigner, Depends(_app_signer)]
