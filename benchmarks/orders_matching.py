"""Matching benchmark: one technology order against 100,000 residents in the orders
service's local read model; prints p50/p95 of the full matching step (rank residents and
parks, explain, store the matches).

    python benchmarks/orders_matching.py                       # self-contained
    python benchmarks/orders_matching.py --residents 100000 --runs 30
    python benchmarks/orders_matching.py --admin-url postgresql://postgres@127.0.0.1:5432/postgres

Self-contained (the default, as `make bench` runs it): an embedded PostgreSQL in a
temporary folder, the orders schema provisioned and migrated exactly as the dev runner
does. The read model is seeded in bulk with SQL (100,000 ResidentAdmittedV1 events through
the broker would only measure the consumer); the search vectors are computed by the same
expression the event handler uses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from harness import Aim, Table, percentile, report

TECHNOLOGIES = [
    "polymer recycling",
    "catalysis",
    "composite materials",
    "robotics",
    "machine vision",
    "radio electronics",
    "antenna design",
    "photonics",
    "lidar",
    "battery chemistry",
    "hydrogen storage",
    "fuel cells",
    "oil-field chemistry",
    "low-tonnage chemistry",
    "nanomaterials",
    "energy saving",
    "heat pumps",
    "medical imaging",
    "drug delivery",
    "pharmacology",
    "biosensors",
    "genomics",
    "telemedicine",
    "industrial iot",
    "edge computing",
    "cybersecurity",
    "computer vision",
    "natural language processing",
    "additive manufacturing",
    "metal powders",
    "laser welding",
    "cnc machining",
    "water treatment",
    "membranes",
    "agritech",
    "precision farming",
    "drones",
    "satellite communication",
    "5g",
    "microelectronics",
    "power electronics",
    "smart grid",
    "wind turbines",
    "solar cells",
    "geothermal",
    "mining sensors",
    "predictive maintenance",
    "digital twins",
    "blockchain",
    "fintech",
    "edtech",
    "logistics",
]
WORDS = (
    "process pilot scale plant waste plastic feedstock catalyst reactor sensor device platform "
    "software model data analysis control automation module system production quality testing "
    "laboratory prototype certification export licence patent know-how design engineering "
    "materials chemistry polymer composite fibre coating surface energy efficiency battery cell "
    "hydrogen electrolysis membrane water filter medical clinic diagnostic imaging drug therapy "
    "robot arm gripper vision camera lidar radar antenna signal wireless network cloud edge"
).split()


@contextlib.asynccontextmanager
async def orders_database(admin_url: str | None) -> AsyncIterator[str]:
    """An orders database, provisioned and migrated; yields the orders role's URL."""
    from innopark_shared.devrun.embedded import EmbeddedPostgres, free_port
    from innopark_shared.devrun.provision import provision
    from innopark_shared.testing import run_command

    workdir = Path(tempfile.mkdtemp(prefix="innopark-bench-"))
    log = open(workdir / "postgres.log", "wb")
    postgres = None
    try:
        if admin_url is None:
            postgres = EmbeddedPostgres(workdir / "postgres", port=free_port())
            await postgres.start(stdout=log.fileno())
            admin_url = postgres.admin_url
        name = f"orders_bench_{uuid.uuid4().hex[:8]}"
        databases = await provision(admin_url, ["orders"], database=name)
        url = databases["orders"].url
        await run_command(
            sys.executable,
            "-m",
            "innopark_orders",
            "migrate",
            env={**os.environ, "DATABASE_URL": url},
        )
        yield url
    finally:
        if postgres is not None:
            await postgres.stop()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def describer(vocabulary: str, rng: random.Random):
    """Resident descriptions. `narrow`: 15-40 words from the ~90 domain words above, so
    nearly every resident shares terms with any order (the worst case for text ranking).
    `broad`: words from a 20,000-word Zipf-distributed vocabulary plus 2-5 domain words,
    closer to real company descriptions, where an order's terms are rarer."""
    if vocabulary == "narrow":
        return lambda: " ".join(rng.choices(WORDS, k=rng.randint(15, 40)))
    syllables = [
        "ka",
        "ro",
        "mi",
        "tes",
        "lan",
        "vor",
        "qui",
        "zen",
        "dra",
        "pol",
        "ex",
        "un",
        "sil",
        "tra",
        "ne",
        "bor",
        "ski",
        "gan",
        "lu",
        "fer",
        "mo",
        "tis",
        "ark",
        "ven",
    ]
    lexicon = sorted({"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(30_000)})
    lexicon = lexicon[:20_000]
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(lexicon))))

    def describe() -> str:
        words = rng.choices(lexicon, cum_weights=cumulative, k=rng.randint(15, 40))
        words += rng.sample(WORDS, rng.randint(2, 5))
        rng.shuffle(words)
        return " ".join(words)

    return describe


