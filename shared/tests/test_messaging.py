"""Outbox relay and consumer runner against a real PostgreSQL and a real broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from innopark_shared.consumer import (
    ConsumerRunner,
    HandlerContext,
    Subscriptions,
    dead_letter_topic,
)
from innopark_shared.contracts import IntegrationEvent
from innopark_shared.db import Database, outbox_notify_trigger_sql, service_metadata
from innopark_shared.devrun.embedded import EmbeddedBroker, free_port
from innopark_shared.kafka import BrokerMemory, Envelope, ensure_topics, make_producer
from innopark_shared.outbox import OutboxRelay, add_event
from innopark_shared.settings import ServiceSettings
from innopark_shared.testing import wait_until

TOPIC = "innopark.test.things"


class ThingHappenedV1(IntegrationEvent):
    event_type = "org.innopark.test.thing.happened.v1"
    topic = TOPIC
    key_field = "thing_id"

    thing_id: uuid.UUID
    name: str


async def _service_db(infra, schema: str) -> tuple[Database, sa.MetaData, sa.Table]:
    url = (await infra.create_database("msg")).replace("postgresql://", "postgresql+asyncpg://")
    metadata = service_metadata(schema)
    things = sa.Table(
        "things",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
    )
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
        for statement in outbox_notify_trigger_sql(schema):
            await conn.execute(sa.text(statement))
    return db, metadata, things


def _settings(db: Database, bootstrap: str, **kw) -> ServiceSettings:
    return ServiceSettings(
        service_name=kw.pop("service_name", f"svc-{uuid.uuid4().hex[:6]}"),
        database_url=db.url,
        kafka_bootstrap_servers=bootstrap,
        **kw,
    )


async def _consume(bootstrap: str, topic: str, count: int | None, timeout: float = 15.0):
    """Read `topic` from the beginning of every partition (no consumer group, so no
    rebalance delays), until `count` records or the timeout; with `count=None`, every
    record up to the end offsets (a topic holding repeats has more than the ids)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        partitions = None
        while not partitions and loop.time() < deadline:
            await consumer.topics()  # refreshes the cluster metadata
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await asyncio.sleep(0.2)
        assert partitions, f"topic {topic} does not exist"
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(assigned) if count is None else {}

        async def done() -> bool:
            if count is not None:
                return len(records) >= count
            return all([await consumer.position(tp) >= end for tp, end in ends.items()])

        while not await done() and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for rs in batch.values():
                records.extend(rs)
    finally:
        await consumer.stop()
    return records


async def _write_event(db: Database, metadata: sa.MetaData, name: str) -> uuid.UUID:
    async with db.transaction() as session:
        return await add_event(
            session, metadata, ThingHappenedV1(thing_id=uuid.uuid4(), name=name), source="/test"
        )


async def test_relay_is_woken_by_notify_not_by_its_poll(infra):
    db, metadata, _ = await _service_db(infra, "relay_notify")
    topic_name = f"{TOPIC}.notify.{uuid.uuid4().hex[:6]}"
    # A one-off event class would pollute the catalogue; publish to a per-test topic instead.
    settings = _settings(db, infra.bootstrap_servers, outbox_poll_interval_seconds=60)
    relay = OutboxRelay(settings=settings, database=db, metadata=metadata, topics=[topic_name])
    relay.start()
    try:
        assert await wait_until(lambda: _truthy(relay.producer), timeout=10)
        await asyncio.sleep(0.5)  # let the relay reach its (60 s) sleep
        async with db.transaction() as session:
            await session.execute(
                sa.insert(metadata.tables["relay_notify.outbox"]).values(
                    id=uuid.uuid4(),
                    topic=topic_name,
                    key="k",
                    type=ThingHappenedV1.event_type,
                    source="/test",
                    time=datetime.now(UTC),
                    data={"thing_id": str(uuid.uuid4()), "name": "n"},
                )
            )
        started = asyncio.get_running_loop().time()
        assert await wait_until(lambda: _published(relay, 1), timeout=5)
        assert asyncio.get_running_loop().time() - started < 3, "relay waited for its poll"
        records = await _consume(infra.bootstrap_servers, topic_name, 1)
        assert len(records) == 1
        envelope = Envelope.from_headers(records[0].headers)
        assert envelope.type == ThingHappenedV1.event_type and envelope.source == "/test"
        assert records[0].key == b"k"
    finally:
        await relay.stop()
        await db.dispose()


