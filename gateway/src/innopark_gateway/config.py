"""Gateway settings (environment variables; see the README's configuration table)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from innopark_shared.settings import ServiceSettings
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

MIB = 1024 * 1024


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000

    # The operator created (or reset) at start-up when both are set.
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None

    # PEM EC P-256 private key; generated (0600) when the file does not exist yet.
    jwt_private_key_path: Path = Path(".data/keys/jwt-es256.pem")
    # Short: revocation is immediate anyway, but a short life bounds a leaked token.
    # People keep their session with the rotating refresh token.
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    # The token the gateway signs for an API key and sends upstream instead of the key.
    api_key_token_ttl_seconds: int = Field(default=300, ge=60, le=3600)

    registry_url: str = "http://127.0.0.1:8001"
    orders_url: str = "http://127.0.0.1:8002"
    accreditation_url: str = "http://127.0.0.1:8003"
    events_url: str = "http://127.0.0.1:8004"

    upstream_connect_timeout_seconds: float = Field(default=1.0, gt=0)
    upstream_read_timeout_seconds: float = Field(default=30.0, gt=0)
    # Keep-alive pool to the upstreams, shared by every request of this process.
    upstream_pool_size: int = Field(default=200, ge=1)
    upstream_pool_size_per_host: int = Field(default=100, ge=1)
    # Must stay well below the upstreams' own idle timeout (HTTP_KEEP_ALIVE_SECONDS, 30 s),
    # so the gateway never reuses a connection the upstream is closing at that very moment.
    upstream_keepalive_seconds: float = Field(default=4.0, gt=0)
    max_body_bytes: int = Field(default=10 * MIB, ge=0)

    # Origins allowed by CORS: a JSON list or a comma-separated string; "*" allows any.
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Token bucket per client: refills at rate_limit_per_minute, holds at most burst.
    # 0 turns rate limiting off.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_burst: int = Field(default=120, ge=1)
    # Where the buckets live, failed logins' included: Redis (redis://host:6379/0) shared by
    # every replica, or, unset, this process (one gateway only: N replicas would allow N
    # times the limit, and N times the password guesses).
    rate_limit_redis_url: str | None = None
    rate_limit_redis_prefix: str = "innopark:ratelimit:"
    # The gateway's own metrics, served on this internal port only (never the public one).
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # Password guessing: each account (and each API client) may fail to log in
    # login_failure_burst times in a row; then one more try per 60/login_failures_per_minute
    # seconds. A refused try answers 429 whether or not the password was right.
    login_failure_burst: int = Field(default=10, ge=1)
    login_failures_per_minute: int = Field(default=5, ge=1)

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("registry_url", "orders_url", "accreditation_url", "events_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def upstream_urls(self) -> dict[str, str]:
        """Base URL of each upstream service, by the name the routing table uses."""
        return {
            "registry": self.registry_url,
            "orders": self.orders_url,
            "accreditation": self.accreditation_url,
            "events": self.events_url,
        }


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()
