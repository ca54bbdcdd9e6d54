"""Test support shared by every test suite: real servers, started once per session.

Registered as a pytest plugin by the repository's root `conftest.py`. Fixtures:

- `infra`: an embedded PostgreSQL and Tansu broker for the session (or the servers named
  by TEST_DATABASE_URL / TEST_KAFKA_BOOTSTRAP_SERVERS).
- `database_url`: an administrator's URL to a fresh database of its own.
- `token_issuer`: mints ES256 tokens and serves their JWKS from a real HTTP server, for
  tests that run a service without the gateway.
- `start_service`: runs a service as its own process (`python -m innopark_<name> serve`)
  against `infra`, provisioned and migrated like the dev runner does.
- `platform`: the whole platform as the README's first command runs it (`innopark-dev up`
  in a subprocess: its own embedded PostgreSQL and broker, every service and the gateway
  as their own processes) on free ports and a private data folder, once per session.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import make_url

from .devrun.embedded import EmbeddedBroker, EmbeddedPostgres, free_port, port_open
from .devrun.provision import provision


@dataclass
class Infra:
    admin_url: str  # postgresql:// URL of a superuser
    bootstrap_servers: str

    async def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def infra() -> AsyncIterator[Infra]:
    db_url = os.environ.get("TEST_DATABASE_URL")
    kafka = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
    workdir = Path(tempfile.mkdtemp(prefix="innopark-test-"))
    postgres = broker = None
    log = open(workdir / "infra.log", "wb")
    try:
        if not db_url:
            postgres = EmbeddedPostgres(workdir / "postgres", port=free_port())
            await postgres.start(stdout=log.fileno())
            db_url = postgres.admin_url
        if not kafka:
            broker = EmbeddedBroker(port=free_port())
            await broker.start(stdout=log.fileno())
            kafka = broker.bootstrap_servers
        yield Infra(admin_url=db_url.replace("+asyncpg", ""), bootstrap_servers=kafka)
    finally:
        if broker:
            await broker.stop()
        if postgres:
            await postgres.stop()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(infra: Infra) -> str:
    """An administrator's asyncpg URL to a fresh database (one per session)."""
    url = await infra.create_database("gw")
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


# -- tokens --------------------------------------------------------------------------


@dataclass
class TokenIssuer:
    """Signs tokens the way the gateway does and serves the public key as a JWKS."""

    issuer: str = "innopark-gateway"
    audience: str = "innopark"
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    jwks_url: str = ""

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="ES256")
        return {"keys": [jwk]}

    def token(
        self, role: str, *, subject: str | None = None, ttl: int = 3600, **claims: Any
    ) -> str:
        now = datetime.now(UTC)
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject or str(uuid.uuid4()),
            "iat": now,
            "exp": now + timedelta(seconds=ttl),
            "jti": uuid.uuid4().hex,
            "role": role,
            **{k: str(v) for k, v in claims.items() if v is not None},
        }
        return jwt.encode(payload, self.key, algorithm="ES256", headers={"kid": self.kid})

    def headers(self, role: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **claims)}"}


