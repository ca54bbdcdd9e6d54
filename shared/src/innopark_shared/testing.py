"""Test support shared by every test suite: real servers, started once per session.

Registered as a pytest plugin by the repository's root `conftest.py`. Fixtures:

- `infra`: an embedded PostgreSQL and Tansu broker for the session (or the servers named
  by TEST_DATABASE_URL / TEST_KAFKA_BOOTSTRAP_SERVERS).
- `database_url`: an administrator's URL to a fresh database of its own.
- `token_issuer`: mints ES256 tokens and serves their JWKS from a real HTTP server, for
  tests that run a service without the gateway.
- `start_service`: runs a service as its own process (`python -m innopark_<name> serve`)
  against `infra`, provisioned and migrated like the dev runner does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
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

from .devrun.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
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
    log = open(workdir / "infra.log", "wb")  # noqa: SIM115 - closed at teardown
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


@pytest.fixture(scope="session")
def token_issuer() -> Iterator[TokenIssuer]:
    issuer = TokenIssuer()
    body = json.dumps(issuer.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    issuer.jwks_url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
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
        databases = await provision(db, [name], database=make_url(db).database)
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
            **extra_env,
        }
        await run_command(sys.executable, "-m", f"innopark_{name}", "migrate", env=env)
        log_path = tmp_path_factory.mktemp(name) / "service.log"
        log = open(log_path, "wb")  # noqa: SIM115 - the process owns it
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
