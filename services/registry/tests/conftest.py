"""The contract tier runs the registry once per test session as a real process (real
PostgreSQL and broker); the unit tier (`unit/`) calls the packages in-process on a
migrated database, each test in a transaction rolled back after it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import pytest_asyncio

# The services below run until the last test of this directory (unit/ included).
HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def service_name():
    return "registry"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def registry(start_service):
    return await start_service("registry", kept_for=HERE)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api(registry):
    async with registry.client() as client:
        yield client


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def park_body(**overrides):
    body = {
        "name": "Technopark " + uuid.uuid4().hex[:6],
        "kind": "technopark",
        "country": "RU",
        "region": "Region " + uuid.uuid4().hex[:6],
        "specializations": ["it"],
    }
    body.update(overrides)
    return body


async def events_for(registry, topic: str, key: str, count: int, timeout: float = 15) -> list:
    """The first `count` CloudEvents with message key `key` on `topic`: (type, data) pairs."""
    import asyncio
    import json

    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        bootstrap_servers=registry.env["KAFKA_BOOTSTRAP_SERVERS"],
    )
    await consumer.start()
    seen: list[tuple[str, dict]] = []
    try:

        async def collect() -> None:
            while len(seen) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    seen.extend(
                        (dict(r.headers)["ce_type"].decode(), json.loads(r.value))
                        for r in records
                        if r.key == key.encode()
                    )

        await asyncio.wait_for(collect(), timeout=timeout)
    finally:
        await consumer.stop()
    return seen
