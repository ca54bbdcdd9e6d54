"""Test support shared by every test suite: real servers, started once per session.

Registered as a pytest plugin by the repository's root `conftest.py`. Fixtures:

- `infra`: an embedded PostgreSQL and Tansu broker for the session (or the servers named
  by TEST_DATABASE_URL / TEST_KAFKA_BOOTSTRAP_SERVERS).
- `database_url`: an administrator's URL to a fresh database of its own.
- `token_issuer`: mints ES256 tokens and serves their JWKS from a real HTTP server, for
  tests that run a service without the gateway.
- `start_service`: runs a service as its own process (`python -m innopark_<name> serve`)
  against `infra`, provisioned and migrated like the dev runner does, and stops it once
  the tests it was started for have run (the hooks below).
- `platform`: the whole platform as the README's first command runs it (`innopark-dev up`
  in a subprocess: its own embedded PostgreSQL and broker, every service and the gateway
  as their own processes) on free ports and a private data folder, once per session.
- `smtp_server`: a real SMTP server (aiosmtpd) for one test, and what it received.
- `db_session` / `outbox` (unit tier): a session on the service's migrated database (the
  `service_name` fixture of a suite's conftest names the service) inside a transaction
  rolled back after each test, and the outbox rows the test wrote; `notifications`, the
  e-mails it recorded.

One module per concern: `infra`, `tokens`, `services` (processes; `local_service` for
benchmarks), `platform`, `smtp`, `unit`.
"""

from .infra import Infra, database_url, infra
from .platform import (
    PLATFORM_ADMIN_EMAIL,
    PLATFORM_ADMIN_PASSWORD,
    SERVICE_NAMES,
    Platform,
    platform,
    running_platform,
)
from .services import (
    RunningService,
    local_service,
    # pytest hooks of this plugin: the session's environment, and stopping each service
    # once its tests have run.
    pytest_configure,
    pytest_runtest_setup,
    pytest_runtest_teardown,
    run_command,
    start_service,
    wait_ready,
    wait_until,
)
from .smtp import ReceivedMail, SmtpSink, smtp_server
from .tokens import TokenIssuer, serve_jwks, tamper, token_issuer
from .unit import (
    CapturedEvent,
    CapturedNotification,
    CapturedNotifications,
    CapturedOutbox,
    db_session,
    migrated_databases,
    notifications,
    outbox,
)

__all__ = [
    "PLATFORM_ADMIN_EMAIL",
    "PLATFORM_ADMIN_PASSWORD",
    "SERVICE_NAMES",
    "CapturedEvent",
    "CapturedNotification",
    "CapturedNotifications",
    "CapturedOutbox",
    "Infra",
    "Platform",
    "ReceivedMail",
    "RunningService",
    "SmtpSink",
    "TokenIssuer",
    "database_url",
    "db_session",
    "infra",
    "local_service",
    "migrated_databases",
    "notifications",
    "outbox",
    "platform",
    "pytest_configure",
    "pytest_runtest_setup",
    "pytest_runtest_teardown",
    "run_command",
    "running_platform",
    "serve_jwks",
    "smtp_server",
    "start_service",
    "tamper",
    "token_issuer",
    "wait_ready",
    "wait_until",
]
