"""Supervises the whole platform as separate processes, like `restart: unless-stopped`.

Every child is watched: a service, the gateway, and also the embedded PostgreSQL and
broker are started again when they die. Services reconnect by themselves (the relay
notices a broker that came back empty and replays its retained window).

Start order: database, broker, the four services, the gateway (each applies its own
migrations first). Stop order
(Ctrl+C / SIGTERM) is the reverse of what could lose work in flight: gateway first (no
new requests), then services (each flushes its outbox and stops its consumer), then the
broker, then the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .embedded import EmbeddedBroker, EmbeddedPostgres, port_open, terminate_pid
from .provision import provision

SERVICES = ["registry", "orders", "accreditation", "events"]
COLORS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[31m", "\033[37m"]
RESET = "\033[0m"


@dataclass
class RunnerConfig:
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port_base: int = 8000  # gateway; services on +1..+4
    broker_port: int = 9092
    pg_port: int = 55432
    database_url: str | None = None  # an administrator's URL of a PostgreSQL to use instead
    kafka_bootstrap_servers: str | None = None  # a broker to use instead of the embedded one
    admin_email: str = "admin@innopark.local"
    admin_password: str = "innopark-admin"
    log_level: str = "INFO"
    color: bool = True

    @classmethod
    def from_env(cls, **overrides) -> RunnerConfig:
        env = os.environ
        cfg = cls(
            data_dir=Path(env.get("INNOPARK_DATA_DIR", ".data")),
            port_base=int(env.get("INNOPARK_PORT_BASE", 8000)),
            broker_port=int(env.get("INNOPARK_BROKER_PORT", 9092)),
            pg_port=int(env.get("INNOPARK_PG_PORT", 55432)),
            database_url=env.get("DATABASE_URL") or None,
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            admin_email=env.get("BOOTSTRAP_ADMIN_EMAIL", cls.admin_email),
            admin_password=env.get("BOOTSTRAP_ADMIN_PASSWORD", cls.admin_password),
            log_level=env.get("LOG_LEVEL", "INFO"),
            color=sys.stdout.isatty() and not env.get("NO_COLOR"),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        return cfg

    def port_of(self, name: str) -> int:
        return self.port_base + (0 if name == "gateway" else SERVICES.index(name) + 1)

    def url_of(self, name: str) -> str:
        return f"http://{self.host}:{self.port_of(name)}"


@dataclass
class ManagedProcess:
    """One child process, its output prefixed, restarted when it dies unexpectedly."""

    name: str
    argv: list[str]
    env: dict[str, str]
    prefix: str
    pid_file: Path
    health_url: str | None = None
    first_start_env: dict[str, str] = field(default_factory=dict)
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    _stopping: bool = False
    _supervisor: asyncio.Task | None = None

    async def spawn(self) -> None:
        env = dict(self.env)
        if self.restarts == 0:
            env.update(self.first_start_env)
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl+C goes to the runner, which stops children in order
        )
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(str(self.proc.pid))
        asyncio.create_task(self._pump(self.proc))

    async def _pump(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            print(f"{self.prefix} {line}", flush=True)

    def supervise(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        backoff = 1.0
        while not self._stopping:
            assert self.proc is not None
            started = time.monotonic()
            code = await self.proc.wait()
            if self._stopping:
                return
            if time.monotonic() - started > 30:
                backoff = 1.0
            print(f"{self.prefix} exited with {code}; restarting in {backoff:.0f}s", flush=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
            if self._stopping:
                return
            self.restarts += 1
            await self.spawn()

    async def stop(self, timeout: float = 20.0) -> None:
        self._stopping = True
        if self._supervisor:
            self._supervisor.cancel()
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=timeout)
        except TimeoutError:
            print(f"{self.prefix} did not stop in {timeout:.0f}s; killing", flush=True)
            proc.kill()
            await proc.wait()
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()


class Platform:
    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir.resolve()
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.processes: list[ManagedProcess] = []
        self._color = 0
        self._stopping = False
        self._watchers: list[asyncio.Task[None]] = []

    def _prefix(self, name: str) -> str:
        label = f"{name:>13} |"
        if not self.config.color:
            return label
        color = COLORS[self._color % len(COLORS)]
        self._color += 1
        return f"{color}{label}{RESET}"

    def say(self, message: str) -> None:
        print(f"{'innopark':>13} | {message}", flush=True)

    async def start(self) -> None:
        cfg = self.config
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await self._reap_orphans()
        for name in ["gateway", *SERVICES]:
            if port_open(cfg.host, cfg.port_of(name)):
                raise SystemExit(
                    f"port {cfg.port_of(name)} ({name}) is taken: is Innopark already running? "
                    "Set INNOPARK_PORT_BASE to use other ports."
                )

        admin_url = cfg.database_url
        if admin_url is None:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres", port=cfg.pg_port)
            self.say(f"starting embedded PostgreSQL on {cfg.host}:{cfg.pg_port}")
            await self.postgres.start()
            admin_url = self.postgres.admin_url
        bootstrap = cfg.kafka_bootstrap_servers
        fresh_broker = bootstrap is None
        if bootstrap is None:
            self.broker = EmbeddedBroker(port=cfg.broker_port)
            self.say(
                f"starting embedded Kafka-protocol broker (Tansu) on {cfg.host}:{cfg.broker_port}"
            )
            await self.broker.start()
            assert self.broker.proc is not None
            (self.data_dir / "run").mkdir(exist_ok=True)
            (self.data_dir / "run" / "broker.pid").write_text(str(self.broker.proc.pid))
            bootstrap = self.broker.bootstrap_servers

        databases = await provision(admin_url, [*SERVICES, "gateway"])
        jwks_url = f"{cfg.url_of('gateway')}/.well-known/jwks.json"
        common = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "JWKS_URL": jwks_url,
            # Links handed out (cancel links, calendars) point at this gateway, not :8000.
            "INNOPARK_PUBLIC_BASE_URL": os.environ.get("INNOPARK_PUBLIC_BASE_URL")
            or cfg.url_of("gateway"),
            "LOG_LEVEL": cfg.log_level,
            "HOST": cfg.host,
            "PYTHONUNBUFFERED": "1",
        }
        common.pop("DATABASE_URL", None)
        if self.broker:
            common.setdefault(
                "KAFKA_FETCH_MAX_WAIT_MS", str(EmbeddedBroker.CONSUMER_FETCH_MAX_WAIT_MS)
            )

        # Each process applies its own migrations before it serves (`serve --migrate`).
        for name in SERVICES:
            env = {**common, "DATABASE_URL": databases[name].url, "PORT": str(cfg.port_of(name))}
            # A new in-memory broker has lost every message: republish what the outboxes
            # retain; consumers' inboxes make the repeats harmless.
            first = {"OUTBOX_REPLAY_ON_START": "true"} if fresh_broker else {}
            self.processes.append(self._process(name, env, "/readyz", first))
        gateway_env = {
            **common,
            "DATABASE_URL": databases["gateway"].url,
            "PORT": str(cfg.port_of("gateway")),
            "JWT_PRIVATE_KEY_PATH": str(self.data_dir / "keys" / "jwt-es256.pem"),
            "BOOTSTRAP_ADMIN_EMAIL": cfg.admin_email,
            "BOOTSTRAP_ADMIN_PASSWORD": cfg.admin_password,
            **{f"{name.upper()}_URL": cfg.url_of(name) for name in SERVICES},
        }
        # The gateway publishes (user lifecycle, revocations): like the services, it
        # republishes what its outbox retains to a fresh in-memory broker.
        self.processes.append(self._process("gateway", gateway_env, "/health", first))

        for process in self.processes:
            await process.spawn()
            process.supervise()
        if self.postgres:
            self._watchers.append(asyncio.create_task(self._keep_postgres()))
        if self.broker:
            self._watchers.append(asyncio.create_task(self._keep_broker()))
        await self.wait_healthy()

    async def _keep_postgres(self) -> None:
        """Start the embedded PostgreSQL again (same data, same port) when it dies."""
        assert self.postgres is not None
        while not self._stopping:
            assert self.postgres.proc is not None
            code = await self.postgres.proc.wait()
            if self._stopping:
                return
            self.say(f"PostgreSQL exited with {code}; restarting it")
            await self._restart_until_up(self.postgres.start, "PostgreSQL")

    async def _keep_broker(self) -> None:
        """Start the embedded broker again when it dies. It comes back empty: the relays
        notice and replay what their outboxes retain."""
        assert self.broker is not None
        while not self._stopping:
            assert self.broker.proc is not None
            code = await self.broker.proc.wait()
            if self._stopping:
                return
            self.say(f"broker exited with {code}; restarting it (empty: outboxes replay)")
            await self._restart_until_up(self.broker.start, "broker")
            assert self.broker.proc is not None
            (self.data_dir / "run" / "broker.pid").write_text(str(self.broker.proc.pid))

    async def _restart_until_up(self, start: Callable[[], Awaitable[None]], what: str) -> None:
        backoff = 0.5
        while not self._stopping:
            try:
                await start()
                self.say(f"{what} is back")
                return
            except Exception as exc:
                self.say(f"{what} did not start ({exc}); retrying in {backoff:.1f}s")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _reap_orphans(self) -> None:
        """Stop processes a killed runner left behind (their pid files are still here)."""
        for pid_file in sorted((self.data_dir / "run").glob("*.pid")):
            try:
                pid = int(pid_file.read_text())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except (OSError, ValueError):
                cmdline = ""
            if "innopark" in cmdline or "tansu" in cmdline:
                self.say(f"stopping {pid_file.stem} (pid {pid}) left over from an earlier run")
                await terminate_pid(pid)
            pid_file.unlink(missing_ok=True)

    def _process(
        self, name: str, env: dict[str, str], health: str, first_start_env=None
    ) -> ManagedProcess:
        return ManagedProcess(
            name=name,
            argv=[sys.executable, "-m", f"innopark_{name}", "serve", "--migrate"],
            env=env,
            prefix=self._prefix(name),
            pid_file=self.data_dir / "run" / f"{name}.pid",
            health_url=f"{self.config.url_of(name)}{health}",
            first_start_env=first_start_env or {},
        )

    async def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pending = {p.name: p.health_url for p in self.processes if p.health_url}
        async with httpx.AsyncClient(timeout=2.0) as client:
            while pending and time.monotonic() < deadline:
                for name, url in list(pending.items()):
                    try:
                        response = await client.get(url)
                    except httpx.HTTPError:
                        continue
                    if response.status_code == 200 and _consumer_assigned(response.json()):
                        del pending[name]
                if pending:
                    await asyncio.sleep(0.3)
        if pending:
            raise SystemExit(f"not healthy after {timeout:.0f}s: {', '.join(pending)}")

    def banner(self) -> str:
        cfg = self.config
        lines = ["Innopark is up:"]
        lines.append(
            f"  gateway        {cfg.url_of('gateway')}   (API docs: {cfg.url_of('gateway')}/docs)"
        )
        for name in SERVICES:
            lines.append(f"  {name:<14} {cfg.url_of(name)}")
        if self.postgres:
            lines.append(
                f"  postgres       {self.postgres.admin_url}  (data in {self.postgres.data_dir})"
            )
        if self.broker:
            lines.append(f"  broker         {self.broker.bootstrap_servers}  (Tansu, in memory)")
        lines.append(f"  operator       {cfg.admin_email} / {cfg.admin_password}")
        lines.append("Ctrl+C stops everything.")
        return "\n".join(lines)

    async def stop(self) -> None:
        self.say("stopping: gateway, services, broker, database")
        self._stopping = True
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        by_name = {p.name: p for p in self.processes}
        if "gateway" in by_name:
            await by_name["gateway"].stop()
        await asyncio.gather(*(p.stop() for p in self.processes if p.name != "gateway"))
        if self.broker:
            await self.broker.stop()
            (self.data_dir / "run" / "broker.pid").unlink(missing_ok=True)
        if self.postgres:
            await self.postgres.stop()
        self.say("stopped")


def _consumer_assigned(body: dict) -> bool:
    """A service with a consumer counts as up once its group has given it partitions, so
    the first event after "Innopark is up" is not held back by the initial rebalance."""
    consumer = body.get("checks", {}).get("consumer")
    return consumer is None or consumer.get("assigned_partitions", 0) > 0


async def run(config: RunnerConfig) -> None:
    platform = Platform(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = asyncio.create_task(platform.start())
    stop_wait = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({started, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if started in done:
            started.result()  # raise start-up errors
            print(platform.banner(), flush=True)
            await stop_wait
        else:
            started.cancel()
    finally:
        await platform.stop()
