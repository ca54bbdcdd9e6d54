"""Registry search and single-park read latency at two data sizes (1k and 10k parks).

    .venv/bin/python benchmarks/registry_search.py [--requests 1000] [--concurrency 8]
    .venv/bin/python benchmarks/registry_search.py --base-url http://127.0.0.1:8000 \
        --database-url postgresql://innopark_registry:...@127.0.0.1:5432/innopark

By default it runs everything itself: an embedded PostgreSQL and broker, the registry's
database provisioned and migrated, and `python -m innopark_registry serve`. With
--base-url (the gateway, say) it sends the requests there and loads the data through
--database-url (the registry role's own URL). Data are bulk-loaded with COPY: 1,000 parks
and 10,000 residents, then up to 10,000 parks and 100,000 residents. Queries are a filtered
full-text search for a park name (half of the names Cyrillic, half of the queries
transliterated) and a read of one park by id. Bounded request counts; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import aiohttp
import asyncpg
from innopark_registry.text import search_body, search_names, transliterations

KINDS = [
    "technopark",
    "technopolis",
    "business_incubator",
    "industrial_park",
    "cluster_development_centre",
    "engineering_centre",
    "other",
]
REGIONS = [f"Region {i}" for i in range(85)]
SPECS = [
    "it",
    "biotech",
    "chemistry",
    "polymers",
    "robotics",
    "energy",
    "medicine",
    "nanotech",
    "radio electronics",
    "composites",
    "pharma",
    "agritech",
]
LATIN = [
    "ka",
    "mi",
    "gra",
    "to",
    "ve",
    "nor",
    "zel",
    "bar",
    "si",
    "lun",
    "dor",
    "pe",
    "ras",
    "tek",
    "vin",
    "mo",
    "sol",
    "kir",
    "an",
    "ul",
]
CYRILLIC = [
    "ка",
    "ми",
    "гра",
    "то",
    "ве",
    "нор",
    "зел",
    "бар",
    "си",
    "лун",
    "дор",
    "пе",
    "рас",
    "тек",
    "вин",
    "мо",
    "сол",
    "кир",
    "ан",
    "ул",
]
WORDS = (
    "innovation park resident companies laboratory incubator venture fund design "
    "bureau engineering centre cluster development industrial production export"
).split()
RUN_TIMEOUT = 300


def pseudo_word(rng: random.Random, cyrillic: bool) -> str:
    alphabet = CYRILLIC if cyrillic else LATIN
    return "".join(rng.choice(alphabet) for _ in range(4)).capitalize()


async def load(
    database_url: str, start: int, count: int, residents_per_park: int, rng: random.Random
) -> list[tuple[str, str, str]]:
    """COPY `count` parks (and their residents); returns (id, query word, kind) per park."""
    parks, residents, keys = [], [], []
    for i in range(start, start + count):
        cyrillic = i % 2 == 0
        word = pseudo_word(rng, cyrillic)
        kind = rng.choice(KINDS)
        name = f"{'Технопарк' if cyrillic else 'Technopark'} {word} {i}"
        specs = rng.sample(SPECS, 2)
        description = " ".join(rng.choices(WORDS, k=20))
        park_id = uuid.uuid4()
        parks.append(
            (
                park_id,
                name,
                kind,
                "RU",
                rng.choice(REGIONS),
                specs,
                1,
                rng.uniform(42, 68),
                rng.uniform(20, 140),
                description,
                search_names([name]),
                search_body(description, specs),
            )
        )
        query = transliterations(word)[0] if cyrillic and i % 4 == 0 else word
        keys.append((str(park_id), query, kind))
        for j in range(residents_per_park):
            rname = f"{pseudo_word(rng, False)} {j} LLC"
            tech = rng.sample(SPECS, 2)
            residents.append(
                (
                    uuid.uuid4(),
                    park_id,
                    rname,
                    tech,
                    [],
                    date(2015, 1, 1),
                    "active",
                    1,
                    search_names([rname]),
                    search_body(tech),
                )
            )
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        await conn.copy_records_to_table(
            "parks",
            schema_name="registry",
            records=parks,
            columns=[
                "id",
                "name",
                "kind",
                "country",
                "region",
                "specializations",
                "version",
                "latitude",
                "longitude",
                "description",
                "search_names",
                "search_body",
            ],
        )
        await conn.copy_records_to_table(
            "residents",
            schema_name="registry",
            records=residents,
            columns=[
                "id",
                "park_id",
                "name",
                "technologies",
                "sectors",
                "admitted_on",
                "status",
                "version",
                "search_names",
                "search_body",
            ],
        )
        await conn.execute("ANALYZE registry.parks")
        await conn.execute("ANALYZE registry.residents")
        totals = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM registry.parks) AS parks, "
            "(SELECT count(*) FROM registry.residents) AS residents"
        )
    finally:
        await conn.close()
    print(f"  loaded: {totals['parks']} parks, {totals['residents']} residents", flush=True)
    return keys


SEARCH_SQL = """
EXPLAIN (ANALYZE, FORMAT JSON)
SELECT p.id FROM registry.parks p
WHERE p.removed_at IS NULL AND p.kind = $3
  AND p.search_vector @@ (websearch_to_tsquery('russian', $1) || websearch_to_tsquery('simple', $2))
ORDER BY ts_rank(p.search_vector,
                 websearch_to_tsquery('russian', $1) || websearch_to_tsquery('simple', $2)) DESC,
         p.id
