"""The whole platform as the README's first command runs it, once per session."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from ..devrun.embedded import port_open
from .services import CLIENT_LIMITS

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
        kwargs.setdefault("limits", CLIENT_LIMITS)
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
        """Create a user through the gateway (as `operator`); its id and login headers.
        A park, resident or partner created a moment ago may not have reached the
        gateway's read model yet: a 422 for an unknown binding is retried for a while."""
        email, password = f"{role}-{uuid.uuid4().hex[:10]}@platform.test", uuid.uuid4().hex
        body = {"email": email, "password": password, "role": role}
        body.update({k: str(v) for k, v in binding.items()})
        deadline = time.monotonic() + 15
        async with self.client() as c:
            while True:
                r = await c.post("/api/v1/users", headers=operator, json=body)
                unknown = r.status_code == 422 and any(
                    e.get("type") == "unknown" for e in r.json().get("errors", [])
                )
                if not unknown or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
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


@contextlib.asynccontextmanager
async def running_platform(**extra_env: str) -> AsyncIterator[Platform]:
    """`innopark-dev up` in a subprocess on free ports and a private data folder, until
    the block ends (then Ctrl+C, as a developer would stop it)."""
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
        **extra_env,
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


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def platform() -> AsyncIterator[Platform]:
    """One platform shared by every through-gateway test of the session."""
    async with running_platform() as running:
        yield running
