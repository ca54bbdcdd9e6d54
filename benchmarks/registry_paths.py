"""The registry's hot paths beside their floors, in one run: park creation against raw
PostgreSQL commits, and a single park read against a bare FastAPI + asyncpg endpoint
reading the same row.

    .venv/bin/python benchmarks/registry_paths.py [--seconds 10] [--connections 16]

It starts an embedded PostgreSQL and broker and the registry as its own process (tokens
from a test issuer whose JWKS it serves), and a bare uvicorn + asyncpg app on the same
database. wrk (Debian's package, installed when missing) drives HTTP; the write floor is
16 asyncpg connections committing one INSERT each, for the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

import asyncpg
from harness import Aim, Stack, Table, report, wait_ready, wrk
from innopark_shared.devrun.embedded import free_port
from innopark_shared.testing.tokens import TokenIssuer, serve_jwks

WRITE_LUA = """
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"name":"Bench park %d-%d","kind":"technopark","country":"RU","region":"Bench",'
    .. '"specializations":["it"]}', math.random(1, 1000000000), n)
  return wrk.format("POST", "/api/v1/parks", nil, body)
end
"""

AIM_CREATES = 500
AIM_READ_RATIO = 0.5

BARE_APP = """
import contextlib, os, asyncpg, uvicorn
from fastapi import FastAPI
pool = None

@contextlib.asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(os.environ["URL"], min_size=4, max_size=10)
    yield
    await pool.close()

app = FastAPI(lifespan=lifespan)

@app.get("/readyz")
async def ready():
    return {"status": "ok"}

@app.get("/parks/{park_id}")
async def park(park_id: str):
    row = await pool.fetchrow("SELECT * FROM registry.parks WHERE id = $1::uuid", park_id)
    plain = (int, float, bool, str, list)
    return {
        k: v if v is None or isinstance(v, plain) else str(v)
        for k, v in row.items()
        if k != "search_vector"
    }

port = int(os.environ["PORT"])
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


async def raw_commits(url: str, seconds: float, connections: int) -> float:
    """Commits/s of single-row INSERTs from `connections` connections."""
    setup = await asyncpg.connect(url)
    await setup.execute(
        "CREATE TABLE IF NOT EXISTS registry.bench_commits (id uuid PRIMARY KEY, name text)"
    )
    await setup.close()
    done = 0
    deadline = time.monotonic() + seconds

    async def writer() -> None:
        nonlocal done
        conn = await asyncpg.connect(url)
        try:
            while time.monotonic() < deadline:
                await conn.execute(
                    "INSERT INTO registry.bench_commits VALUES ($1, $2)", uuid.uuid4(), "x"
                )
                done += 1
        finally:
            await conn.close()

    await asyncio.gather(*(writer() for _ in range(connections)))
    return done / seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    issuer = TokenIssuer()
    server = serve_jwks(issuer)
    operator = {"Authorization": f"Bearer {issuer.token('operator', ttl=7200)}"}
    rows = []
    try:
        async with Stack(["registry"], env={"JWKS_URL": issuer.jwks_url}) as stack:
            await stack.start()
            url = stack.database_url("registry")
            base = stack.url("registry")
            print("park creation ...", flush=True)
            writes = await asyncio.to_thread(
                wrk,
                f"{base}/api/v1/parks",
                args.seconds,
                args.connections,
                headers={**operator, "Content-Type": "application/json"},
                lua=WRITE_LUA,
                profile=("registry, park creation", stack.procs["registry"].pid),
            )
            commits = await raw_commits(url, args.seconds, args.connections)
            rows.append(("POST /api/v1/parks", writes, "raw PostgreSQL commits", commits))

            conn = await asyncpg.connect(url)
            park_id = await conn.fetchval("SELECT id FROM registry.parks LIMIT 1")
            await conn.close()
            port = free_port()
            bare = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                BARE_APP,
                env={"URL": url, "PORT": str(port), "PATH": "/usr/bin:/bin"},
            )
            try:
                await wait_ready(f"http://127.0.0.1:{port}", bare)
                print("single read ...", flush=True)
                read = await asyncio.to_thread(
                    wrk,
                    f"{base}/api/v1/parks/{park_id}",
                    args.seconds,
                    args.connections,
                    profile=("registry, single read", stack.procs["registry"].pid),
                )
                floor = await asyncio.to_thread(
                    wrk, f"http://127.0.0.1:{port}/parks/{park_id}", args.seconds, args.connections
                )
                rows.append(("GET /api/v1/parks/{id}", read, "bare FastAPI + asyncpg", floor))
            finally:
                bare.terminate()
                await bare.wait()
    finally:
        server.shutdown()

    table = Table(
        f"registry hot paths, straight at the registry: {args.connections} connections, "
        f"{args.seconds:.0f} s each",
        ["path", "req/s", "p50 ms", "p99 ms", "non-2xx", "baseline", "baseline /s", "ratio"],
    )
    for name, r, floor_name, floor in rows:
        floor_rate = floor["rps"] if isinstance(floor, dict) else floor
        table.add(
            name,
            r["rps"],
            r["p50"],
            r["p99"],
            r["errors"],
            floor_name,
            floor_rate,
            r["rps"] / floor_rate,
        )
    (_, write, _, commits), (_, read_row, _, bare) = rows
    aims = [
        Aim(
            "park creation",
            f"≥ {AIM_CREATES}/s",
            f"{write['rps']:.0f}/s ({write['rps'] / commits:.2f} × raw commits)",
            write["rps"] >= AIM_CREATES and write["errors"] == 0,
        ),
        Aim(
            "single read",
            f"≥ {AIM_READ_RATIO} × bare FastAPI + asyncpg",
            f"{read_row['rps'] / bare['rps']:.2f} ×",
            read_row["rps"] / bare["rps"] >= AIM_READ_RATIO,
        ),
    ]
    report("registry_paths", "Registry reads and writes", [table], aims)


if __name__ == "__main__":
    asyncio.run(main())
