"""Consumers wait out outages instead of dead-lettering, and skip nothing silently."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from innopark_shared.consumer import ConsumerRunner, HandlerContext, Subscriptions
from innopark_shared.contracts import IntegrationEvent
from innopark_shared.db import Database, service_metadata
from innopark_shared.devrun.embedded import EmbeddedPostgres, free_port
from innopark_shared.kafka import Envelope, ensure_topics, make_producer
from innopark_shared.settings import ServiceSettings
from innopark_shared.testing import wait_until
from innopark_shared.tracing import configure_tracing
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

TOPIC = "innopark.test.faults"


class ThingHappenedV1(IntegrationEvent):
    event_type = "org.innopark.test.fault.happened.v1"
    topic = TOPIC
    key_field = "thing_id"

    thing_id: uuid.UUID
    name: str


async def _things_db(url: str, schema: str) -> tuple[Database, sa.MetaData, sa.Table]:
    metadata = service_metadata(schema)
    things = sa.Table(
        "things",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
    )
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.run_sync(metadata.create_all)
    return db, metadata, things


async def _consumer_world(
    infra, name: str, **settings
) -> tuple[Database, sa.MetaData, sa.Table, ServiceSettings]:
    """A database of its own with a things table, and the settings of a consumer (a new
    group each time) of the test broker."""
    url = (await infra.create_database(name)).replace("postgresql://", "postgresql+asyncpg://")
    db, metadata, things = await _things_db(url, f"{name}_t")
    return (
        db,
        metadata,
        things,
        ServiceSettings(
            service_name=f"{name}-{uuid.uuid4().hex[:6]}",
            database_url=url,
            kafka_bootstrap_servers=infra.bootstrap_servers,
            **settings,
        ),
    )


def _thing(name: str, event_type: str = ThingHappenedV1.event_type) -> tuple[bytes, list]:
    envelope = Envelope(id=str(uuid.uuid4()), type=event_type, source="/t", time=datetime.now(UTC))
    body = json.dumps({"thing_id": str(uuid.uuid4()), "name": name}).encode()
    return body, envelope.headers()


async def test_database_killed_mid_stream_loses_nothing_and_dead_letters_nothing(infra):
    workdir = Path(tempfile.mkdtemp(prefix="innopark-consumer-outage-"))
    postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
    await postgres.start()
    url = postgres.admin_url.replace("postgresql://", "postgresql+asyncpg://")
    db, metadata, things = await _things_db(url, "outage_t")
    settings = ServiceSettings(
        service_name=f"outage-{uuid.uuid4().hex[:6]}",
        database_url=url,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        consumer_max_retries=2,
        consumer_retry_backoff_seconds=0.01,
    )
    subscriptions = Subscriptions()
    prefix = uuid.uuid4().hex[:8]

    @subscriptions.on(ThingHappenedV1)
    async def on_thing(event: ThingHappenedV1, ctx: HandlerContext) -> None:
        if event.name.startswith(prefix):
            await ctx.session.execute(sa.insert(things).values(id=event.thing_id, name=event.name))

    await ensure_topics(settings, [TOPIC])
    producer = make_producer(settings)
    await producer.start()
    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
    )
    runner.start()

    async def applied() -> list[str]:
        async with db.transaction() as s:
            return sorted(
                (await s.execute(sa.select(things.c.name).where(things.c.name.like(f"{prefix}%"))))
                .scalars()
                .all()
            )

    names = [f"{prefix}-{i:02d}" for i in range(30)]
    try:
        for name in names[:10]:
            body, headers = _thing(name)
            await producer.send_and_wait(TOPIC, body, key=name.encode(), headers=headers)
        assert await wait_until(lambda: _count_is(applied, 10), timeout=30)

        os.kill(postgres.proc.pid, signal.SIGKILL)  # the database dies mid-stream
        await postgres.proc.wait()
        for name in names[10:]:
            body, headers = _thing(name)
            await producer.send_and_wait(TOPIC, body, key=name.encode(), headers=headers)
        assert await wait_until(lambda: _true(runner.waiting_out_outage), timeout=15)
        await asyncio.sleep(6)  # well past the bounded retries that would dead-letter
        await postgres.start()  # the same data comes back

        assert await wait_until(lambda: _count_is(applied, 30), timeout=60), await applied()
        assert await applied() == names  # each exactly once
        assert runner.dead_lettered == 0
        assert not runner.waiting_out_outage
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()
        await postgres.stop()


async def test_unknown_versions_are_counted_and_the_next_message_applied(infra):
    db, metadata, things, settings = await _consumer_world(infra, "unknown")
    subscriptions = Subscriptions()
    prefix = uuid.uuid4().hex[:8]

    @subscriptions.on(ThingHappenedV1)
    async def on_thing(event: ThingHappenedV1, ctx: HandlerContext) -> None:
        if event.name.startswith(prefix):
            await ctx.session.execute(sa.insert(things).values(id=event.thing_id, name=event.name))

    await ensure_topics(settings, [TOPIC])
    producer = make_producer(settings)
    await producer.start()
    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
    )
    runner.start()
    newer = ThingHappenedV1.event_type.replace(".v1", ".v2")
    try:
        key = prefix.encode()  # one partition: the valid message comes after the unknown ones
        for _ in range(3):
            body, headers = _thing(f"{prefix}-v2", newer)
            await producer.send_and_wait(TOPIC, body, key=key, headers=headers)
        body, headers = _thing(f"{prefix}-after")
        await producer.send_and_wait(TOPIC, body, key=key, headers=headers)

        async def after_applied() -> bool:
            async with db.transaction() as s:
                names = (await s.execute(sa.select(things.c.name))).scalars().all()
            return f"{prefix}-after" in names

        assert await wait_until(after_applied, timeout=30)
        assert runner.unknown_types.get(newer) == 3
        assert runner.dead_lettered == 0
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()


async def _count_is(applied, n: int) -> bool:
    return len(await applied()) == n


async def _send_together(
    producer, topic: str, records: list[tuple[bytes, list]], *, partition: int = 0
) -> None:
    """One record batch, as the relay sends a burst: a fetch returns a batch whole."""
    batch = producer.create_batch()
    for body, headers in records:
        assert batch.append(key=None, value=body, timestamp=None, headers=headers)
    await (await producer.send_batch(batch, topic, partition=partition))


def _names_like(db: Database, things: sa.Table, prefix: str):
    """`await names()`: the names of the things applied so far that start with `prefix`."""

    async def names() -> list[str]:
        async with db.transaction() as s:
            rows = await s.scalars(sa.select(things.c.name).where(things.c.name.like(f"{prefix}%")))
            return sorted(rows)

    return names


async def _true(value: bool) -> bool:
    return value


async def test_dead_letters_are_recorded_and_replayed_once_the_cause_is_fixed(infra):
    from innopark_shared.deadletters import (
        discard_dead_letters,
        list_dead_letters,
        replay_dead_letters,
    )

    db, metadata, things, settings = await _consumer_world(
        infra, "dead", consumer_max_retries=1, consumer_retry_backoff_seconds=0.01
    )
    subscriptions = Subscriptions()
    prefix = uuid.uuid4().hex[:8]
    fixed = False

    @subscriptions.on(ThingHappenedV1)
    async def on_thing(event: ThingHappenedV1, ctx: HandlerContext) -> None:
        if not event.name.startswith(prefix):
            return
        if event.name.endswith("-poison") and not fixed:
            raise RuntimeError("cannot apply this one yet")
        await ctx.session.execute(sa.insert(things).values(id=event.thing_id, name=event.name))

    await ensure_topics(settings, [TOPIC])
    producer = make_producer(settings)
    await producer.start()
    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
    )
    runner.start()
    key = prefix.encode()
    try:
        for name in ("poison", "after"):
            body, headers = _thing(f"{prefix}-{name}")
            await producer.send_and_wait(TOPIC, body, key=key, headers=headers)
        await producer.send_and_wait(TOPIC, b"{not json", key=key, headers=_thing("x")[1])

        async def names() -> list[str]:
            async with db.transaction() as s:
                return sorted((await s.execute(sa.select(things.c.name))).scalars())

        async def two_dead() -> bool:
            return len(await list_dead_letters(db, metadata)) == 2

        assert await wait_until(two_dead, timeout=30)
        assert await names() == [f"{prefix}-after"]  # the message after the poison applied
        letters = {row.error.split(":")[0]: row for row in await list_dead_letters(db, metadata)}
        poison, garbage = letters["RuntimeError"], letters["invalid payload"]
        assert poison.topic == TOPIC and poison.attempts == 2  # first try + one retry
        assert poison.event_type == ThingHappenedV1.event_type and poison.offset >= 0
        assert poison.key == prefix and poison.first_failed_at <= poison.last_failed_at
        assert garbage.payload == b"{not json"
        assert runner.dead_letters_by_topic.get(TOPIC, 0) >= 2

        fixed = True  # the cause is fixed; the operator replays
        outcomes = {
            o.id: o.result
            for o in await replay_dead_letters(
                db, metadata, subscriptions, ids=[poison.id, garbage.id]
            )
        }
        assert outcomes == {poison.id: "applied", garbage.id: "failed"}
        assert await names() == sorted([f"{prefix}-after", f"{prefix}-poison"])
        again = await replay_dead_letters(db, metadata, subscriptions, ids=[poison.id])
        assert again == []  # replayed letters are no longer pending: applied once
        assert await discard_dead_letters(db, metadata, ids=None) == 1
        assert await list_dead_letters(db, metadata) == []
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()


async def test_a_broker_that_comes_back_empty_is_read_from_the_start(infra):
    """After the broker restarts empty, its offsets start again from zero while the
    consumer's position points into the old log: without noticing, it would skip the
    first records the new broker gets."""
    from innopark_shared.devrun.embedded import EmbeddedBroker

    url = (await infra.create_database("reset")).replace("postgresql://", "postgresql+asyncpg://")
    db, metadata, things = await _things_db(url, "reset_t")
    port = free_port()
    broker = EmbeddedBroker(port=port)
    await broker.start()
    settings = ServiceSettings(
        service_name=f"reset-{uuid.uuid4().hex[:6]}",
        database_url=url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_topic_partitions=1,
    )
    subscriptions = Subscriptions()

    @subscriptions.on(ThingHappenedV1)
    async def on_thing(event: ThingHappenedV1, ctx: HandlerContext) -> None:
        await ctx.session.execute(sa.insert(things).values(id=event.thing_id, name=event.name))

    async def applied() -> int:
        async with db.transaction() as s:
            return len((await s.execute(sa.select(things.c.id))).all())

    async def send(names: list[str]) -> None:
        await ensure_topics(settings, [TOPIC])
        producer = make_producer(settings)
        await producer.start()
        try:
            for name in names:
                body, headers = _thing(name)
                await producer.send_and_wait(TOPIC, body, key=b"k", headers=headers)
        finally:
            await producer.stop()

    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
    )
    runner.start()
    try:
        await send([f"old-{i}" for i in range(5)])
        assert await wait_until(lambda: _count_is_n(applied, 5), timeout=30)
        await broker.stop()
        broker = EmbeddedBroker(port=port)  # the same address, empty
        await broker.start()
        await send([f"new-{i}" for i in range(8)])  # offsets 0..7: the old position was 5
        assert await wait_until(lambda: _count_is_n(applied, 13), timeout=60), await applied()
        assert runner.broker_resets == 1
    finally:
        await runner.stop()
        await broker.stop()
        await db.dispose()


async def _count_is_n(count, n: int) -> bool:
    return await count() == n


async def test_the_inbox_forgets_only_ids_past_retention(infra):
    """Applied ids are kept as long as a replay could bring their event back (the inbox
    retention), and no longer: the inbox does not grow with all history."""
    url = (await infra.create_database("prune")).replace("postgresql://", "postgresql+asyncpg://")
    db, metadata, _ = await _things_db(url, "prune_t")
    settings = ServiceSettings(
        service_name="prune", database_url=url, outbox_retention_hours=12, inbox_retention_hours=24
    )
    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=Subscriptions()
    )
    inbox = runner.inbox
    now = datetime.now(UTC)
    ages = {"fresh": 0, "a day less an hour": 23, "a day and an hour": 25, "a month": 720}
    try:
        async with db.transaction() as s:
            await s.execute(
                sa.insert(inbox),
                [
                    {
                        "event_id": name,
                        "type": ThingHappenedV1.event_type,
                        "source": "/t",
                        "processed_at": now - timedelta(hours=hours),
                    }
                    for name, hours in ages.items()
                ],
            )
        assert await runner.prune_inbox() == 2
        async with db.transaction() as s:
            kept = set((await s.scalars(sa.select(inbox.c.event_id))).all())
        assert kept == {"fresh", "a day less an hour"}
        assert await runner.prune_inbox() == 0
    finally:
        await db.dispose()


async def test_a_fetched_batch_is_applied_together_and_a_poison_in_it_costs_nothing_twice(infra):
    """Records fetched together are applied in one transaction (inbox rows included); a
    record in the middle that fails rolls that transaction back whole, and the careful
    path then applies the others one by one: each exactly once, the poison dead-lettered,
    a repeated event id applied once."""
    db, metadata, things, settings = await _consumer_world(
        infra, "batch", consumer_max_retries=1, consumer_retry_backoff_seconds=0.01
    )
    subscriptions = Subscriptions()
    prefix = uuid.uuid4().hex[:8]

    class BatchThingV1(ThingHappenedV1):
        # A topic of its own: records other tests left on TOPIC (poisons, bad envelopes)
        # would otherwise share the first fetch and send it down the careful path.
        event_type = "org.innopark.test.batch.happened.v1"
        topic = f"innopark.test.batch.{prefix}"

    topic = BatchThingV1.topic

    def thing(name: str) -> tuple[bytes, list]:
        return _thing(name, BatchThingV1.event_type)

    transactions: dict[str, int] = {}  # event name -> the transaction that applied it

    @subscriptions.on(BatchThingV1)
    async def on_thing(event: BatchThingV1, ctx: HandlerContext) -> None:
        if not event.name.startswith(prefix):
            return
        if event.name.endswith("-poison"):
            raise RuntimeError("cannot apply this one")
        # A plain insert: applied twice, it would fail on the primary key.
        await ctx.session.execute(sa.insert(things).values(id=event.thing_id, name=event.name))
        transactions[event.name] = await ctx.session.scalar(sa.text("SELECT txid_current()"))

    await ensure_topics(settings, [topic])
    producer = make_producer(settings)
    await producer.start()
    clean = [f"{prefix}-clean-{i:02d}" for i in range(20)]
    mixed = [f"{prefix}-mixed-{i:02d}" for i in range(20)]
    repeated = thing(f"{prefix}-repeated")

    names = _names_like(db, things, prefix)

    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
    )

    try:
        await _send_together(producer, topic, [thing(name) for name in clean])
        runner.start()
        assert await wait_until(lambda: _count_is(names, 20), timeout=30), await names()
        assert len({transactions[n] for n in clean}) == 1  # fetched together, applied together

        await runner.stop()
        runner = ConsumerRunner(
            settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
        )
        await _send_together(
            producer,
            topic,
            [
                *[thing(name) for name in mixed[:10]],
                thing(f"{prefix}-poison"),
                repeated,
                repeated,
                *[thing(name) for name in mixed[10:]],
            ],
        )
        runner.start()
        expected = sorted([*clean, *mixed, f"{prefix}-repeated"])
        assert await wait_until(lambda: _count_is(names, len(expected)), timeout=30)
        await asyncio.sleep(1)  # nothing more arrives
        assert await names() == expected  # each exactly once
        assert runner.dead_lettered == 1
        assert runner.duplicates >= 1  # the repeated id
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()


async def test_a_batch_handler_takes_runs_of_its_events_and_alone_on_the_careful_path(infra):
    """Consecutive events of one `on_batch` handler in a fetch reach it in one call, in
    order; an event of another handler between them splits the run; and when the fetch
    goes down the careful path (a poison in it), the batch handler gets them one by one,
    each applied exactly once."""
    db, metadata, things, settings = await _consumer_world(
        infra, "runs", consumer_max_retries=1, consumer_retry_backoff_seconds=0.01
    )
    subscriptions = Subscriptions()
    prefix = uuid.uuid4().hex[:8]
    topic = f"innopark.test.runs.{prefix}"

    class RunThingV1(ThingHappenedV1):
        event_type = "org.innopark.test.runs.thing.v1"
        topic = f"innopark.test.runs.{prefix}"

    class OtherThingV1(ThingHappenedV1):
        event_type = "org.innopark.test.runs.other.v1"
        topic = f"innopark.test.runs.{prefix}"

    calls: list[list[str]] = []

    @subscriptions.on_batch(RunThingV1)
    async def on_things(events: list[tuple[RunThingV1, HandlerContext]]) -> None:
        names = [event.name for event, _ in events]
        if any(name.endswith("-poison") for name in names):
            raise RuntimeError("cannot apply this one")
        calls.append(names)
        session = events[0][1].session
        await session.execute(
            sa.insert(things), [{"id": event.thing_id, "name": event.name} for event, _ in events]
        )

    @subscriptions.on(OtherThingV1)
    async def on_other(event: OtherThingV1, ctx: HandlerContext) -> None:
        calls.append([event.name])
        await ctx.session.execute(sa.insert(things).values(id=event.thing_id, name=event.name))

    await ensure_topics(settings, [topic])
    producer = make_producer(settings)
    await producer.start()

    names = _names_like(db, things, prefix)

    def run(name: str) -> tuple[bytes, list]:
        return _thing(f"{prefix}-{name}", RunThingV1.event_type)

    exporter = InMemorySpanExporter()
    configure_tracing("consumer-tests", processors=[SimpleSpanProcessor(exporter)])
    lines = _LinesAbout()
    consumer_log = logging.getLogger("innopark_shared.consumer")
    consumer_log.addHandler(lines)
    level = consumer_log.level
    consumer_log.setLevel(logging.DEBUG)
    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
    )
    try:
        await _send_together(
            producer,
            topic,
            [run("a1"), run("a2"), _thing(f"{prefix}-b1", OtherThingV1.event_type), run("a3")],
        )
        runner.start()
        assert await wait_until(lambda: _count_is(names, 4), timeout=30), await names()
        assert calls == [[f"{prefix}-{n}" for n in run_] for run_ in (["a1", "a2"], ["b1"], ["a3"])]
        # Each event's trace leads to the handler that applied it: the run's handle span
        # is a2's child and links to a1's consumer span.
        spans = [
            s
            for s in exporter.get_finished_spans()
            if s.attributes.get("messaging.destination.name", topic) == topic
        ]
        by_offset = {
            s.attributes["messaging.kafka.offset"]: s
            for s in spans
            if s.kind is SpanKind.CONSUMER and s.attributes["messaging.destination.name"] == topic
        }
        (handle,) = [s for s in spans if s.attributes.get("messaging.batch.message_count") == 2]
        assert handle.parent.span_id == by_offset[1].context.span_id
        assert [link.context.span_id for link in handle.links] == [by_offset[0].context.span_id]
        # ...and each event's log line names it, in its own trace.
        for offset in (0, 1):
            event_id = by_offset[offset].attributes["messaging.message.id"]
            trace_id = by_offset[offset].context.trace_id
            assert (event_id, trace_id) in lines.about, lines.about

        calls.clear()
        await _send_together(producer, topic, [run("c1"), run("poison"), run("c2")])
        assert await wait_until(lambda: _count_is(names, 6), timeout=30), await names()
        await asyncio.sleep(1)  # nothing more arrives
        assert calls == [[f"{prefix}-c1"], [f"{prefix}-c2"]]  # one by one, each once
        assert runner.dead_lettered == 1
    finally:
        consumer_log.removeHandler(lines)
        consumer_log.setLevel(level)
        await runner.stop()
        await producer.stop()
        await db.dispose()


class _LinesAbout(logging.Handler):
    """The (event id, trace id) each "applied" line of the consumer was written about."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.about: list[tuple[str | None, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "applied" in record.getMessage():
            event_id = structlog.contextvars.get_contextvars().get("event_id")
            self.about.append((event_id, trace.get_current_span().get_span_context().trace_id))