def tamper(token: str) -> str:
    """The same token with one claim changed and the signature kept."""
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["role"] = "operator"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def serve_jwks(issuer: TokenIssuer) -> ThreadingHTTPServer:
    """Serve `issuer`'s public keys over HTTP (a thread); sets `issuer.jwks_url`.
    Call `.shutdown()` on the result when done."""
    body = json.dumps(issuer.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer.jwks_url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    return server


@pytest.fixture(scope="session")
def token_issuer() -> Iterator[TokenIssuer]:
    issuer = TokenIssuer()
    server = serve_jwks(issuer)
    try:
        yield issuer
    finally:
        server.shutdown()


# -- services as processes -----------------------------------------------------------


@dataclass
class RunningService:
    name: str
    url: str
    database_url: str  # the service role's own URL
    process: asyncio.subprocess.Process
    log_path: Path
    env: dict[str, str]

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10.0, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, interval: float = 0.05
) -> bool:
    """Poll `check` until it returns true; False on timeout (callers assert on it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval)
    return await check()


async def _wait_ready(url: str, proc: asyncio.subprocess.Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"{url} exited with {proc.returncode}")
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


async def run_command(*argv: str, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{out.decode(errors='replace')}")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def start_service(
    infra: Infra, token_issuer: TokenIssuer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[..., Awaitable[RunningService]]]:
    """`await start_service("registry", **env)`: a fresh database, migrated, and the
    service running as its own process until the end of the session."""
    running: list[RunningService] = []

    async def start(name: str, **extra_env: str) -> RunningService:
        db = await infra.create_database(name)
        databases = await provision(db, [name], database=make_url(db).database or name)
        url = databases[name].url
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
            "JWKS_URL": token_issuer.jwks_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            "OUTBOX_POLL_INTERVAL_SECONDS": "0.5",
            # Several copies of a service may run in one session, each with its own
            # database: each needs its own consumer group, or they split the partitions.
            "CONSUMER_GROUP": f"{name}-{uuid.uuid4().hex[:8]}",
            **extra_env,
        }
        await run_command(sys.executable, "-m", f"innopark_{name}", "migrate", env=env)
        log_path = tmp_path_factory.mktemp(name) / "service.log"
        log = open(log_path, "wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"innopark_{name}", "serve", env=env, stdout=log, stderr=log
        )
        service = RunningService(name, f"http://127.0.0.1:{port}", url, proc, log_path, env)
        running.append(service)
        await _wait_ready(service.url, proc)
        return service

    yield start
    for service in running:
        if service.process.returncode is None:
            service.process.terminate()
            try:
                await asyncio.wait_for(service.process.wait(), timeout=15)
            except TimeoutError:
                service.process.kill()


# -- the whole platform ----------------------------------------------------------------

PLATFORM_ADMIN_EMAIL = "admin@platform.test"
PLATFORM_ADMIN_PASSWORD = "platform-admin-password"
SERVICE_NAMES = ["registry", "orders", "accreditation", "events"]


@dataclass
class Platform:
    gateway: str
    port_base: int
    broker: str
    pg_port: int
    data_dir: Path
    log_path: Path
    process: asyncio.subprocess.Process

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port_base + SERVICE_NAMES.index(name) + 1}"

    def database_url(self, service: str) -> str:
        """The service role's own URL (the dev runner's development password)."""
        return (
            f"postgresql://innopark_{service}:{service}-dev-password"
            f"@127.0.0.1:{self.pg_port}/innopark"
        )

    def pid_of(self, name: str) -> int:
        return int((self.data_dir / "run" / f"{name}.pid").read_text())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.gateway, timeout=15.0, **kwargs)

    async def token(
        self, email: str = PLATFORM_ADMIN_EMAIL, password: str = PLATFORM_ADMIN_PASSWORD
    ) -> str:
        async with self.client() as c:
            r = await c.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": email, "password": password},
            )
            assert r.status_code == 200, r.text
            return r.json()["access_token"]

    async def login(
        self, email: str = PLATFORM_ADMIN_EMAIL, password: str = PLATFORM_ADMIN_PASSWORD
    ) -> dict[str, str]:
        """Authorization headers for a user, through the token endpoint."""
        return {"Authorization": f"Bearer {await self.token(email, password)}"}

    auth = login

    async def create_user(
        self, operator: dict[str, str], role: str, **binding: Any
    ) -> tuple[str, dict[str, str]]:
        """Create a user through the gateway (as `operator`); its id and login headers."""
        email, password = f"{role}-{uuid.uuid4().hex[:10]}@platform.test", uuid.uuid4().hex
        body = {"email": email, "password": password, "role": role}
        body.update({k: str(v) for k, v in binding.items()})
        async with self.client() as c:
            r = await c.post("/api/v1/users", headers=operator, json=body)
            assert r.status_code == 201, r.text
        return r.json()["id"], await self.login(email, password)

    async def user(self, operator: dict[str, str], role: str, **binding: Any) -> dict[str, str]:
        """Login headers of a new user with `role` (and its binding)."""
        return (await self.create_user(operator, role, **binding))[1]


def _free_port_block(size: int) -> int:
    # Below Linux's ephemeral range (32768+), so outgoing connections cannot take a port
    # between our check and the service binding it.
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20000, 32000 - size)
        if not any(port_open("127.0.0.1", base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def platform() -> AsyncIterator[Platform]:
    # Not under pytest's temp root: pytest keeps that 0700, and PostgreSQL runs as its own
    # system user when the tests run as root.
    workdir = Path(tempfile.mkdtemp(prefix="innopark-platform-"))
    base = _free_port_block(7)
    env = {
        **os.environ,
        "INNOPARK_DATA_DIR": str(workdir / "data"),
        "INNOPARK_PORT_BASE": str(base),
        "INNOPARK_BROKER_PORT": str(base + 5),
        "INNOPARK_PG_PORT": str(base + 6),
        "BOOTSTRAP_ADMIN_EMAIL": PLATFORM_ADMIN_EMAIL,
        "BOOTSTRAP_ADMIN_PASSWORD": PLATFORM_ADMIN_PASSWORD,
        "NO_COLOR": "1",
        "OUTBOX_POLL_INTERVAL_SECONDS": "1",
        # Background sweeps run often, so tests see time-driven changes (expiry) quickly.
        "EXPIRY_SWEEP_INTERVAL_SECONDS": "0.5",
        # Every request of the suite comes from 127.0.0.1; keep the per-IP bucket away.
        "RATE_LIMIT_PER_MINUTE": "100000",
        "RATE_LIMIT_BURST": "10000",
    }
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    log_path = workdir / "platform.log"
    log = open(log_path, "wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "innopark_shared.devrun",
        "up",
        env=env,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    running = Platform(
        gateway=f"http://127.0.0.1:{base}",
        port_base=base,
        broker=f"127.0.0.1:{base + 5}",
        pg_port=base + 6,
        data_dir=workdir / "data",
        log_path=log_path,
        process=process,
    )
    deadline = time.monotonic() + 180
    try:
        while "Innopark is up" not in running.log():
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"platform did not come up:\n{running.log()[-5000:]}")
            await asyncio.sleep(0.3)
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), timeout=90)
            except TimeoutError:
                process.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


# -- one service on its own, outside pytest (benchmarks) -----------------------------


@contextlib.asynccontextmanager
async def local_service(name: str, **extra_env: str) -> AsyncIterator[tuple[str, TokenIssuer]]:
    """An embedded PostgreSQL and broker, a JWKS server, and `python -m innopark_<name>
    serve` migrated and ready: yields its base URL and the issuer whose tokens it trusts."""
    workdir = Path(tempfile.mkdtemp(prefix="innopark-local-"))
    log = open(workdir / "infra.log", "wb")
    postgres = EmbeddedPostgres(workdir / "postgres", port=free_port())
    broker = EmbeddedBroker(port=free_port())
    issuer = TokenIssuer()
    jwks_server = serve_jwks(issuer)
    proc: asyncio.subprocess.Process | None = None
    try:
        await postgres.start(stdout=log.fileno())
        await broker.start(stdout=log.fileno())
        databases = await provision(postgres.admin_url, [name], database="local")
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": databases[name].url,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "JWKS_URL": issuer.jwks_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
            **extra_env,
        }
        await run_command(sys.executable, "-m", f"innopark_{name}", "migrate", env=env)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"innopark_{name}", "serve", env=env, stdout=log, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_ready(url, proc)
        except (RuntimeError, TimeoutError) as exc:
            raise SystemExit(f"{name} not ready ({exc}); see {workdir}/infra.log") from exc
        yield url, issuer
    finally:
        if proc is not None and proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=15)
        jwks_server.shutdown()
        await broker.stop()
        await postgres.stop()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


# -- the unit tier: one migrated database per service, each test rolled back ----------


@dataclass
class CapturedEvent:
    type: str
    topic: str
    key: str
    data: dict[str, Any]


class CapturedOutbox:
    """The outbox rows the current test's transaction wrote (the rollback removes them)."""

    def __init__(self, session: Any, schema: str) -> None:
        self._session = session
        self._schema = schema

    async def events(self, type_contains: str = "") -> list[CapturedEvent]:
        import sqlalchemy as sa

        rows = await self._session.execute(
            sa.text(
                f'SELECT type, topic, key, data FROM "{self._schema}".outbox '
                "WHERE position(:part in type) > 0 ORDER BY seq"
            ),
            {"part": type_contains},
        )
        return [CapturedEvent(r.type, r.topic, r.key, r.data) for r in rows]

    async def types(self) -> list[str]:
        """Short names of the events written so far, e.g. `park.created.v1`."""
        return [e.type.removeprefix("org.innopark.").split(".", 1)[-1] for e in await self.events()]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def migrated_databases(infra: Infra) -> AsyncIterator[Callable[[str], Awaitable[Any]]]:
    """`await migrated_databases("registry")`: an engine on a database of that service's
    own, provisioned and migrated once per test session."""
    from sqlalchemy import NullPool
    from sqlalchemy.ext.asyncio import create_async_engine

    engines: dict[str, Any] = {}
    lock = asyncio.Lock()

    async def engine_for(name: str) -> Any:
        async with lock:
            if name not in engines:
                db = await infra.create_database(f"unit_{name}")
                databases = await provision(db, [name], database=make_url(db).database or name)
                url = databases[name].url
                env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
                await run_command(sys.executable, "-m", f"innopark_{name}", "migrate", env=env)
                engines[name] = create_async_engine(url, poolclass=NullPool)
            return engines[name]

    yield engine_for
    for engine in engines.values():
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def db_session(
    request: pytest.FixtureRequest, migrated_databases: Callable[[str], Awaitable[Any]]
) -> AsyncIterator[Any]:
    """A session on the service's migrated database (the `service_name` fixture of the
    test's conftest names it) inside a transaction rolled back after the test, so tests
    see only their own rows. Service code may flush and use savepoints freely."""
    from sqlalchemy.ext.asyncio import AsyncSession

    engine = await migrated_databases(request.getfixturevalue("service_name"))
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
def outbox(db_session: Any, service_name: str) -> CapturedOutbox:
    """What the test's transaction wrote to the service's outbox."""
    return CapturedOutbox(db_session, service_name)
