"""Members-only events admit users of member parks, as the registry's events describe them
(real Kafka messages from a stand-in registry); every change leaves through the outbox."""

import json
import uuid
from datetime import UTC, date, datetime

import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from innopark_shared.contracts.events import EVENTS_TOPIC, REGISTRATIONS_TOPIC
from innopark_shared.contracts.registry import (
    PARKS_TOPIC,
    RESIDENTS_TOPIC,
    ParkCreatedV1,
    ParkUpdatedV1,
    ResidentAdmittedV1,
    ResidentLeftV1,
)
from innopark_shared.kafka import Envelope, ensure_topics, make_producer
from innopark_shared.settings import ServiceSettings
from innopark_shared.testing import wait_until


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registry_producer(infra):
    settings = ServiceSettings(
        database_url="postgresql://unused/unused",
        service_name="test-registry",
        kafka_bootstrap_servers=infra.bootstrap_servers,
    )
    await ensure_topics(settings, [PARKS_TOPIC, RESIDENTS_TOPIC])
    producer = make_producer(settings)
    await producer.start()

    async def send(event) -> None:
        envelope = Envelope(
            id=str(uuid.uuid4()),
            type=event.event_type,
            source="/innopark/registry",
            time=datetime.now(UTC),
        )
        await producer.send_and_wait(
            event.topic,
            value=event.model_dump_json().encode(),
            key=event.key.encode(),
            headers=envelope.headers(),
        )

    try:
        yield send
    finally:
        await producer.stop()


async def consumed(client) -> int:
    consumer = (await client.get("/readyz")).json()["checks"].get("consumer") or {}
    return (consumer.get("processed") or 0) + (consumer.get("duplicates") or 0)


async def wait_consumed(client, before: int, count: int) -> None:
    async def done() -> bool:
        return await consumed(client) >= before + count

    assert await wait_until(done, timeout=20), "events did not consume the registry events"


def park(park_id: uuid.UUID, membership: str | None, cls=ParkCreatedV1):
    return cls(
        park_id=park_id,
        name=f"Technopark {park_id.hex[:6]}",
        kind="technopark",
        country="RU",
        region="Tatarstan",
        city="Kazan",
        specializations=["it"],
        created_at=datetime.now(UTC),
        membership_status=membership,
    )


def resident(resident_id: uuid.UUID, park_id: uuid.UUID) -> ResidentAdmittedV1:
    return ResidentAdmittedV1(
        resident_id=resident_id, park_id=park_id, name=f"Resident {resident_id.hex[:6]}"
    )


async def test_members_only_admits_users_of_member_parks(
    client, events_service, token_issuer, registry_producer, h
):
    member_park, other_park = uuid.uuid4(), uuid.uuid4()
    member_res, other_res, leaving_res = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    before = await consumed(client)
    for event in (
        park(member_park, "active"),
        park(other_park, None),
        resident(member_res, member_park),
        resident(other_res, other_park),
        resident(leaving_res, member_park),
    ):
        await registry_producer(event)
    await wait_consumed(client, before, 5)

    # A park manager creates an event at their own (now known) park; city comes from it.
    manager = token_issuer.headers("park_manager", park_id=member_park)
    event = await h.published_event(
        client, manager, audience="members", host_park_id=str(member_park), city=None, country=None
    )
    assert event["city"] == "Kazan" and event["country"] == "RU"
    url = f"/api/v1/events/{event['id']}/registrations"

    async def status_for(headers: dict[str, str] | None) -> int:
        return (await client.post(url, json=h.person(), headers=headers or {})).status_code

    assert await status_for(None) == 401
    assert await status_for(token_issuer.headers("partner", partner_id=uuid.uuid4())) == 403
    assert await status_for(token_issuer.headers("expert")) == 403
    assert await status_for(token_issuer.headers("resident", resident_id=other_res)) == 403
    assert await status_for(token_issuer.headers("park_manager", park_id=other_park)) == 403
    assert await status_for(token_issuer.headers("resident", resident_id=uuid.uuid4())) == 403
    assert await status_for(token_issuer.headers("resident", resident_id=member_res)) == 201
    assert await status_for(token_issuer.headers("resident", resident_id=leaving_res)) == 201
    assert await status_for(manager) == 201
    assert await status_for(token_issuer.headers("operator")) == 201

    # A resident who left, and a park whose membership lapsed, no longer qualify.
    before = await consumed(client)
    await registry_producer(
        ResidentLeftV1(resident_id=leaving_res, park_id=member_park, left_on=date.today())
    )
    await registry_producer(park(other_park, "active", ParkUpdatedV1))
    await wait_consumed(client, before, 2)
    assert await status_for(token_issuer.headers("resident", resident_id=leaving_res)) == 403
    assert await status_for(token_issuer.headers("resident", resident_id=other_res)) == 201

    before = await consumed(client)
    await registry_producer(park(member_park, "suspended", ParkUpdatedV1))
    await wait_consumed(client, before, 1)
    assert await status_for(token_issuer.headers("resident", resident_id=member_res)) == 403


async def test_changes_leave_through_the_outbox(client, infra, token_issuer, h):
    operator = token_issuer.headers("operator")
    event = await h.published_event(client, operator, capacity=1)
    url = f"/api/v1/events/{event['id']}/registrations"
    first = (await client.post(url, json=h.person())).json()
    second = (await client.post(url, json=h.person())).json()
    await client.post(
        f"{url}/{first['id']}/cancel", headers={"X-Registration-Token": first["token"]}
    )

    consumer = AIOKafkaConsumer(
        EVENTS_TOPIC,
        REGISTRATIONS_TOPIC,
        bootstrap_servers=infra.bootstrap_servers,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[tuple[str, dict]] = []
    wanted = {
        ("org.innopark.events.event.published.v1", event["id"]),
        ("org.innopark.events.registration.confirmed.v1", first["id"]),
        ("org.innopark.events.registration.waitlisted.v1", second["id"]),
        ("org.innopark.events.registration.cancelled.v1", first["id"]),
        ("org.innopark.events.registration.confirmed.v1", second["id"]),
    }
    try:

        async def all_seen() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    envelope = Envelope.from_headers(record.headers)
                    data = json.loads(record.value)
                    if data.get("event_id") == event["id"]:
                        seen.append((envelope.type, data))
                        assert envelope.source == "/innopark/events"
            got = {(t, d.get("registration_id") or d["event_id"]) for t, d in seen}
            return wanted <= got

        assert await wait_until(all_seen, timeout=20), seen
    finally:
        await consumer.stop()
    promoted = next(
        d
        for t, d in seen
        if t.endswith("registration.confirmed.v1") and d["registration_id"] == second["id"]
    )
    assert promoted["promoted_from_waitlist"] is True
    assert not any("email" in d or "full_name" in d for _, d in seen)  # no personal data
