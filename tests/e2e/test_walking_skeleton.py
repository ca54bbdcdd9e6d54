"""The walking skeleton end to end: through the gateway, to services running as their own
processes, over a real PostgreSQL and a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from innopark_shared.contracts import PARKS_TOPIC
from innopark_shared.kafka import Envelope
from innopark_shared.testing import PLATFORM_ADMIN_EMAIL, tamper, wait_until

PARK = {
    "name": "Technopolis Himgrad",
    "kind": "technopolis",
    "country": "RU",
    "region": "Tatarstan",
    "specializations": ["oil-field chemistry", "polymers"],
}


def _problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status
    return body


async def test_all_five_processes_are_healthy_and_listed(platform):
    async with platform.client() as c:
        r = await c.get("/health")
    assert r.status_code == 200, r.text
    upstreams = r.json()["upstreams"]
    assert set(upstreams) == {"registry", "orders", "accreditation", "events"}
    assert all(u["status"] == "ok" for u in upstreams.values()), upstreams
    assert "Innopark is up" in platform.log()


async def test_operator_creates_park_and_every_consumer_sees_it(platform):
    headers = await platform.auth()
    async with platform.client() as c:
        created = await c.post("/api/v1/parks", json=PARK, headers=headers)
        assert created.status_code == 201, created.text
        park = created.json()
        assert created.headers["location"] == f"/api/v1/parks/{park['id']}"
        assert created.headers["etag"]
        started = time.monotonic()

        read = await c.get(f"/api/v1/parks/{park['id']}")
        assert read.status_code == 200
        assert read.json()["name"] == PARK["name"] and read.json()["kind"] == "technopolis"

        async def accreditation_knows() -> bool:
            r = await c.get(f"/api/v1/accreditation/parks/{park['id']}")
            return r.status_code == 200

        assert await wait_until(accreditation_knows, timeout=1.0, interval=0.02), (
            "park did not reach accreditation within a second"
        )
        assert time.monotonic() - started < 1.5
        state = (await c.get(f"/api/v1/accreditation/parks/{park['id']}")).json()
        assert state["status"] == "not_accredited" and state["park_name"] == PARK["name"]

    # Orders and events consume the same event into their own read models.
    for service in ("orders", "events", "accreditation"):

        async def consumed(service=service) -> bool:
            async with httpx.AsyncClient() as raw:
                ready = (await raw.get(f"{platform.service_url(service)}/readyz")).json()
            return ready["checks"]["consumer"]["processed"] >= 1

        assert await wait_until(consumed, timeout=5), service


async def test_writes_without_or_with_a_tampered_token_are_401(platform):
    token = await platform.token()
    async with platform.client() as c:
        _problem(await c.post("/api/v1/parks", json=PARK), 401)
        _problem(
            await c.post(
                "/api/v1/parks", json=PARK, headers={"Authorization": f"Bearer {tamper(token)}"}
            ),
            401,
        )
        _problem(
            await c.post("/api/v1/parks", json=PARK, headers={"Authorization": "Bearer not-a-jwt"}),
            401,
        )
        _problem(await c.post("/api/v1/users", json={}), 401)


async def test_a_resident_user_cannot_create_a_park(platform):
    operator = await platform.auth()
    async with platform.client() as c:
        park = await c.post("/api/v1/parks", headers=operator, json=PARK)
        assert park.status_code == 201, park.text
        r = await c.post(
            f"/api/v1/parks/{park.json()['id']}/residents",
            headers=operator,
            json={"name": "PolyForm", "technologies": ["polymers"]},
        )
        assert r.status_code == 201, r.text
    # A binding must exist: the gateway learns the resident from the registry's events
    # (create_user waits for that).
    _, resident = await platform.create_user(operator, "resident", resident_id=r.json()["id"])
    async with platform.client() as c:
        _problem(await c.post("/api/v1/parks", json=PARK, headers=resident), 403)


async def test_bad_input_is_a_422_problem_naming_the_field_never_a_500(platform):
    operator = await platform.auth()
    async with platform.client() as c:
        body = _problem(
            await c.post("/api/v1/parks", headers=operator, json={**PARK, "kind": "spaceport"}), 422
        )
        assert [e["field"] for e in body["errors"]] == ["kind"]
        body = _problem(
            await c.post(
                "/api/v1/parks",
                headers=operator,
                json={k: v for k, v in PARK.items() if k != "region"},
            ),
            422,
        )
        assert "region" in {e["field"] for e in body["errors"]}
        _problem(
            await c.post(
                "/api/v1/parks",
                headers={**operator, "content-type": "application/json"},
                content=b'{"name": "unterminated',
            ),
            422,
        )
        _problem(await c.get("/api/v1/parks/not-a-uuid"), 422)
        _problem(await c.get(f"/api/v1/parks/{uuid.uuid4()}"), 404)
        _problem(await c.get("/api/v1/nothing-here"), 404)
        _problem(
            await c.post(
                "/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": PLATFORM_ADMIN_EMAIL,
                    "password": "wrong",
                },
            ),
            400,
        )


async def test_killed_consumer_is_restarted_and_loses_nothing_and_redelivery_is_harmless(platform):
    operator = await platform.auth()
    old_pid = platform.pid_of("accreditation")
    os.kill(old_pid, signal.SIGKILL)

    async with platform.client() as c:
        created = await c.post(
            "/api/v1/parks",
            json={**PARK, "name": "Technopolis Gousev", "region": "Kaliningrad"},
            headers=operator,
        )
        assert created.status_code == 201, created.text
        park_id = created.json()["id"]

        async def restarted() -> bool:
            try:
                return platform.pid_of("accreditation") != old_pid
            except (FileNotFoundError, ValueError):
                return False

        assert await wait_until(restarted, timeout=20)

        async def arrived() -> bool:
            try:
                r = await c.get(f"/api/v1/accreditation/parks/{park_id}")
            except httpx.HTTPError:
                return False
            return r.status_code == 200

        assert await wait_until(arrived, timeout=30), platform.log()[-3000:]
        before = (await c.get(f"/api/v1/accreditation/parks/{park_id}")).json()
    assert "accreditation | exited with -9; restarting" in platform.log()

    # Redeliver the very same message (same CloudEvents id) to the broker.
    record = await _find_park_created(platform.broker, park_id)
    producer = AIOKafkaProducer(bootstrap_servers=platform.broker, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=list(record.headers)
        )
    finally:
        await producer.stop()

    async def duplicate_seen() -> bool:
        async with httpx.AsyncClient() as raw:
            ready = (await raw.get(f"{platform.service_url('accreditation')}/readyz")).json()
        return ready["checks"]["consumer"]["duplicates"] >= 1

    assert await wait_until(duplicate_seen, timeout=10)
    async with platform.client() as c:
        after = (await c.get(f"/api/v1/accreditation/parks/{park_id}")).json()
    assert after == before


async def _find_park_created(bootstrap: str, park_id: str):
    consumer = AIOKafkaConsumer(
        PARKS_TOPIC,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"probe-{uuid.uuid4().hex}",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    if record.key == park_id.encode():
                        assert Envelope.from_headers(record.headers).type.endswith(
                            "park.created.v1"
                        )
                        return record
    finally:
        await consumer.stop()
    raise AssertionError(f"no ParkCreated for {park_id} on {PARKS_TOPIC}")
