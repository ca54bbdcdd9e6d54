"""Typed configuration from the environment, shared by every service."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service reads; a service subclasses it to add its own.

    Read through a service's `get_settings()` so tests can build their own instance.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    service_name: str = "service"
    environment: str = Field(default="development", description="development | test | production")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    database_url: str = Field(
        ..., description="postgresql+asyncpg://user:password@host:port/db for this service's role"
    )
    db_pool_size: int = 10
    db_max_overflow: int = 10

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Tansu (the embedded broker) does not implement the idempotent producer.
    kafka_enable_idempotence: bool = False
    kafka_topic_partitions: int = 3
    kafka_replication_factor: int = 1

    # How long published outbox rows are kept so they can be replayed to a broker that
    # lost them (the embedded broker keeps messages in memory only).
    outbox_retention_hours: float = 72.0
    # Safety-net poll: LISTEN/NOTIFY wakes the relay at once, this sweep catches anything
    # a lost notification missed.
    outbox_poll_interval_seconds: float = 2.0
    # Republish every retained outbox row at start-up (set by the dev runner when it has
    # just started a fresh in-memory broker). Consumers deduplicate, so this is harmless.
    outbox_replay_on_start: bool = False

    # Consumer group; every replica of a service shares one. Defaults to the service name.
    consumer_group: str | None = None
    consumer_max_retries: int = 3
    consumer_retry_backoff_seconds: float = 0.2

    # Token verification: the gateway's JWKS (or an external OIDC issuer's).
    jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    jwt_issuer: str = "innopark-gateway"
    jwt_audience: str = "innopark"

    @property
    def group_id(self) -> str:
        return self.consumer_group or self.service_name

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Operators paste plain postgres:// URLs; the services talk asyncpg.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        return value
