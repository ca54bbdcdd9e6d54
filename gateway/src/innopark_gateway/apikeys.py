"""API keys at the edge: the gateway exchanges a key for a short-lived token it signs,
so no service ever sees a raw key.

A key arrives as `Authorization: Bearer ipk_…` or `X-API-Key: ipk_…`. The first use in a
while looks it up (one indexed read, SHA-256 compare, records the use) and mints a token
with the key's partner binding and scopes; later uses within `recheck_seconds` reuse
that token. A revoked key is refused at once by this replica and within the revocation
list's poll (a quarter of a second) by the others; its tokens, should one leak, are
refused by the services the same way.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from innopark_shared.db import Database
from innopark_shared.readmodels.revocations import RevocationList

from . import service
from .keys import TokenIssuer

MAX_CACHED = 10_000


@dataclass
class _Minted:
    subject: str
    token: str
    token_expires: float
    key_expires: float | None
    checked_at: float


class KeyExchange:
    def __init__(
        self,
        *,
        database: Database,
        issuer: TokenIssuer,
        revocations: RevocationList | None,
        token_ttl_seconds: int = 300,
        recheck_seconds: float = 30.0,
    ) -> None:
        self.database = database
        self.issuer = issuer
        self.revocations = revocations
        self.token_ttl = token_ttl_seconds
        self.recheck = recheck_seconds
        self._cache: dict[str, _Minted] = {}

    def forget(self, subject: str) -> None:
        """Drop a key this replica just revoked."""
        self._cache = {k: v for k, v in self._cache.items() if v.subject != subject}

    async def token_for(self, raw_key: str) -> str | None:
        """A token standing for the key, or None when it is no (live) key."""
        digest = hashlib.sha256(raw_key.encode()).hexdigest()
        now = time.time()
        minted = self._cache.get(digest)
        if minted is not None:
            revoked = self.revocations is not None and self.revocations.is_revoked(
                minted.subject, 0
            )
            expired = minted.key_expires is not None and minted.key_expires <= now
            if revoked or expired:
                self._cache.pop(digest, None)
                return None
            if now - minted.checked_at < self.recheck and minted.token_expires - now > 60:
                return minted.token
        async with self.database.transaction() as session:
            key = await service.authenticate_key(session, raw_key)
            if key is None:
                self._cache.pop(digest, None)
                return None
            subject = service.key_subject(key)
            token, ttl = self.issuer.issue(
                subject=subject,
                role=key.role,
                extra=service.key_claims(key),
                ttl_seconds=self.token_ttl,
            )
            key_expires = key.expires_at.timestamp() if key.expires_at else None
        if self.revocations is not None and self.revocations.is_revoked(subject, 0):
            return None
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[digest] = _Minted(subject, token, now + ttl, key_expires, now)
        return token