async def _truthy(value) -> bool:
    return bool(value)


async def _published(relay: OutboxRelay, n: int) -> bool:
    return relay.published >= n


async def test_relay_survives_a_broker_outage_and_loses_nothing(infra):
    db, metadata, _ = await _service_db(infra, "relay_outage")
    port = free_port()
    broker = EmbeddedBroker(port=port)
    await broker.start()
    settings = _settings(db, broker.bootstrap_servers, outbox_poll_interval_seconds=0.5)
    relay = OutboxRelay(settings=settings, database=db, metadata=metadata, topics=[TOPIC])
    relay.start()
    try:
        first = await _write_event(db, metadata, "before")
        assert await wait_until(lambda: _published(relay, 1), timeout=10)

        await broker.stop()
        during = [await _write_event(db, metadata, f"during-{i}") for i in range(5)]
        await asyncio.sleep(2)
        assert await relay.pending() == 5  # committed, waiting, not dropped

        broker = EmbeddedBroker(port=port)  # a fresh in-memory broker on the same address
        await broker.start()
        assert await wait_until(lambda: _pending_is(relay, 0), timeout=30)
        # The new broker has no memory of `first`, which the old one acknowledged: the
        # relay notices on its own and replays the retained window.
        assert await wait_until(lambda: _true(relay.broker_resets == 1), timeout=30)
        expected = {str(i) for i in [first, *during]}
        ids: set[str] = set()

        async def all_there() -> bool:  # the 5 published to the new broker, then the replay
            records = await _consume(broker.bootstrap_servers, TOPIC, None, timeout=5)
            ids.update(Envelope.from_headers(r.headers).id for r in records)
            return ids == expected

        # nothing lost
        assert await wait_until(all_there, timeout=45, interval=0.5), (
            f"missing {expected - ids} (first: {first}), replayed {relay.replayed}"
        )
        # Counted once the replay lane has finished its window (it may trail the records).
        assert await wait_until(lambda: _true(relay.replayed >= 1), timeout=30)
    finally:
        await relay.stop()
        await broker.stop()
        await db.dispose()


async def test_every_owner_notices_a_broker_that_forgot_whatever_the_order(infra):
    """Relays and consumer groups share the markers topic, several owners to a partition.
    After the broker comes back empty, the first to check writes a new marker; an owner
    checking later must still tell that its own marker is gone, not take the newcomer's
    record at its offset for its own."""
    port = free_port()
    broker = EmbeddedBroker(port=port)
    await broker.start()
    owners = [f"owner-{i}" for i in range(8)]  # 8 owners on 3 partitions: they share
    settings = ServiceSettings(
        service_name="memory-test",
        database_url="postgresql://unused/x",
        kafka_bootstrap_servers=broker.bootstrap_servers,
    )
    producer = make_producer(settings)
    memories = [BrokerMemory(settings, owner) for owner in owners]
    try:
        await producer.start()
        for memory in memories:
            await memory.start()
            assert await memory.forgot(producer) is None  # writes its first marker
        assert [await m.forgot(producer) for m in memories] == [None] * len(memories)

        await broker.stop()
        broker = EmbeddedBroker(port=port)  # empty, on the same address
        await broker.start()
        forgot = {}
        for memory in reversed(memories):  # the latest writers check first

            async def answered(memory: BrokerMemory = memory) -> bool:
                try:
                    forgot[memory.owner] = await memory.forgot(producer)
                    return True
                except Exception:  # the clients are still reconnecting
                    return False

            assert await wait_until(answered, timeout=30, interval=0.5)
        assert all(forgot.values()), f"not noticed by {[o for o, w in forgot.items() if not w]}"
        # and the new markers hold: nobody forgot twice
        assert [await m.forgot(producer) for m in memories] == [None] * len(memories)
    finally:
        for memory in memories:
            await memory.stop()
        await producer.stop()
        await broker.stop()


