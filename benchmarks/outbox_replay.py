"""What a replay costs fresh events: a broker that came back empty, an outbox retaining
100,000 published events, and one fresh event committed right after start.

    .venv/bin/python benchmarks/outbox_replay.py [--retained 100000]

It runs everything itself, as `make up` does after a broker loss: an embedded PostgreSQL
and broker, the registry (whose relay replays its retained window) and accreditation
(whose consumer has applied every retained event already, so each replayed one is a
repeat its inbox must drop) as their own processes. Two rounds on fresh databases and a
fresh broker each: the baseline with nothing retained, then the replay round. Each prints
the time from the processes' start to the fresh event applied in accreditation's read
model, the time from the fresh commit to applied, and how long the whole replay and its
deduplication took. Bounded: the replay round gives up after --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import asyncpg
from harness import Stack, Table, metric, report
from innopark_shared.contracts.registry import ParkCreatedV1
from innopark_shared.outbox import event_source

SERVICES = ["registry", "accreditation"]


def park_event(n: int) -> tuple[uuid.UUID, ParkCreatedV1]:
    park_id = uuid.uuid4()
    return park_id, ParkCreatedV1(
        park_id=park_id,
        name=f"Replayed park {n}",
        kind="technopark",
        country="RU",
        region="Bench region",
        created_at=datetime.now(UTC),
    )


async def seed(urls: dict[str, str], retained: int) -> None:
    """`retained` park events, published long ago (so kept for replay) and applied by
    accreditation already: its inbox holds their ids."""
    if not retained:
        return
    source = event_source("registry")
    now = datetime.now(UTC)
    outbox_rows, inbox_rows = [], []
    for n in range(retained):
        _, event = park_event(n)
        event_id = uuid.uuid4()
        outbox_rows.append(
            (
                event_id,
                event.topic,
                event.key,
                event.event_type,
                source,
                now,
                json.dumps(event.model_dump(mode="json")),
                now,
            )
        )
        inbox_rows.append((str(event_id), event.event_type, source, now))
    registry = await asyncpg.connect(urls["registry"])
    try:
        await registry.copy_records_to_table(
            "outbox",
            schema_name="registry",
            records=outbox_rows,
            columns=["id", "topic", "key", "type", "source", "time", "data", "published_at"],
        )
    finally:
        await registry.close()
    accreditation = await asyncpg.connect(urls["accreditation"])
    try:
        await accreditation.copy_records_to_table(
            "inbox",
            schema_name="accreditation",
            records=inbox_rows,
            columns=["event_id", "type", "source", "processed_at"],
        )
    finally:
        await accreditation.close()


async def commit_fresh(registry_url: str) -> tuple[uuid.UUID, float]:
    """One fresh park event committed to the registry's outbox as a write would."""
    park_id, event = park_event(-1)
    conn = await asyncpg.connect(registry_url)
    try:
        await conn.execute(
            "INSERT INTO registry.outbox (id, topic, key, type, source, time, data) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
            uuid.uuid4(),
            event.topic,
            event.key,
            event.event_type,
            event_source("registry"),
            datetime.now(UTC),
            json.dumps(event.model_dump(mode="json")),
        )
        await conn.execute("SELECT pg_notify('registry_outbox', '')")
        return park_id, time.monotonic()
    finally:
        await conn.close()


async def run_round(retained: int, timeout: float) -> dict[str, float]:
    # What the dev runner sets for a fresh broker.
    async with Stack(SERVICES, env={"OUTBOX_REPLAY_ON_START": "true"}) as stack:
        urls = {s: stack.database_url(s) for s in SERVICES}
        print(f"  seeding {retained:,} retained events ...", flush=True)
        await seed(urls, retained)
        started = time.monotonic()
        await stack.start()
        ready = time.monotonic()
        park_id, committed = await commit_fresh(urls["registry"])

        accreditation = await asyncpg.connect(urls["accreditation"])
        try:
            applied = None
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if await accreditation.fetchval(
                    "SELECT 1 FROM accreditation.known_parks WHERE park_id = $1", park_id
                ):
                    applied = time.monotonic()
                    break
                await asyncio.sleep(0.005)
        finally:
            await accreditation.close()
        if applied is None:
            raise RuntimeError(f"the fresh event was not applied within {timeout}s")

        # The whole replay: every retained event republished and dropped as a repeat.
        registry, accreditation_url = stack.url("registry"), stack.url("accreditation")
        replay_done = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replayed = await metric(registry, "innopark_outbox_replayed_total")
            repeats = await metric(accreditation_url, "innopark_consumer_duplicates_total")
            if replayed >= retained and repeats >= retained:
                replay_done = time.monotonic()
                break
            await asyncio.sleep(0.05)
        return {
            "ready_s": ready - started,
            "start_to_fresh_s": applied - started,
            "commit_to_fresh_ms": (applied - committed) * 1000,
            "replay_s": (replay_done - started) if replay_done else float("nan"),
            "replayed": await metric(registry, "innopark_outbox_replayed_total"),
            "repeats_dropped": await metric(
                accreditation_url, "innopark_consumer_duplicates_total"
            ),
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retained", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    results = []
    for retained in (0, args.retained):
        print(f"round with {retained:,} retained events", flush=True)
        results.append((retained, await run_round(retained, args.timeout)))

    table = Table(
        "Replay after a broker loss: registry relay -> accreditation consumer",
        [
            "retained",
            "ready s",
            "start -> fresh applied s",
            "commit -> fresh applied ms",
            "whole replay s",
            "replayed",
            "repeats dropped",
        ],
        notes=[
            "The first row is the baseline: the same start with nothing retained. A fresh "
            "event goes out in the relay's own lane while the retained window is replayed, "
            "and the consumer drops the repeats in bulk (one inbox query per fetched batch)."
        ],
    )
    for retained, r in results:
        table.add(
            retained,
            r["ready_s"],
            r["start_to_fresh_s"],
            r["commit_to_fresh_ms"],
            r["replay_s"],
            r["replayed"],
            r["repeats_dropped"],
        )
    report("outbox_replay", "Replay after a broker loss (issue #10)", [table])


if __name__ == "__main__":
    asyncio.run(main())
