"""The gateway beside nginx as a plain keep-alive reverse proxy and beside the upstream
itself, with wrk, in one run: on a trivial upstream (the proxies' own cost) and on a real
registry read (`GET /api/v1/parks/{id}`). Throughput, p50, p99, the ratio to nginx, and
the p99 each proxy adds at half of nginx's throughput.

    .venv/bin/python benchmarks/gateway_vs_nginx.py [--seconds 10] [--connections 32]

The gateway runs as it does in production: its own database (users, revocations), the
broker, the rate limiter (set never to say no: its cost is part of the figure). The
trivial upstream stands in for the events service, so the gateway routes
/api/v1/events/… to it; /api/v1/parks/… goes to a real registry. nginx (Debian's
nginx-light) and wrk are installed when missing. Half load is paced with wrk's
per-connection `delay()` hook: close to, not exactly, the target rate (printed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
from harness import Aim, Stack, Table, ensure_tools, report, wait_ready, which, wrk
from innopark_shared.devrun.embedded import free_port

TRIVIAL_PATH = "/api/v1/events/bench?x=1"
ADMIN = ("bench-admin@innopark.example", "Bench-Admin-Password-1")

UPSTREAM_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()

@app.get("/api/v1/events/bench")
async def bench():
    return {"id": "5b0e4c1e-2f7a-4a43-a1d1-9a2b1f6c0e11", "name": "Technopolis", "ok": True}

@app.get("/readyz")
async def ready():
    return {"status": "ok"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  upstream trivial {{ server 127.0.0.1:{trivial}; keepalive 64; }}
  upstream registry {{ server 127.0.0.1:{registry}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    location /api/v1/events/ {{ proxy_pass http://trivial; }}
    location / {{ proxy_pass http://registry; }}
  }}
}}
"""

AIM_RATIO = 0.8
AIM_ADDED_P99_MS = 2.0


async def a_park(gateway: str) -> str:
    """A park created through the gateway by the bootstrap operator."""
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        token = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]},
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        created = await client.post(
            "/api/v1/parks",
            headers=headers,
            json={
                "name": "Bench Technopolis",
                "kind": "technopark",
                "country": "RU",
                "region": "Moscow",
                "specializations": ["it", "robotics"],
            },
        )
        created.raise_for_status()
        return created.json()["id"]


def compare(
    title: str, urls: dict[str, str], seconds: int, connections: int, pids: dict[str, int]
) -> tuple[Table, Table, dict[str, dict], dict[str, dict]]:
    """`pids`: each column's own process (the upstream's for "direct"), whose CPU time per
    request is measured at full load."""
    profile = (f"gateway, {title}", pids["gateway"])
    # Warm-up at the same concurrency: pools open their connections (a fresh registry
    # opened 30 PostgreSQL connections during the first measured run, p99 94 ms).
    for url in urls.values():
        wrk(url, 2, connections)
    full = {
        name: wrk(
            url,
            seconds,
            connections,
            profile=profile if name == "gateway" else None,
            cpu_of=[pids[name]],
        )
        for name, url in urls.items()
    }
    target = full["nginx"]["rps"] / 2
    delay = connections * 1000 / target  # each connection waits this between requests
    half = {name: wrk(url, seconds, connections, delay_ms=delay) for name, url in urls.items()}
    at_full = Table(
        f"{title}: {connections} connections, {seconds} s",
        ["", "req/s", "p50 ms", "p99 ms", "non-2xx", "vs nginx", "CPU ms/req"],
    )
    at_full.notes.append(
        "CPU ms/req: the CPU time of the upstream (direct), of nginx and its worker, or of "
        "the gateway, per request answered, over the run."
    )
    for name, r in full.items():
        at_full.add(
            name,
            r["rps"],
            r["p50"],
            r["p99"],
            r["errors"],
            r["rps"] / full["nginx"]["rps"],
            r["cpu_ms"],
        )
    at_half = Table(
        f"{title}: at half of nginx's throughput (target {target:.0f} req/s)",
        ["", "req/s", "p50 ms", "p99 ms", "added p99 ms"],
    )
    for name, r in half.items():
        added = r["p99"] - half["direct"]["p99"]
        at_half.add(name, r["rps"], r["p50"], r["p99"], added)
    return at_full, at_half, full, half