async def _true(value: bool) -> bool:
    return value


async def _pending_is(relay: OutboxRelay, n: int) -> bool:
    return await relay.pending() == n


async def test_replay_on_start_republishes_retained_events(infra):
    db, metadata, _ = await _service_db(infra, "relay_replay")
    topic = TOPIC  # same topic, but a dedicated broker so counts are exact
    broker = EmbeddedBroker(port=free_port())
    await broker.start()
    try:
        ids = [await _write_event(db, metadata, f"r{i}") for i in range(3)]
        settings = _settings(db, broker.bootstrap_servers)
        relay = OutboxRelay(settings=settings, database=db, metadata=metadata, topics=[topic])
        relay.start()
        assert await wait_until(lambda: _pending_is(relay, 0), timeout=10)
        await relay.stop()

        replaying = OutboxRelay(
            settings=settings.model_copy(update={"outbox_replay_on_start": True}),
            database=db,
            metadata=metadata,
            topics=[topic],
        )
        replaying.start()
        assert await wait_until(lambda: _true(replaying.replayed == 3), timeout=10)
        await replaying.stop()
        records = await _consume(broker.bootstrap_servers, topic, 6)
        assert sorted(Envelope.from_headers(r.headers).id for r in records) == sorted(
            [str(i) for i in ids] * 2
        )
    finally:
        await broker.stop()
        await db.dispose()


async def test_consumer_dedups_retries_then_dead_letters_without_blocking(infra):
    db, metadata, things = await _service_db(infra, "consumer_t")
    settings = _settings(
        db, infra.bootstrap_servers, consumer_max_retries=2, consumer_retry_backoff_seconds=0.01
    )
    attempts: dict[str, int] = {}
    subscriptions = Subscriptions()

    @subscriptions.on(ThingHappenedV1)
    async def on_thing(event: ThingHappenedV1, ctx: HandlerContext) -> None:
        attempts[event.name] = attempts.get(event.name, 0) + 1
        if event.name == "boom":
            raise RuntimeError("handler bug")
        await ctx.session.execute(sa.insert(things).values(id=event.thing_id, name=event.name))

    await ensure_topics(settings, [TOPIC])
    producer = make_producer(settings)
    await producer.start()
    key = uuid.uuid4().hex.encode()  # one key: one partition, so order is the send order

    async def send(name: str, *, event_id: str | None = None, value: bytes | None = None) -> str:
        event_id = event_id or str(uuid.uuid4())
        env = Envelope(
            id=event_id, type=ThingHappenedV1.event_type, source="/test", time=datetime.now(UTC)
        )
        body = (
            value
            if value is not None
            else json.dumps({"thing_id": str(uuid.uuid4()), "name": name}).encode()
        )
        await producer.send_and_wait(TOPIC, body, key=key, headers=env.headers())
        return event_id

    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
    )
    runner.start()
    try:
        dup = await send("first")
        await send("first", event_id=dup)  # redelivery of the same event
        await send("poison", value=b'{"name": 42}')
        await send("boom")
        await send("last")

        async def names() -> list[str]:
            async with db.transaction() as s:
                return sorted((await s.execute(sa.select(things.c.name))).scalars())

        async def done() -> bool:
            return await names() == ["first", "last"]

        assert await wait_until(done, timeout=20), await names()
        assert runner.duplicates == 1
        assert attempts["first"] == 1
        assert attempts["boom"] == 3  # first try + 2 retries
        assert runner.dead_lettered == 2

        dlt = await _consume(
            infra.bootstrap_servers, dead_letter_topic(TOPIC, settings.service_name), 2
        )
        errors = sorted(dict(r.headers)["x-dlt-error"].decode() for r in dlt)
        assert errors[0].startswith("RuntimeError: handler bug")
        assert errors[1].startswith("invalid payload")
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()


