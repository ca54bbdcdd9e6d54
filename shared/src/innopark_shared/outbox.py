"""Transactional outbox: write events with the change, publish them from a relay.

`Outbox.add` is called inside the request's (or handler's) transaction. The relay wakes
on LISTEN/NOTIFY (a trigger on the outbox table), sweeps on a slow timer as a safety net,
publishes unpublished rows in order, and marks them published. Published rows are kept
for `outbox_retention_hours` so they can be replayed to a broker that lost them.

A broker that comes back with empty memory (the embedded Tansu, a new cluster) is noticed
by the relay itself: a marker record it wrote is no longer there. The retained window is
then replayed in a lane of its own, one batch at a time between fresh batches, so new
events never queue behind a long replay; consumers' inboxes drop the repeats.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncSession

from .contracts import IntegrationEvent
from .db import Database, notify_channel, outbox_table
from .kafka import BrokerMemory, Envelope, ensure_topics, make_producer
from .logs import bind_event
from .settings import ServiceSettings
from .tracing import SpanKind, context_from, current_headers, kafka_headers, record_failure, tracer

log = logging.getLogger(__name__)

BATCH_SIZE = 200


def event_source(service_name: str) -> str:
    return f"/innopark/{service_name}"


class Outbox:
    """A service's outbox, built beside its metadata in `models.py`:

        metadata = service_metadata("registry")
        outbox = Outbox(metadata, service="registry")

    Domain code records events with `await outbox.add(session, ParkCreatedV1(...))`,
    inside the caller's transaction, without importing the service's `events.py`."""

    def __init__(self, metadata: sa.MetaData, *, service: str) -> None:
        self.metadata = metadata
        self.table = outbox_table(metadata)
        self.source = event_source(service)

    async def add(self, session: AsyncSession, event: IntegrationEvent) -> uuid.UUID:
        """Record `event` in the outbox, in the caller's transaction."""
        return await add_event(session, self.metadata, event, source=self.source)


def topics_of(*events: type[IntegrationEvent]) -> list[str]:
    """The topics a service publishes, derived from the event classes it declares."""
    return list(dict.fromkeys(event.topic for event in events))


async def add_event(
    session: AsyncSession,
    metadata: sa.MetaData,
    event: IntegrationEvent,
    *,
    source: str,
) -> uuid.UUID:
    """Record `event` in `metadata`'s outbox, in the caller's transaction (prefer
    `Outbox.add`). The row keeps the current trace context (`headers`), so the relay's
    publish joins the trace of the request that wrote it."""
    event_id = uuid.uuid4()
    with tracer().start_as_current_span(
        f"outbox {event.event_type}",
        attributes={
            "messaging.message.id": str(event_id),
            "cloudevents.event_type": event.event_type,
        },
    ):
        await session.execute(
            _insert_into(outbox_table(metadata)),
            {
                "id": event_id,
                "topic": event.topic,
                "key": event.key,
                "type": event.event_type,
                "source": source,
                "time": datetime.now(UTC),
                "data": event.model_dump(mode="json"),
                "headers": current_headers(),
            },
        )
    return event_id


@functools.cache
def _insert_into(table: sa.Table) -> sa.Insert:
    """The outbox's INSERT, built once per table (building it cost as much as running it)."""
    return sa.insert(table)