LIMIT 21
"""


def _plan_nodes(plan: dict) -> list[str]:
    nodes = [plan["Node Type"] + (f" on {plan['Index Name']}" if "Index Name" in plan else "")]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


async def explain(database_url: str, keys, rng: random.Random) -> tuple[float, str]:
    """Database-side time of the search query (median of 50), and the plan it used."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    times, plan = [], ""
    try:
        await conn.execute("SET plan_cache_mode = force_custom_plan")  # as the service does
        for _ in range(50):
            _, word, kind = rng.choice(keys)
            spelled = (transliterations(word) or [word])[0]
            result = await conn.fetchval(SEARCH_SQL, word, spelled, kind)
            document = json.loads(result)[0]
            times.append(document["Execution Time"])
            plan = " > ".join(_plan_nodes(document["Plan"]))
    finally:
        await conn.close()
    return statistics.median(times), plan


async def measure(base_url: str, paths: list[str], concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    queue = list(paths)
    errors = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while queue:
            path = queue.pop()
            t0 = time.perf_counter()
            async with session.get(base_url + path) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for path in paths[:concurrency]:  # warm-up
            async with session.get(base_url + path) as response:
                await response.read()
        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(worker(session) for _ in range(concurrency))), RUN_TIMEOUT
        )
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
        "rps": len(latencies) / elapsed,
        "errors": errors,
        "n": len(latencies),
    }


async def bench_round(
    base_url: str, keys, requests: int, concurrency: int, rng: random.Random
) -> dict[str, dict[str, float]]:
    from urllib.parse import urlencode

    searches, reads = [], []
    for _ in range(requests):
        park_id, word, kind = rng.choice(keys)
        searches.append("/api/v1/parks?" + urlencode({"q": word, "kind": kind, "limit": 20}))
        reads.append(f"/api/v1/parks/{rng.choice(keys)[0]}")
    # Sanity: a search finds the park it was built from.
    park_id, word, kind = keys[-1]
    async with (
        aiohttp.ClientSession() as session,
        session.get(base_url + "/api/v1/parks?" + urlencode({"q": word, "kind": kind})) as response,
    ):
        body = await response.json()
        assert any(p["id"] == park_id for p in body["items"]), (word, body)
    return {
        "search": await measure(base_url, searches, concurrency),
        "read": await measure(base_url, reads, concurrency),
    }


async def wait_ready(
    url: str, proc: asyncio.subprocess.Process | None, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc is not None and proc.returncode is not None:
                raise RuntimeError("registry exited during start-up")
            try:
                async with session.get(url + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise TimeoutError(f"{url} not ready")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("REGISTRY_BENCH_URL"))
    parser.add_argument("--database-url", default=os.environ.get("REGISTRY_BENCH_DATABASE_URL"))
    parser.add_argument("--requests", type=int, default=1000, help="per query kind and size")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--residents-per-park", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(2026)

    from innopark_shared.devrun.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
    from innopark_shared.devrun.provision import provision

    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    log = open(workdir / "bench.log", "wb")
    postgres = broker = proc = None
    try:
        base_url, database_url = args.base_url, args.database_url
        if base_url is None:
            print("starting embedded PostgreSQL, broker and the registry ...", flush=True)
            postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
            await postgres.start(stdout=log.fileno())
            broker = EmbeddedBroker(port=free_port())
            await broker.start(stdout=log.fileno())
            databases = await provision(postgres.admin_url, ["registry"], database="bench")
            database_url = databases["registry"].url
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "PORT": str(port),
                "HOST": "127.0.0.1",
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                "LOG_LEVEL": "WARNING",
            }
            migrate = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "innopark_registry",
                "migrate",
                env=env,
                stdout=log,
                stderr=log,
            )
            if await migrate.wait() != 0:
                raise RuntimeError(f"migration failed; see {workdir / 'bench.log'}")
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "innopark_registry",
                "serve",
                env=env,
                stdout=log,
                stderr=log,
            )
            base_url = f"http://127.0.0.1:{port}"
            await wait_ready(base_url, proc)
        elif database_url is None:
            parser.error("--base-url needs --database-url to load the data")

        keys: list[tuple[str, str, str]] = []
        results = []
        for size in [int(s) for s in args.sizes.split(",")]:
            print(f"loading up to {size} parks ...", flush=True)
            keys += await load(
                database_url, len(keys), size - len(keys), args.residents_per_park, rng
            )
            round_ = await bench_round(base_url, keys, args.requests, args.concurrency, rng)
            db_ms, plan = await explain(database_url, keys, rng)
            print(f"  database time of the search: median {db_ms:.2f} ms; plan: {plan}")
            results.append((size, round_))
            for name, r in round_.items():
                print(
                    f"  {name:6s} n={r['n']} p50={r['p50']:.1f}ms p95={r['p95']:.1f}ms "
                    f"p99={r['p99']:.1f}ms {r['rps']:.0f} req/s errors={r['errors']}",
                    flush=True,
                )

        print(f"\nregistry at {base_url}, concurrency {args.concurrency}")
        print(
            f"{'parks':>7} {'residents':>9} {'query':6} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'p99 ms':>7} {'req/s':>7}"
        )
        for size, round_ in results:
            for name, r in round_.items():
                print(
                    f"{size:>7} {size * args.residents_per_park:>9} {name:6} {r['p50']:>7.1f} "
                    f"{r['p95']:>7.1f} {r['p99']:>7.1f} {r['rps']:>7.0f}"
                )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                proc.kill()
        if broker is not None:
            await broker.stop()
        if postgres is not None:
            await postgres.stop()
        log.close()


if __name__ == "__main__":
    asyncio.run(main())