async def test_a_poison_in_one_partition_of_a_fetch_costs_the_others_nothing(infra):
    """A fetch spanning partitions is applied in one transaction; a poison in one
    partition sends the whole fetch down the careful path, partition by partition, and
    every other event is still applied exactly once."""
    db, metadata, things, settings = await _consumer_world(
        infra, "parts", consumer_max_retries=1, consumer_retry_backoff_seconds=0.01
    )
    subscriptions = Subscriptions()
    prefix = uuid.uuid4().hex[:8]
    topic = f"innopark.test.parts.{prefix}"

    class PartThingV1(ThingHappenedV1):
        event_type = "org.innopark.test.parts.thing.v1"
        topic = f"innopark.test.parts.{prefix}"

    @subscriptions.on(PartThingV1)
    async def on_thing(event: PartThingV1, ctx: HandlerContext) -> None:
        if event.name.endswith("-poison"):
            raise RuntimeError("cannot apply this one")
        # A plain insert: applied twice, it would fail on the primary key.
        await ctx.session.execute(sa.insert(things).values(id=event.thing_id, name=event.name))

    await ensure_topics(settings, [topic])
    producer = make_producer(settings)
    await producer.start()

    names = _names_like(db, things, prefix)

    def part(name: str) -> tuple[bytes, list]:
        return _thing(name, PartThingV1.event_type)

    first = [f"{prefix}-p0-{i}" for i in range(5)]
    second = [f"{prefix}-p1-{i}" for i in range(5)]
    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=subscriptions
    )
    try:
        await _send_together(producer, topic, [part(n) for n in first], partition=0)
        poisoned = [*second[:2], f"{prefix}-p1-poison", *second[2:]]
        await _send_together(producer, topic, [part(n) for n in poisoned], partition=1)
        runner.start()
        expected = sorted([*first, *second])
        assert await wait_until(lambda: _count_is(names, len(expected)), timeout=30)
        await asyncio.sleep(1)  # nothing more arrives
        assert await names() == expected  # each exactly once (a repeat breaks the key)
        assert runner.dead_lettered == 1
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()


