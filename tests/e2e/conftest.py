"""The whole platform as the README's first command runs it: `innopark-dev up` in a
subprocess (embedded PostgreSQL and broker, every service and the gateway as their own
processes), on free ports and a private data folder."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest_asyncio
from innopark_shared.devrun.embedded import port_open

ADMIN_EMAIL = "admin@e2e.test"
ADMIN_PASSWORD = "e2e-admin-password"


@dataclass
class Platform:
    gateway: str
    port_base: int
    broker: str
    data_dir: Path
    log_path: Path
    process: asyncio.subprocess.Process

    def service_url(self, name: str) -> str:
        offset = ["registry", "orders", "accreditation", "events"].index(name) + 1
        return f"http://127.0.0.1:{self.port_base + offset}"

    def pid_of(self, name: str) -> int:
        return int((self.data_dir / "run" / f"{name}.pid").read_text())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, **kw) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.gateway, timeout=10.0, **kw)

    async def token(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
        async with self.client() as c:
            r = await c.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": email, "password": password},
            )
            assert r.status_code == 200, r.text
            return r.json()["access_token"]

    async def auth(
        self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(email, password)}"}


def _free_block(size: int = 7) -> int:
    # Below Linux's ephemeral range (32768+), so outgoing connections cannot take a port
    # between our check and the service binding it.
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - size)
        if not any(port_open("127.0.0.1", base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def platform(tmp_path_factory) -> AsyncIterator[Platform]:
    workdir = tmp_path_factory.mktemp("platform")
    port_base = _free_block()
    broker_port = port_base + 5
    env = {
        **os.environ,
        "INNOPARK_DATA_DIR": str(workdir / "data"),
        "INNOPARK_PORT_BASE": str(port_base),
        "INNOPARK_BROKER_PORT": str(broker_port),
        "INNOPARK_PG_PORT": str(port_base + 6),
        "BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "NO_COLOR": "1",
        "OUTBOX_POLL_INTERVAL_SECONDS": "1",
        # Every request of the suite comes from 127.0.0.1; keep the per-IP bucket out of the way.
        "RATE_LIMIT_PER_MINUTE": "100000",
        "RATE_LIMIT_BURST": "10000",
    }
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    log_path = workdir / "platform.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the subprocess writes it
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "innopark_shared.devrun",
        "up",
        env=env,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    platform = Platform(
        gateway=f"http://127.0.0.1:{port_base}",
        port_base=port_base,
        broker=f"127.0.0.1:{broker_port}",
        data_dir=workdir / "data",
        log_path=log_path,
        process=process,
    )
    deadline = time.monotonic() + 180
    while "Innopark is up" not in platform.log():
        if process.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError(f"platform did not come up:\n{platform.log()[-5000:]}")
        await asyncio.sleep(0.3)
    try:
        yield platform
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), timeout=90)
            except TimeoutError:
                process.kill()
        log.close()