async def seed(
    url: str, residents: int, parks: int, rng: random.Random, vocabulary: str = "broad"
) -> None:
    describe = describer(vocabulary, rng)
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        park_ids = [uuid.uuid4() for _ in range(parks)]
        await conn.executemany(
            "INSERT INTO orders.known_parks (park_id, name, kind, country, region, "
            "specializations, source_time) "
            "VALUES ($1, $2, 'technopark', 'RU', 'Region', $3, now())",
            [(pid, f"Park {i}", rng.sample(TECHNOLOGIES, 4)) for i, pid in enumerate(park_ids)],
        )
        batch = 10_000
        for start in range(0, residents, batch):
            rows = []
            for i in range(start, min(start + batch, residents)):
                technologies = rng.sample(TECHNOLOGIES, rng.randint(1, 4))
                description = describe()
                rows.append(
                    (uuid.uuid4(), rng.choice(park_ids), f"Resident {i}", technologies, description)
                )
            await conn.execute(
                """
                INSERT INTO orders.known_residents
                    (resident_id, park_id, name, technologies, sectors, tags, description,
                     search, source_time)
                SELECT r.id, r.park, r.name, t.tech, '{}', t.tech, r.descr,
                       to_tsvector('english'::regconfig, r.name || ' ' ||
                                   array_to_string(t.tech, ' ') || ' ' || r.descr),
                       now()
                FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])
                     AS r(id, park, name, tech_joined, descr),
                     LATERAL (SELECT string_to_array(r.tech_joined, '|') AS tech) t
                """,
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
                ["|".join(r[3]) for r in rows],
                [r[4] for r in rows],
            )
        await conn.execute("ANALYZE orders.known_residents")
        await conn.execute("ANALYZE orders.known_parks")
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> None:
    from innopark_orders.config import OrdersSettings
    from innopark_orders.models import Partner
    from innopark_shared.db import Database

    rng = random.Random(42)
    async with orders_database(args.admin_url) as url:
        began = time.perf_counter()
        await seed(url, args.residents, args.parks, rng, args.vocabulary)
        print(
            f"seeded {args.residents:,} residents ({args.vocabulary} vocabulary) and "
            f"{args.parks} parks "
            f"in {time.perf_counter() - began:.1f}s"
        )
        settings = OrdersSettings(database_url=url)
        database = Database(url)
        table = Table(
            f"matching one order against {args.residents:,} residents and {args.parks} parks, "
            f"{args.runs} runs each (rank, explain, store)",
            ["order", "p50 ms", "p95 ms", "max ms", "residents ranked", "baseline p50 ms"],
            notes=[
                "baseline: the candidate query alone (residents sharing a tag, or "
                "matching the text), counted, same database"
            ],
        )
        aims = []
        try:
            async with database.transaction() as session:
                partner = Partner(id=uuid.uuid4(), name="Bench AG", country="DE", version=1)
                session.add(partner)
            cases = {
                "tags and text": ["polymer recycling", "catalysis", "low-tonnage chemistry"],
                "text only (no resident has its tags)": ["no resident has this tag"],
            }
            for label, tags in cases.items():
                order = await an_order(database, partner.id, tags)
                timings, residents = await timed_matching(database, order, settings, args)
                floor = await candidates_floor(url, tags, order.title, args.runs)
                p95 = percentile(timings, 95)
                table.add(
                    label,
                    statistics.median(timings),
                    p95,
                    max(timings),
                    len(residents),
                    statistics.median(floor),
                )
                aims.append(
                    Aim(
                        f"matching at {args.residents:,} residents, {label}",
                        f"p95 ≤ {AIM_P95_MS} ms",
                        f"p95 {p95:.1f} ms",
                        p95 <= AIM_P95_MS,
                    )
                )
        finally:
            await database.dispose()
    report("orders_matching", "Order matching", [table], aims)


AIM_P95_MS = 100


async def an_order(database, partner_id: uuid.UUID, tags: list[str]):
    from innopark_orders.models import Order

    async with database.transaction() as session:
        order = Order(
            id=uuid.uuid4(),
            reference=f"TODE2026{uuid.uuid4().int % 1000000:06d}",
            partner_id=partner_id,
            title="Catalyst process for polymer recycling at pilot scale",
            description="We look for a catalyst and reactor design that turns mixed "
            "plastic waste into polymer feedstock; pilot plant, quality testing, licence.",
            technology_tags=tags,
            cooperation_types=["licence"],
            languages=["en"],
            confidential=False,
            deadline=datetime.now(UTC) + timedelta(days=30),
            status="published",
            created_by="bench",
            version=1,
        )
        session.add(order)
    return order


async def timed_matching(database, order, settings, args) -> tuple[list[float], list]:
    from innopark_orders.orders import matching

    timings: list[float] = []
    residents: list = []
    for i in range(args.warmup + args.runs):
        async with database.transaction() as session:
            started = time.perf_counter()
            _, residents = await matching.match_order(session, order=order, settings=settings)
            elapsed = (time.perf_counter() - started) * 1000
        if i >= args.warmup:
            timings.append(elapsed)
    return timings, residents


async def candidates_floor(url: str, tags: list[str], text: str, runs: int) -> list[float]:
    """The plain candidate query: residents sharing a tag or matching the text, counted."""
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    timings = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            await conn.fetchval(
                "SELECT count(*) FROM orders.known_residents WHERE tags && $1::varchar[] "
                "OR search @@ websearch_to_tsquery('english', $2)",
                tags,
                text,
            )
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--parks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--vocabulary",
        choices=["broad", "narrow"],
        default="broad",
        help="resident descriptions: realistic (broad) or worst case (narrow)",
    )
    parser.add_argument(
        "--admin-url",
        default=None,
        help="a superuser's postgresql:// URL instead of an embedded server",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