async def test_a_reset_noticed_while_holding_no_partition_rewinds_them_once_assigned(infra):
    """A broker that restarted empty also forgot the group, so the consumer often notices
    the reset while it is rejoining and holds no partition. The partitions assigned a
    moment later must still go back to their start, not resume from an offset committed
    on the old log: the relays' replay lands below it and would be skipped."""
    db, metadata, _, settings = await _consumer_world(infra, "rewind")
    topic = f"innopark.test.rewind.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic])
    producer = make_producer(settings)
    await producer.start()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    runner = ConsumerRunner(
        settings=settings, database=db, metadata=metadata, subscriptions=Subscriptions()
    )
    partition = TopicPartition(topic, 0)
    try:
        for i in range(6):
            body, headers = _thing(f"rewind-{i}")
            await producer.send_and_wait(topic, body, partition=0, headers=headers)
        runner._read_from_start = True  # what noticing a reset sets (_check_broker_memory)
        await runner._seek_to_start_if_due(consumer)  # rejoining: nothing held yet
        assert runner._read_from_start, "the rewind was spent on no partition"

        consumer.assign([partition])
        consumer.seek(partition, 4)  # the position an old commit would resume from
        await runner._seek_to_start_if_due(consumer)
        assert await consumer.position(partition) == 0
        assert not runner._read_from_start

        consumer.seek(partition, 4)
        await runner._seek_to_start_if_due(consumer)  # once only: later fetches go on
        assert await consumer.position(partition) == 4
    finally:
        await consumer.stop()
        await producer.stop()
        await db.dispose()