async def measure(args: argparse.Namespace) -> None:
    trivial_port, nginx_port = free_port(), free_port()
    prefix = Path(tempfile.mkdtemp(prefix="nginx-bench-"))
    upstream = await asyncio.create_subprocess_exec(
        sys.executable, "-c", UPSTREAM_APP, str(trivial_port)
    )
    nginx = None
    tables: list[Table] = []
    aims: list[Aim] = []
    try:
        stack = Stack(["registry", "gateway"])
        gateway_url = stack.url("gateway")
        stack.extra_env.update(
            {
                "REGISTRY_URL": stack.url("registry"),
                "EVENTS_URL": f"http://127.0.0.1:{trivial_port}",
                "JWKS_URL": f"{gateway_url}/.well-known/jwks.json",
                "JWT_PRIVATE_KEY_PATH": str(prefix / "jwt.pem"),
                "BOOTSTRAP_ADMIN_EMAIL": ADMIN[0],
                "BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
                "RATE_LIMIT_PER_MINUTE": "1000000000",
                "RATE_LIMIT_BURST": "1000000000",
            }
        )
        async with stack:
            await stack.start()
            (prefix / "nginx.conf").write_text(
                NGINX_CONF.format(
                    prefix=prefix,
                    trivial=trivial_port,
                    registry=stack.ports["registry"],
                    port=nginx_port,
                )
            )
            nginx = await asyncio.create_subprocess_exec(
                which("nginx"), "-p", str(prefix), "-c", str(prefix / "nginx.conf")
            )
            await wait_ready(f"http://127.0.0.1:{trivial_port}", upstream)
            park = await a_park(gateway_url)
            nginx_url = f"http://127.0.0.1:{nginx_port}"
            await asyncio.sleep(1)
            cases = {
                "trivial upstream": {
                    "direct": f"http://127.0.0.1:{trivial_port}{TRIVIAL_PATH}",
                    "nginx": f"{nginx_url}{TRIVIAL_PATH}",
                    "gateway": f"{gateway_url}{TRIVIAL_PATH}",
                },
                "registry read GET /api/v1/parks/{id}": {
                    "direct": f"{stack.url('registry')}/api/v1/parks/{park}",
                    "nginx": f"{nginx_url}/api/v1/parks/{park}",
                    "gateway": f"{gateway_url}/api/v1/parks/{park}",
                },
            }
            upstream_pids = {
                "trivial upstream": upstream.pid,
                "registry read GET /api/v1/parks/{id}": stack.procs["registry"].pid,
            }
            for title, urls in cases.items():
                print(f"{title} ...", flush=True)
                pids = {
                    "direct": upstream_pids[title],
                    "nginx": nginx.pid,
                    "gateway": stack.procs["gateway"].pid,
                }
                at_full, at_half, full, half = await asyncio.to_thread(
                    compare,
                    title,
                    urls,
                    args.seconds,
                    args.connections,
                    pids,
                )
                tables += [at_full, at_half]
                ratio = full["gateway"]["rps"] / full["nginx"]["rps"]
                added = half["gateway"]["p99"] - half["direct"]["p99"]
                aims.append(
                    Aim(
                        f"gateway throughput, {title}",
                        f"≥ {AIM_RATIO} × nginx",
                        f"{ratio:.2f} ×",
                        ratio >= AIM_RATIO,
                    )
                )
                aims.append(
                    Aim(
                        f"gateway added p99 at half load, {title}",
                        f"≤ {AIM_ADDED_P99_MS:g} ms",
                        f"{added:.2f} ms",
                        added <= AIM_ADDED_P99_MS,
                    )
                )
    finally:
        upstream.terminate()
        await upstream.wait()
        if nginx is not None:
            nginx.terminate()
            await nginx.wait()
    report("gateway_vs_nginx", "Gateway beside nginx", tables, aims)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    ensure_tools(("wrk", "wrk"), ("nginx", "nginx-light"))
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