@pytest.mark.parametrize("bad", [b"", b"[]"])
async def test_consumer_dead_letters_payloads_that_are_not_objects(infra, bad):
    db, metadata, _ = await _service_db(infra, f"consumer_bad_{len(bad)}")
    settings = _settings(db, infra.bootstrap_servers)
    subscriptions = Subscriptions()

    @subscriptions.on(ThingHappenedV1)
    async def on_thing(event, ctx):  # pragma: no cover - never reached
        raise AssertionError("must not be called")

    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
    )
    runner.start()
    producer = make_producer(settings)
    await producer.start()
    try:
        env = Envelope(
            id=str(uuid.uuid4()), type=ThingHappenedV1.event_type, source="/t", time=None
        )
        await producer.send_and_wait(TOPIC, bad, key=b"x", headers=env.headers())

        # Other tests' records share the topic (this runner's new group reads them too):
        # look for this one in the dead-letter topic.
        dlt_topic = dead_letter_topic(TOPIC, settings.service_name)
        mine: list = []

        async def dead() -> bool:
            if runner.dead_lettered == 0:
                return False
            records = await _consume(infra.bootstrap_servers, dlt_topic, 10_000, timeout=1.0)
            mine[:] = [r for r in records if Envelope.from_headers(r.headers).id == env.id]
            return bool(mine)

        assert await wait_until(dead, timeout=30)
        # The topic is at least once (a producer retry under load can write a record
        # twice); the service's own record of it is exactly one row.
        assert all(r.value == bad for r in mine)
        assert dict(mine[0].headers)["x-dlt-error"].startswith(b"invalid payload")
        from innopark_shared.deadletters import list_dead_letters

        recorded = [r for r in await list_dead_letters(db, metadata) if r.event_id == env.id]
        assert len(recorded) == 1 and recorded[0].payload == bad
        assert recorded[0].error.startswith("invalid payload")
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()


async def test_fresh_events_do_not_wait_behind_a_replay(infra):
    """A broker that forgot 5,000 retained events: they are replayed, but an event written
    meanwhile goes out at once, long before the replay ends."""
    db, metadata, _ = await _service_db(infra, "relay_lane")
    table = metadata.tables["relay_lane.outbox"]
    broker = EmbeddedBroker(port=free_port())
    await broker.start()
    retained = 5_000
    async with db.transaction() as session:
        await session.execute(
            sa.insert(table),
            [
                {
                    "id": uuid.uuid4(),
                    "topic": TOPIC,
                    "key": str(i),
                    "type": ThingHappenedV1.event_type,
                    "source": "/test",
                    "time": datetime.now(UTC),
                    "data": {"thing_id": str(uuid.uuid4()), "name": f"old-{i}"},
                    "published_at": datetime.now(UTC),
                }
                for i in range(retained)
            ],
        )
    settings = _settings(db, broker.bootstrap_servers, outbox_replay_on_start=True)
    relay = OutboxRelay(settings=settings, database=db, metadata=metadata, topics=[TOPIC])
    relay.start()
    try:
        assert await wait_until(lambda: _true(relay.replayed > 0), timeout=20)
        fresh = await _write_event(db, metadata, "fresh")
        assert await wait_until(lambda: _pending_is(relay, 0), timeout=20)
        replayed_when_fresh_went_out = relay.replayed
        assert replayed_when_fresh_went_out < retained, "the fresh event waited for the replay"
        assert await wait_until(lambda: _true(relay.replayed == retained), timeout=120)
        records = await _consume(broker.bootstrap_servers, TOPIC, retained + 1, timeout=60)
        assert str(fresh) in {Envelope.from_headers(r.headers).id for r in records}
        assert len(records) == retained + 1
    finally:
        await relay.stop()
        await broker.stop()
        await db.dispose()
