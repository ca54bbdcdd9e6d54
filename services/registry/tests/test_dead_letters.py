"""A poison message reaching the registry is recorded in its own schema with its error,
later messages are applied, and the operator command lists, replays and discards it."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from innopark_shared.contracts.accreditation import CERTIFICATES_TOPIC, CertificateGrantedV1
from innopark_shared.kafka import Envelope
from innopark_shared.testing import wait_until


async def _cli(registry, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "innopark_registry",
        "dead-letters",
        *args,
        env=registry.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode()


async def test_poison_is_recorded_listed_replayable_and_discardable(registry, infra):
    poison_id = str(uuid.uuid4())
    envelope = Envelope(
        id=poison_id, type=CertificateGrantedV1.event_type, source="/test", time=datetime.now(UTC)
    )
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            CERTIFICATES_TOPIC, b'{"certificate_id": 7', key=b"poison", headers=envelope.headers()
        )
        # No CloudEvents headers at all, on the same partition: recorded too.
        await producer.send_and_wait(CERTIFICATES_TOPIC, b"{}", key=b"poison", headers=[])
    finally:
        await producer.stop()

    listed: list[dict] = []

    async def recorded() -> bool:
        code, out = await _cli(registry, "list")
        listed[:] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return code == 0 and any(item["event_id"] == poison_id for item in listed)

    assert await wait_until(recorded, timeout=60, interval=1.0), listed
    (mine,) = [item for item in listed if item["event_id"] == poison_id]
    assert mine["topic"] == CERTIFICATES_TOPIC and mine["error"].startswith("invalid payload")

    async def headerless_recorded() -> bool:
        code, out = await _cli(registry, "list")
        return '"bad envelope: not a CloudEvent: missing ce_id, ce_type, ce_source' in out

    assert await wait_until(headerless_recorded, timeout=60, interval=1.0)

    # Still malformed: a replay fails, says why, and leaves it pending.
    code, out = await _cli(registry, "replay", mine["id"])
    assert code == 1 and '"failed"' in out, out
    code, out = await _cli(registry, "discard", mine["id"])
    assert code == 0 and "discarded 1" in out, out
    code, out = await _cli(registry, "list")
    assert poison_id not in out

    # The registry kept consuming: /readyz counts the dead letter, the consumer is up.
    async with registry.client() as client:
        ready = (await client.get("/readyz")).json()
    assert ready["checks"]["consumer"]["dead_lettered"] >= 1
