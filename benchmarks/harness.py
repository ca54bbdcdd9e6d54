"""What the benchmarks share.

- `Stack`: an embedded PostgreSQL and broker, service databases provisioned and migrated,
  and services as their own processes (`python -m innopark_<name> serve`), torn down in
  reverse:

      async with Stack(["registry", "accreditation"], env={...}) as stack:
          await stack.start()
          stack.url("registry"), stack.database_url("accreditation")

- `wrk(...)`: one run of wrk (Debian's package, installed when missing), parsed; with
  `profile=(name, pid)` and `make bench PROFILE=<folder>`, py-spy records that process
  during the run into `<folder>/<name>.svg` (a flame graph).
- `Table` and `report(...)`: what a benchmark prints, and, under `make bench`, the
  Markdown section it adds to docs/benchmarks.md (see run_all.py). `Aim` is one of the
  issue's targets beside the figure measured for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from innopark_shared.devrun.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from innopark_shared.devrun.provision import provision

ROOT = Path(__file__).parents[1]
# Under `make bench`: the folder each benchmark writes its JSON report into.
REPORT_DIR_ENV = "BENCH_REPORT_DIR"
# `make bench PROFILE=<folder>`: where the flame graphs of profiled runs go;
# BENCH_PROFILE_FORMAT=raw writes collapsed stacks (`<name>.txt`, one stack and its
# sample count a line) instead, for reading or diffing as text.
PROFILE_DIR_ENV = "BENCH_PROFILE_DIR"
PROFILE_FORMAT_ENV = "BENCH_PROFILE_FORMAT"


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100) by nearest rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def wait_ready(url: str, proc: asyncio.subprocess.Process, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not ready in {timeout}s")


async def metric(url: str, name: str) -> float:
    """The sum of a metric's samples on a service's /metrics."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as r:
        text = await r.text()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Stack:
    """PostgreSQL, a broker, and `services` migrated; `start()` runs them as processes."""

    def __init__(self, services: list[str], *, env: dict[str, str] | None = None) -> None:
        self.services = services
        self.extra_env = env or {}
        self.workdir = Path(tempfile.mkdtemp(prefix="innopark-bench-"))
        self.log = open(self.workdir / "stack.log", "wb")
        self.postgres = EmbeddedPostgres(self.workdir / "pg", port=free_port())
        self.broker = EmbeddedBroker(port=free_port())
        self.ports = {s: free_port() for s in services}
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self._urls: dict[str, str] = {}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def database_url(self, service: str) -> str:
        """The service role's plain (asyncpg) URL."""
        return self._urls[service].replace("+asyncpg", "")

    def env(self, service: str) -> dict[str, Any]:
        return {
            **os.environ,
            "DATABASE_URL": self._urls[service],
            "PORT": str(self.ports[service]),
            "HOST": "127.0.0.1",
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "KAFKA_FETCH_MAX_WAIT_MS": str(EmbeddedBroker.CONSUMER_FETCH_MAX_WAIT_MS),
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            **self.extra_env,
        }

    async def __aenter__(self) -> Stack:
        await self.postgres.start(stdout=self.log.fileno())
        await self.broker.start(stdout=self.log.fileno())
        databases = await provision(self.postgres.admin_url, self.services, database="bench")
        self._urls = {s: databases[s].url for s in self.services}
        for s in self.services:
            migrate = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"innopark_{s}",
                "migrate",
                env=self.env(s),
                stdout=self.log,
                stderr=self.log,
            )
            if await migrate.wait() != 0:
                raise RuntimeError(f"{s}: migration failed; see {self.log.name}")
        return self

    async def start(self) -> None:
        for s in self.services:
            self.procs[s] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"innopark_{s}",
                "serve",
                env=self.env(s),
                stdout=self.log,
                stderr=self.log,
            )
        for s in self.services:
            await wait_ready(self.url(s), self.procs[s])

    async def __aexit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in self.procs.values():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=15)
        await self.broker.stop()
        await self.postgres.stop()
        self.log.close()


# --- load generation ---


def ensure_tools(*commands_and_packages: tuple[str, str]) -> None:
    """Install the Debian packages of missing commands (deploy/install-system-packages)."""
    missing = [pkg for cmd, pkg in commands_and_packages if not _which(cmd)]
    if missing:
        listed = Path(tempfile.mkdtemp()) / "packages.txt"
        listed.write_text("\n".join(missing) + "\n")
        subprocess.run([str(ROOT / "deploy" / "install-system-packages"), str(listed)], check=True)
    for cmd, pkg in commands_and_packages:
        if not _which(cmd):
            raise SystemExit(f"{cmd} is needed (Debian: apt-get install {pkg})")


def _which(cmd: str) -> str | None:
    found = shutil.which(cmd)
    if found is None and Path(f"/usr/sbin/{cmd}").exists():
        found = f"/usr/sbin/{cmd}"
    return found


