"""A service as its own process: in a test session (`start_service`) or outside pytest
(`local_service`, for benchmarks).

A service started in a test session is stopped as soon as the tests it was started for
have run, not at the end of the session: every idle service polls its database and
broker, and a session that kept them all (two dozen processes by the end) loaded two
cores enough to slow every later test several times over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from ..devrun.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from ..devrun.provision import provision
from .infra import Infra
from .tokens import TokenIssuer, serve_jwks

# Idle connections are dropped well before the services close them (HTTP_KEEP_ALIVE_SECONDS,
# 30 s): reusing one just as the server closes it is a ReadError no retry covers (a loaded
# machine stretches the gaps between a test's requests).
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=2.0)


@dataclass
class RunningService:
    name: str
    url: str
    database_url: str  # the service role's own URL
    process: asyncio.subprocess.Process
    log_path: Path
    env: dict[str, str]

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        kwargs.setdefault("limits", CLIENT_LIMITS)
        return httpx.AsyncClient(base_url=self.url, timeout=10.0, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()

    def stop_soon(self) -> None:
        """SIGTERM: the service shuts down gracefully on its own (`start_service` awaits
        the exit at the end of the session)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()

    async def restart(self) -> None:
        """Start the service again on the same port and database (after `kill`)."""
        log = open(self.log_path, "ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"innopark_{self.name}",
            "serve",
            env=self.env,
            stdout=log,
            stderr=log,
        )
        await wait_ready(self.url, self.process)


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


async def wait_ready(url: str, proc: asyncio.subprocess.Process, timeout: float = 60.0) -> None:
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


def pytest_configure(config: pytest.Config) -> None:
    # Every consumer of the session, in-process or in a service's process (they inherit
    # the environment), waits at most this long on a fetch from the embedded broker, which
    # always waits the whole time. At the dev runner's 25 ms the suite's idle consumers
    # kept Tansu at a quarter of a core; tests wait for events in seconds.
    os.environ.setdefault("KAFKA_FETCH_MAX_WAIT_MS", "100")


class _Lifetimes:
    """Which services are kept for which tests, and stopping them once those have run.

    `kept_for=None`: the test running when the service was started (a test that starts one
    in its body). A path (a test file or a directory): every test under it, wherever those
    are in the session's order (a fixture of a module or of a directory's conftest).
    """

    def __init__(self) -> None:
        self.current: pytest.Item | None = None
        self.kept: list[tuple[RunningService, pytest.Item | Path]] = []
        self._last_under: dict[Path, int] = {}
        self._index: dict[str, int] | None = None

    def keep(self, service: RunningService, kept_for: Path | None) -> None:
        if kept_for is not None:
            self.kept.append((service, Path(kept_for).resolve()))
        elif self.current is not None:
            self.kept.append((service, self.current))
        # else: outside any test (cannot happen under pytest): stopped with the session

    def _position(self, item: pytest.Item) -> int:
        if self._index is None:
            self._index = {it.nodeid: i for i, it in enumerate(item.session.items)}
        return self._index.get(item.nodeid, -1)

    def _last_test_under(self, item: pytest.Item, path: Path) -> int:
        if path not in self._last_under:
            under = [
                i
                for i, it in enumerate(item.session.items)
                if it.path.resolve() == path or path in it.path.resolve().parents
            ]
            self._last_under[path] = max(under, default=-1)
        return self._last_under[path]

    def done_with(self, item: pytest.Item) -> None:
        """After `item`: stop what was kept for it, or for tests of which it was the last."""
        position = self._position(item)
        still_kept = []
        for service, owner in self.kept:
            finished = (
                owner is item
                if isinstance(owner, pytest.Item)
                else position >= self._last_test_under(item, owner)
            )
            if finished:
                service.stop_soon()
            else:
                still_kept.append((service, owner))
        self.kept = still_kept


_lifetimes = _Lifetimes()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _lifetimes.current = item


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    _lifetimes.current = None
    _lifetimes.done_with(item)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def start_service(
    infra: Infra, token_issuer: TokenIssuer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[..., Awaitable[RunningService]]]:
    """`await start_service("registry", **env)`: a fresh database, migrated, and the
    service running as its own process, for the test that started it; with
    `kept_for=Path(__file__)` (a module's fixture) or `kept_for=Path(__file__).parent` (a
    conftest's), until every test under that path has run."""
    running: list[RunningService] = []

    async def start(name: str, *, kept_for: Path | None = None, **extra_env: str) -> RunningService:
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
        _lifetimes.keep(service, kept_for)
        await wait_ready(service.url, proc)
        return service

    yield start
    for service in running:
        service.stop_soon()
    for service in running:
        try:
            await asyncio.wait_for(service.process.wait(), timeout=15)
        except TimeoutError:
            service.process.kill()


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
            await wait_ready(url, proc)
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
