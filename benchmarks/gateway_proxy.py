"""What the gateway's proxy costs: the same load straight at an upstream, then through
the gateway, on loopback.

    .venv/bin/python benchmarks/gateway_proxy.py [--requests 20000] [--concurrency 64]

Three processes besides this one: a trivial FastAPI upstream, the gateway (its real
app, routing /api/v1/parks to that upstream; no database is touched on the proxy path),
and the load generator (aiohttp). Bounded in requests and time; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PATH = "/api/v1/parks/bench?x=1"
RUN_TIMEOUT = 300  # seconds, per load run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the processes ---


def run_upstream(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/api/v1/parks/bench")
    async def bench() -> dict[str, object]:
        return {"id": "5b0e4c1e-2f7a-4a43-a1d1-9a2b1f6c0e11", "name": "Technopolis", "ok": True}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def run_gateway(port: int, upstream_port: int, key_dir: str) -> None:
    import uvicorn
    from innopark_gateway.config import GatewaySettings
    from innopark_gateway.main import create_app

    settings = GatewaySettings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",  # not on this path
        jwt_private_key_path=Path(key_dir) / "jwt.pem",
        registry_url=f"http://127.0.0.1:{upstream_port}",
        log_level="WARNING",
        # The limiter runs (its cost is part of the figure) but never says no.
        rate_limit_per_minute=10**9,
        rate_limit_burst=10**9,
        bootstrap_admin_email=None,
        bootstrap_admin_password=None,
    )
    uvicorn.run(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
    )


async def _load(url: str, total: int, concurrency: int) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    remaining = total
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(200):  # warm-up: connections open, code paths hot
            async with session.get(url) as resp:
                await resp.read()

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


def run_load(url: str, total: int, concurrency: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_load(url, total, concurrency))))


# --- the orchestration ---


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args])


def _wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not come up") from None
            time.sleep(0.1)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(url: str, total: int, concurrency: int, pids: dict[str, int]) -> dict[str, float]:
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    out = subprocess.run(
        [sys.executable, __file__, "load", url, str(total), str(concurrency)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for name, pid in pids.items():
        after = _cpu_seconds(pid)
        if after is not None and before[name] is not None:
            # Includes the 200 warm-up requests; close enough per request.
            result[f"{name}_cpu_us"] = (after - before[name]) / (total + 200) * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    upstream_port, gateway_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as key_dir:
        procs = [
            _spawn("upstream", str(upstream_port)),
            _spawn("gateway", str(gateway_port), str(upstream_port), key_dir),
        ]
        try:
            direct = f"http://127.0.0.1:{upstream_port}{PATH}"
            proxied = f"http://127.0.0.1:{gateway_port}{PATH}"
            _wait_ready(direct)
            _wait_ready(proxied)
            pids = {"upstream": procs[0].pid, "gateway": procs[1].pid}
            results = {
                "direct to upstream": _measure(direct, args.requests, args.concurrency, pids),
                "through gateway": _measure(proxied, args.requests, args.concurrency, pids),
            }
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=10)

    print(
        f"\n{args.requests} GET requests, concurrency {args.concurrency}, "
        f"loopback, {os.cpu_count()} CPUs\n"
    )
    print(
        f"{'':<20}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'upstream CPU/req':>18}{'gateway CPU/req':>17}"
    )
    for name, r in results.items():
        cpu = [f"{r[k]:.0f} us" if k in r else "-" for k in ("upstream_cpu_us", "gateway_cpu_us")]
        print(
            f"{name:<20}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}"
            f"{r['p99_ms']:>9.2f}{r['errors']:>8.0f}{cpu[0]:>18}{cpu[1]:>17}"
        )


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "upstream":
        run_upstream(int(sys.argv[2]))
    elif command == "gateway":
        run_gateway(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif command == "load":
        run_load(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
