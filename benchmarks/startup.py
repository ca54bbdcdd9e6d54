"""Cold start of the platform `make up` runs, and the memory each process holds at rest.

    .venv/bin/python benchmarks/startup.py [--rest-seconds 10]

Runs `innopark-dev up` (what `make up` runs once the environment exists) on free ports
with a new data directory, and times it until it prints that Innopark is up (every
service ready and its consumers assigned their partitions): first start (a new database
cluster, every migration), then a restart on the same data. After --rest-seconds at rest
it reads the resident memory (VmRSS) of every process, then stops the platform.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from harness import Aim, Table, report
from innopark_shared.devrun.embedded import free_port

UP_TIMEOUT = 180
READY_LINE = b"Innopark is up"
SERVICES = ["gateway", "registry", "orders", "accreditation", "events"]
RSS_AIM_MB = 150


def _free_base() -> int:
    """A gateway port whose next four ports are free too."""
    while True:
        base = free_port()
        if base < 60000 and all(_free(base + i) for i in range(1, 5)):
            return base


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def up(
    data_dir: Path, base: int, pg: int, broker: int
) -> tuple[asyncio.subprocess.Process, float]:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("innopark-dev")),
        "up",
        "--data-dir",
        str(data_dir),
        "--port-base",
        str(base),
        "--pg-port",
        str(pg),
        "--broker-port",
        str(broker),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = []
    deadline = started + UP_TIMEOUT
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
        if not line:
            raise RuntimeError("innopark-dev up exited:\n" + b"".join(seen[-40:]).decode())
        seen.append(line)
        if READY_LINE in line:
            elapsed = time.monotonic() - started
            asyncio.create_task(_drain(proc.stdout))
            return proc, elapsed


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def down(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), timeout=60)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def processes(data_dir: Path) -> dict[str, float]:
    """Resident MB of each service, and of PostgreSQL (all its processes) and the broker."""
    found: dict[str, float] = {}
    for name in SERVICES:
        found[name] = rss_mb(int((data_dir / "run" / f"{name}.pid").read_text()))
    broker = data_dir / "run" / "broker.pid"
    if broker.exists():
        found["broker (Tansu)"] = rss_mb(int(broker.read_text()))
    postmaster = data_dir / "postgres" / "postmaster.pid"
    if postmaster.exists():
        root = int(postmaster.read_text().split()[0])
        pids = [root] + [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _parent(int(p.name)) == root
        ]
        found["PostgreSQL (all processes)"] = sum(rss_mb(p) for p in pids)
    return found


def _parent(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rest-seconds", type=float, default=10)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="innopark-startup-"))
    base, pg, broker = _free_base(), free_port(), free_port()
    times = Table("make up: until every process is ready", ["start", "seconds"])
    memory = Table(
        f"resident memory at rest ({args.rest_seconds:.0f} s after start)", ["process", "MB"]
    )
    try:
        print("first start (new data directory) ...", flush=True)
        proc, first = await up(data_dir, base, pg, broker)
        times.add("first (initdb, every migration)", first)
        await down(proc)
        print("restart on the same data ...", flush=True)
        proc, again = await up(data_dir, base, pg, broker)
        times.add("restart (data exists)", again)
        try:
            await asyncio.sleep(args.rest_seconds)
            found = processes(data_dir)
        finally:
            await down(proc)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    for name, mb in found.items():
        memory.add(name, mb)
    services = {k: v for k, v in found.items() if k in SERVICES}
    heaviest = max(services, key=services.__getitem__)
    aims = [
        Aim(
            "make up healthy",
            "≤ 15 s (environment exists)",
            f"{again:.1f} s restart, {first:.1f} s first",
            again <= 15,
        ),
        Aim(
            "resident memory at rest",
            f"every service ≤ {RSS_AIM_MB} MB",
            f"{heaviest} {services[heaviest]:.0f} MB",
            services[heaviest] <= RSS_AIM_MB,
        ),
    ]
    report("startup", "Cold start and memory", [times, memory], aims)


if __name__ == "__main__":
    asyncio.run(main())
