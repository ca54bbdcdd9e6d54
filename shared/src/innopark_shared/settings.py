"""Typed configuration from the environment, shared by every service."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
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
    # How long the server keeps an idle client connection open. Far above the gateway's
    # UPSTREAM_KEEPALIVE_SECONDS (4 s): a client must always be the side that drops an idle
    # connection, or it may reuse one the server is closing at that moment, and the request
    # is lost mid-air (a ReadError, a 502 at the gateway) with no answer to retry on.
    http_keep_alive_seconds: int = Field(default=30, ge=1)
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = Field(
        default="console",
        description="console: human-readable lines (dev runner); json: one object per line "
        "(containers)",
    )
    # Traces: an OTLP/HTTP collector's base URL (spans go to <url>/v1/traces); unset, spans
    # are still made (trace ids in logs, traceparent passed on) but not exported.
    otel_exporter_otlp_endpoint: str | None = None

    database_url: str = Field(
        ..., description="postgresql+asyncpg://user:password@host:port/db for this service's role"
    )
    # Connections kept open: a fixed pool. Requests beyond it wait for a connection (up to
    # db_pool_timeout_seconds). Overflow connections are opened for one request and closed
    # again, which costs more than the read itself: with 20 + 10, 32 concurrent readers
    # got 1,516 reads/s and a p99 of 106 ms; with 20 + 0, 1,990/s and 23 ms.
    db_pool_size: int = 30
    # Connections opened beyond the pool for one request each when it is exhausted; 0
    # keeps the pool fixed.
    db_max_overflow: int = 0
    # A request that cannot get a connection within these is answered 503 + Retry-After.
    # (2 s and 5 s gave 503s on a machine loaded 13 on two cores, where a new PostgreSQL
    # connection can take seconds.)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Tansu (the embedded broker) does not implement the idempotent producer.
    kafka_enable_idempotence: bool = False
    kafka_topic_partitions: int = 3
    # How long a consumer's fetch may wait for records when none arrive. Kafka answers as
    # soon as records arrive, so a long wait costs no latency, and a short one only adds
    # fetch requests (40 a second per idle consumer at 25 ms). The embedded Tansu waits
    # the whole time: the dev runner sets 25 ms for it (`EmbeddedBroker`).
    kafka_fetch_max_wait_ms: int = Field(default=500, gt=0)
    # How long the group waits for a silent consumer before giving its partitions to
    # another (heartbeats every quarter of it). The embedded Tansu also holds a new
    # member's first join for half of it: 10 s (aiokafka's default) made every start and
    # every broker restart wait 5 s before consuming; 6 s is Kafka's lowest allowed
    # (group.min.session.timeout.ms).
    kafka_session_timeout_ms: int = Field(default=6000, ge=6000)
    kafka_replication_factor: int = 1
    # Reaching a secured cluster: passed to every Kafka client (producer, consumer, admin).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # PEM files: the CA that signed the brokers' certificates (the system's if unset), and a
    # client certificate and key for mutual TLS.
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None

    @model_validator(mode="after")
    def _kafka_sasl_complete(self) -> ServiceSettings:
        # Fail at start, naming what is missing, rather than retry a login forever.
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return self

    # How long published outbox rows are kept so they can be replayed to a broker that
    # lost them (the embedded broker keeps messages in memory only).
    outbox_retention_hours: float = 72.0
    # Safety-net poll: LISTEN/NOTIFY wakes the relay at once, this sweep catches anything
    # a lost notification missed.
    outbox_poll_interval_seconds: float = 2.0
    # Republish every retained outbox row at start-up (set by the dev runner when it has
    # just started a fresh in-memory broker). Consumers deduplicate, so this is harmless.
    outbox_replay_on_start: bool = False
    # How long a consumer remembers the ids it applied (its inbox). A replay can bring any
    # event a producer's outbox still retains, so keep this at least as long as the
    # longest `outbox_retention_hours` of the services it consumes from.
    inbox_retention_hours: float = 168.0

    # Consumer group; every replica of a service shares one. Defaults to the service name.
    consumer_group: str | None = None
    consumer_max_retries: int = 3
    consumer_retry_backoff_seconds: float = 0.2

    # Where clients reach the platform (the gateway): every absolute link a service hands
    # out starts with it. The dev runner derives it from the gateway's port.
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        validation_alias=AliasChoices("innopark_public_base_url", "public_base_url"),
    )

    # E-mail notifications (`innopark_shared.notifications`). With no SMTP_HOST nothing is
    # sent: notifications are kept pending (counted in `innopark_notifications_pending`)
    # and go out once a server is configured. SMTP_STARTTLS upgrades a plain connection
    # (port 587); SMTP_TLS is TLS from the first byte (port 465).
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "Innopark <no-reply@innopark.local>"
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    # The sender's safety-net poll, how many it sends per pass, and when it gives up on a
    # notification the server keeps refusing (then `failed`, kept for an operator).
    notification_poll_interval_seconds: float = Field(default=2.0, gt=0)
    notification_batch_size: int = Field(default=20, ge=1, le=500)
    notification_max_attempts: int = Field(default=12, ge=1)
    # Sent and failed notifications are kept this long (the record of what was told).
    notification_retention_days: float = Field(default=90.0, gt=0)

    # Token verification: the gateway's JWKS (or an external OIDC issuer's).
    jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    jwt_issuer: str = "innopark-gateway"
    jwt_audience: str = "innopark"

    @property
    def group_id(self) -> str:
        return self.consumer_group or self.service_name

    def public_url(self, path: str) -> str:
        """The absolute link to `path` (`/api/v1/...`) under the public base URL."""
        return self.public_base_url.rstrip("/") + "/" + path.lstrip("/")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Operators paste plain postgres:// URLs; the services talk asyncpg.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _inbox_outlives_outbox(self) -> ServiceSettings:
        # An id forgotten while some outbox still retains its event would let a replay
        # apply that event twice.
        if self.inbox_retention_hours < self.outbox_retention_hours:
            raise ValueError(
                "INBOX_RETENTION_HOURS must be at least OUTBOX_RETENTION_HOURS "
                f"({self.inbox_retention_hours} < {self.outbox_retention_hours})"
            )
        return self