class OutboxRelay:
    """Publishes a service's outbox to Kafka. One active relay per service at a time
    (a session advisory lock), which keeps per-aggregate order; other replicas stand by."""

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        database: Database,
        metadata: sa.MetaData,
        topics: list[str],
    ) -> None:
        self.settings = settings
        self.database = database
        self.table = outbox_table(metadata)
        self.schema = metadata.schema or "public"
        self.topics = topics
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.producer: AIOKafkaProducer | None = None
        self.published = 0
        self.replayed = 0
        self.broker_resets = 0
        self.last_error: str | None = None
        # Unpublished rows and the age of the oldest, read when metrics are scraped.
        self.backlog: int | None = None
        self.oldest_unpublished_age_seconds: float | None = None
        # Outlives reconnections: a broker that came back empty is noticed after one.
        self._memory = BrokerMemory(settings, f"{settings.service_name}-relay")
        # The replay lane: retained (already published) rows with seq in [next, until].
        self._replay_next: int | None = None
        self._replay_until: int | None = None
        # The highest offset acked per partition (`_check_landed`).
        self._acked_offsets: dict[TopicPartition, int] = {}

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.schema}-outbox-relay")

    async def stop(self) -> None:
        """Stop after publishing what is already committed (best effort, bounded)."""
        self._stopping.set()
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
            except Exception:
                pass

    def wake(self) -> None:
        self._wake.set()

    # -- main loop -------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            listener: asyncpg.Connection | None = None
            try:
                listener = await self._connect_listener()
                await self._acquire_leadership(listener)
                if self._stopping.is_set():
                    break
                await self._start_producer()
                await ensure_topics(self.settings, self.topics)
                if self.settings.outbox_replay_on_start:
                    await self._schedule_replay("replay on start requested")
                    self.settings = self.settings.model_copy(
                        update={"outbox_replay_on_start": False}
                    )
                await self._check_broker_memory()
                backoff = 0.5
                await self._publish_loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database outage: retry, lose nothing
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox relay: %s; retrying in %.1fs", self.last_error, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                await self._stop_producer()
                if listener is not None:
                    try:
                        await listener.close(timeout=2)
                    except Exception:
                        listener.terminate()
        log.info("outbox relay stopped (published %d this run)", self.published)

    async def _connect_listener(self) -> asyncpg.Connection:
        url = self.database.engine.url.set(drivername="postgresql")
        conn = await asyncpg.connect(url.render_as_string(hide_password=False))
        await conn.add_listener(notify_channel(self.schema), lambda *_: self._wake.set())
        return conn

    async def _acquire_leadership(self, conn: asyncpg.Connection) -> None:
        key = f"innopark-outbox-relay:{self.schema}"
        while not self._stopping.is_set():
            if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                return
            await self._sleep(self.settings.outbox_poll_interval_seconds)

    async def _start_producer(self) -> None:
        self.producer = make_producer(self.settings)
        await self.producer.start()
        await self._memory.start()

    async def _stop_producer(self) -> None:
        await self._memory.stop()
        if self.producer is not None:
            try:
                await asyncio.wait_for(self.producer.stop(), timeout=5)
            except Exception:
                pass
            self.producer = None

    # -- a broker that forgot ----------------------------------------------------------

    async def _check_broker_memory(self) -> None:
        """Replay the retained window if the broker lost what it acknowledged."""
        if self.producer is None:
            return
        lost = await self._memory.forgot(self.producer)
        if lost:
            self.broker_resets += 1
            await ensure_topics(self.settings, self.topics)
            await self._schedule_replay(f"the broker lost acknowledged events ({lost})")

    async def _schedule_replay(self, why: str) -> None:
        """Queue every retained published row for the replay lane."""
        t = self.table
        async with self.database.transaction() as session:
            low, high = (
                await session.execute(
                    sa.select(sa.func.min(t.c.seq), sa.func.max(t.c.seq)).where(
                        t.c.published_at.is_not(None)
                    )
                )
            ).one()
        if low is None:
            log.info("outbox relay: %s; nothing retained to replay", why)
            return
        self._replay_next = low if self._replay_next is None else min(low, self._replay_next)
        self._replay_until = high if self._replay_until is None else max(high, self._replay_until)
        log.warning(
            "outbox relay: %s; replaying retained events seq %d..%d",
            why,
            self._replay_next,
            self._replay_until,
        )

    async def _replay_batch(self) -> int:
        """One batch of the replay lane (rows stay marked published)."""
        if self._replay_next is None or self._replay_until is None:
            return 0
        t = self.table
        async with self.database.transaction() as session:
            rows = (
                await session.execute(
                    sa.select(t)
                    .where(
                        t.c.published_at.is_not(None),
                        t.c.seq >= self._replay_next,
                        t.c.seq <= self._replay_until,
                    )
                    .order_by(t.c.seq)
                    .limit(BATCH_SIZE)
                )
            ).all()
        if rows:
            await self._send(rows)
            self.replayed += len(rows)
        if len(rows) < BATCH_SIZE:
            log.info("outbox relay: replay done (%d events this run)", self.replayed)
            self._replay_next = self._replay_until = None
        else:
            self._replay_next = rows[-1].seq + 1
        return len(rows)

    async def _publish_loop(self) -> None:
        last_cleanup = last_check = 0.0
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            # Fresh events first; the replay lane advances one batch between them.
            while True:
                fresh = await self._publish_batch()
                if self._stopping.is_set():  # flush what is committed; leave the replay
                    if fresh < BATCH_SIZE:
                        break
                    continue
                replayed = await self._replay_batch()
                if fresh < BATCH_SIZE and replayed == 0:
                    break
            if loop.time() - last_check >= self.settings.outbox_poll_interval_seconds:
                await self._check_broker_memory()
                last_check = loop.time()
            if self._replay_next is not None and not self._stopping.is_set():
                continue  # the check scheduled a replay: start it now
            self.last_error = None
            if loop.time() - last_cleanup > 60:
                await self._delete_expired()
                last_cleanup = loop.time()
            if self._stopping.is_set():
                return  # the batch above was the final flush of what was committed
            await self._sleep(self.settings.outbox_poll_interval_seconds, wakeable=True)

    async def _publish_batch(self) -> int:
        assert self.producer is not None
        t = self.table
        async with self.database.transaction() as session:
            rows = (
                await session.execute(
                    sa.select(t)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.seq)
                    .limit(BATCH_SIZE)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await self._send(rows)
            await session.execute(
                sa.update(t)
                .where(t.c.id.in_([r.id for r in rows]))
                .values(published_at=sa.func.now())
            )
        self.published += len(rows)
        return len(rows)

    async def _send(self, rows: Sequence[Any]) -> None:
        """Publish `rows` and wait for acks=all of every one (raises if any failed)."""
        assert self.producer is not None
        await self._check_topics({row.topic for row in rows})
        futures = []
        spans = []
        try:
            for row in rows:
                envelope = Envelope(id=str(row.id), type=row.type, source=row.source, time=row.time)
                # A producer span per record, child of the writer's context kept in the row;
                # the record carries the span's own context on to the consumers.
                span = tracer().start_span(
                    f"publish {row.topic}",
                    context=context_from(row.headers),
                    kind=SpanKind.PRODUCER,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.operation.type": "publish",
                        "messaging.destination.name": row.topic,
                        "messaging.message.id": str(row.id),
                        "messaging.kafka.message.key": row.key,
                        "cloudevents.event_type": row.type,
                    },
                )
                spans.append(span)
                with bind_event(str(row.id), row.type, topic=row.topic):
                    futures.append(
                        await self.producer.send(
                            row.topic,
                            value=json.dumps(row.data, separators=(",", ":")).encode(),
                            key=row.key.encode(),
                            headers=envelope.headers() + kafka_headers(span),
                        )
                    )
                    log.debug("outbox relay: publishing")
            acked = await asyncio.wait_for(asyncio.gather(*futures), timeout=30)
            await self._check_landed(acked)
        except BaseException as exc:
            for span in spans:
                record_failure(span, exc)
            raise
        finally:
            for span in spans:
                span.end()

    async def _check_topics(self, topics: set[str]) -> None:
        """Create the topics the known metadata lacks before sending. The metadata is the
        one refreshed after the previous batch (`_check_landed`): a broker that restarted
        empty since then takes this batch's writes for partitions it no longer lists, and
        the check after sending fails the batch, which goes out again."""
        assert self.producer is not None
        client = self.producer.client
        missing = [t for t in topics if not client.cluster.partitions_for_topic(t)]
        if missing:
            await ensure_topics(self.settings, missing)
            await asyncio.wait_for(client.force_metadata_update(), timeout=10)

    async def _check_landed(self, acked: list) -> None:
        """Fail the batch (its rows go out again) on an acknowledgement that cannot be a
        safe write. Both were seen from Tansu restarted empty during an outage:

        - a write acked for a partition the broker does not list (made with stale
          metadata: the record is kept where no reader looks);
        - a write acked at an offset of its partition that the broker had acked before
          (its offsets counted again from a topic created over such a record: the new
          record is stored beside the old one, and readers skip it). Offsets only grow,
          so every accepted ack must lie above all acked before in its partition. After
          a refused one the partition counts from that batch's offsets: a broker that
          truly starts afresh costs one repeated batch per partition."""
        assert self.producer is not None
        client = self.producer.client
        await asyncio.wait_for(client.force_metadata_update(), timeout=10)
        unsafe: str | None = None
        top: dict[TopicPartition, int] = {}
        for meta in acked:
            tp = TopicPartition(meta.topic, meta.partition)
            last = top.get(tp, self._acked_offsets.get(tp, -1))
            if unsafe is None:
                if meta.partition not in (client.cluster.partitions_for_topic(meta.topic) or ()):
                    unsafe = f"broker acked {meta.topic}[{meta.partition}] but does not list it"
                elif meta.offset <= last:
                    unsafe = (
                        f"broker acked {meta.topic}[{meta.partition}] at offset {meta.offset}, "
                        f"where it had acked up to {last} before"
                    )
            top[tp] = max(top.get(tp, -1), meta.offset)
        # Whatever the verdict, these offsets are taken on this broker now.
        self._acked_offsets.update(top)
        if unsafe is not None:
            raise RuntimeError(unsafe)

    async def _delete_expired(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(hours=self.settings.outbox_retention_hours)
        async with self.database.transaction() as session:
            await session.execute(sa.delete(self.table).where(self.table.c.published_at < cutoff))

    async def _sleep(self, seconds: float, *, wakeable: bool = False) -> None:
        waiters = [asyncio.ensure_future(self._stopping.wait())]
        if wakeable:
            waiters.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def measure_backlog(self) -> None:
        """Count unpublished rows and age the oldest (both off the partial index on
        unpublished rows): called when metrics are scraped, so the figures stay true while
        the relay itself is stuck on a broker outage. Unknown while the database is down."""
        t = self.table
        oldest = (
            sa.select(t.c.time)
            .where(t.c.published_at.is_(None))
            .order_by(t.c.seq)
            .limit(1)
            .scalar_subquery()
        )
        try:
            async with self.database.transaction() as session:
                count, age = (
                    await session.execute(
                        sa.select(
                            sa.select(sa.func.count())
                            .where(t.c.published_at.is_(None))
                            .scalar_subquery(),
                            sa.func.extract("epoch", sa.func.now() - oldest),
                        )
                    )
                ).one()
        except Exception as exc:
            log.debug("outbox backlog unavailable: %s", exc)
            self.backlog = self.oldest_unpublished_age_seconds = None
            return
        self.backlog = int(count)
        self.oldest_unpublished_age_seconds = max(0.0, float(age)) if age is not None else 0.0

    async def pending(self) -> int:
        async with self.database.transaction() as session:
            return (
                await session.execute(
                    sa.select(sa.func.count()).where(self.table.c.published_at.is_(None))
                )
            ).scalar_one()