def which(cmd: str) -> str:
    found = _which(cmd)
    if found is None:
        raise SystemExit(f"{cmd} is not installed")
    return found


def wrk(
    url: str,
    seconds: float,
    connections: int,
    *,
    headers: dict[str, str] | None = None,
    lua: str | None = None,
    delay_ms: float | None = None,
    threads: int = 1,
    profile: tuple[str, int] | None = None,
    cpu_of: Sequence[int] = (),
) -> dict[str, float]:
    """Requests/s, latency percentiles (ms) and non-2xx answers of one wrk run.

    `delay_ms` paces each connection (wrk's `delay()` hook) for a target rate. One wrk
    thread by default: on two cores, the load generator must not take a core from the
    system under test. `profile=(name, pid)`: see `profiling`. `cpu_of`: processes whose
    CPU time per request (`cpu_ms`, from /proc) is measured over the run, with their
    children (nginx's workers): it moves less with the machine's other load than
    throughput does."""
    pids = [p for pid in cpu_of for p in (pid, *_children(pid))]
    before = sum(_cpu_seconds(p) for p in pids)
    with profiling(profile, seconds):
        result = _wrk(url, seconds, connections, headers, lua, delay_ms, threads)
    used = sum(_cpu_seconds(p) for p in pids) - before
    result["cpu_ms"] = 1000 * used / result["requests"] if pids and result["requests"] else math.nan
    return result


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in found]


@contextlib.contextmanager
def profiling(profile: tuple[str, int] | None, seconds: float):
    """py-spy samples process `pid` for `seconds` into `<PROFILE_DIR>/<name>.svg`, when
    BENCH_PROFILE_DIR is set (`make bench PROFILE=<folder>`); otherwise nothing. Sampling
    costs the profiled process a little: figures of a profiled run are not the ones to
    quote."""
    folder = os.environ.get(PROFILE_DIR_ENV)
    if profile is None or not folder:
        yield
        return
    name, pid = profile
    Path(folder).mkdir(parents=True, exist_ok=True)
    raw = os.environ.get(PROFILE_FORMAT_ENV) == "raw"
    out = Path(folder) / (
        re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + (".txt" if raw else ".svg")
    )
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(math.ceil(seconds)),
            "--rate",
            "200",
            "--nonblocking",
            *(["--format", "raw"] if raw else []),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        code = spy.wait(timeout=seconds + 30)
        print(f"  profile of {name}: {out}" if code == 0 else f"  py-spy failed ({code})")


def _wrk(
    url: str,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None,
    lua: str | None,
    delay_ms: float | None,
    threads: int,
) -> dict[str, float]:
    ensure_tools(("wrk", "wrk"))
    args = [which("wrk"), f"-t{threads}", f"-c{connections}", f"-d{math.ceil(seconds)}s"]
    args.append("--latency")
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    script = lua or ""
    if delay_ms is not None:
        script += f"\nfunction delay() return {delay_ms:.3f} end\n"
    if script:
        path = Path(tempfile.mkdtemp()) / "script.lua"
        path.write_text(script)
        args += ["-s", str(path)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(requests.group(1)) if requests else 0,
        "p50": ms("50"),
        "p90": ms("90"),
        "p99": ms("99"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


# --- reporting ---


@dataclass
class Table:
    """One table of figures: printed aligned, written as Markdown by run_all.py."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append(list(cells))

    def cells(self) -> list[list[str]]:
        return [[_cell(c) for c in row] for row in self.rows]

    def text(self) -> str:
        cells = self.cells()
        widths = [
            max(len(self.columns[i]), *(len(r[i]) for r in cells)) for i in range(len(self.columns))
        ]
        lines = [self.title]
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(self.columns, widths, strict=True))
            )
        )
        for row in cells:
            lines.append(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
        lines += [f"  {n}" for n in self.notes]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"**{self.title}**", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append(
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|"
        )
        lines += ["| " + " | ".join(row) + " |" for row in self.cells()]
        if self.notes:
            lines.append("")
            lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class Aim:
    """One of the targets of issue #12, the figure measured for it, and whether it holds."""

    what: str
    target: str
    measured: str
    met: bool


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def report(name: str, title: str, tables: list[Table], aims: list[Aim] = ()) -> None:
    """Print the tables; under `make bench`, also leave them for docs/benchmarks.md."""
    print()
    for table in tables:
        print(table.text())
        print()
    for aim in aims:
        print(
            f"aim: {aim.what}: {aim.target}; measured {aim.measured}: "
            + ("met" if aim.met else "NOT met")
        )
    folder = os.environ.get(REPORT_DIR_ENV)
    if folder:
        section = {
            "name": name,
            "title": title,
            "tables": [t.markdown() for t in tables],
            "aims": [aim.__dict__ for aim in aims],
        }
        (Path(folder) / f"{name}.json").write_text(json.dumps(section, indent=1))
