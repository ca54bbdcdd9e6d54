"""Consumer runner: one consumer group per service, inbox deduplication, offsets committed
after the database commit, bounded retries, then a dead-letter topic.

Outages are not poison: a handler failing because the database or broker is unreachable
(`innopark_shared.outages.is_transient`) is retried with capped backoff for as long as the
outage lasts, its partitions paused, and never dead-lettered. Only a deterministic failure
(a bug, a payload the handler cannot apply) is dead-lettered after bounded retries.

Unknown types on a subscribed topic (a type this service does not handle, or a newer
version of one it does) are skipped by policy: a breaking change is published as a new
type side by side with the old one, so a consumer keeps reading the version it knows.
Each is counted by type (`unknown_types`) and logged once per type, so nothing is skipped
silently.

A service lists what it listens to in one place (its `events.py`):

    subscriptions = Subscriptions()

    @subscriptions.on(ParkCreatedV1)
    async def on_park_created(event: ParkCreatedV1, ctx: HandlerContext) -> None: ...
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from opentelemetry.trace import Link, Span, use_span
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .contracts import IntegrationEvent
from .db import Database, inbox_table
from .deadletters import FailedMessage, pending_by_topic, record_dead_letter
from .kafka import BrokerMemory, Envelope, ensure_topics, make_consumer, make_producer
from .logs import bind_event
from .outages import is_transient
from .settings import ServiceSettings
from .subscriptions import BatchHandler, Handler, HandlerContext, Subscriptions
from .tracing import SpanKind, context_from, tracer

log = logging.getLogger(__name__)

# Waiting out an outage: 0.2 s, doubling, at most 5 s between attempts, for as long as it lasts.
OUTAGE_BACKOFF_SECONDS = 0.2
OUTAGE_BACKOFF_MAX_SECONDS = 5.0
DEAD_LETTER_COUNT_SECONDS = 15.0
BROKER_MEMORY_CHECK_SECONDS = 2.0
INBOX_PRUNE_SECONDS = 600.0
# At most this many records (of all partitions together) are applied in one transaction.
MAX_BATCH_RECORDS = 500


def dead_letter_topic(topic: str, group: str) -> str:
    return f"{topic}.{group}.dlt"


class ConsumerRunner:
    def __init__(
        self,
        *,
        settings: ServiceSettings,
        database: Database,
        metadata: sa.MetaData,
        subscriptions: Subscriptions,
    ) -> None:
        self.settings = settings
        self.database = database
        self.metadata = metadata
        self.inbox = inbox_table(metadata)
        # Inbox rows (a batch's, or one event's) in one statement of four arrays, built
        # once (see _into_inbox): a multi-row VALUES would be a new statement, compiled
        # again, for every batch (py-spy: 15 % of a consumer's CPU at 200 events/s).
        columns = {"ids": sa.String, "types": sa.String, "sources": sa.String}
        self._inbox_many = (
            pg_insert(self.inbox)
            .from_select(
                ["event_id", "type", "source", "event_time"],
                sa.select(
                    *(sa.func.unnest(sa.bindparam(n, type_=ARRAY(t))) for n, t in columns.items()),
                    sa.func.unnest(sa.bindparam("times", type_=ARRAY(sa.DateTime(timezone=True)))),
                ),
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.inbox.c.event_id)
        )
        self.subscriptions = subscriptions
        self.group = settings.group_id
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        # Measured read-model lag: how long ago the last processed event was published.
        self.last_event_lag_seconds: float | None = None
        self.processed = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.unknown_types: dict[str, int] = {}
        # Pending dead letters per topic in this service's schema (refreshed periodically,
        # since an operator may replay or discard them from another process).
        self.dead_letters_by_topic: dict[str, int] = {}
        self.waiting_out_outage = False  # a transient failure is being retried right now
        self._counted_at = 0.0
        # A broker that came back empty restarts offsets from zero, while this consumer's
        # positions (and any offsets it commits) still point far into the old log: it
        # would skip what the relays replay. Noticed by a marker; then read from the start.
        self._memory = BrokerMemory(settings, f"{settings.group_id}-consumer")
        self._memory_checked_at = 0.0
        # Set when the broker forgot; cleared once the partitions went back to the start.
        self._read_from_start = False
        self._pruned_at = 0.0
        self.broker_resets = 0
        self.last_error: str | None = None
        self.connected = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.group}-consumer")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task:
            self._task.cancel()
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (asyncio.CancelledError, TimeoutError):
                pass

    async def _run(self) -> None:
        backoff = 0.5
        topics = self.subscriptions.topics
        while not self._stopping.is_set():
            try:
                await ensure_topics(self.settings, topics)
                self._producer = make_producer(self.settings)
                await self._producer.start()
                self._consumer = make_consumer(self.settings, topics)
                await self._consumer.start()
                await self._memory.start()
                self.connected = True
                backoff = 0.5
                await self._refresh_dead_letter_counts()
                await self._poll_loop(self._consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("consumer %s: %s; restarting in %.1fs", self.group, exc, backoff)
            finally:
                self.connected = False
                await self._close()
            if not self._stopping.is_set():
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _close(self) -> None:
        await self._memory.stop()
        for client in (self._consumer, self._producer):
            if client is not None:
                try:
                    await asyncio.wait_for(client.stop(), timeout=5)
                except Exception:
                    pass
        self._consumer = self._producer = None

    async def _refresh_dead_letter_counts(self) -> None:
        try:
            self.dead_letters_by_topic = await pending_by_topic(self.database, self.metadata)
        except Exception as exc:  # a gauge must not stop consumption
            log.debug("consumer %s: dead-letter count unavailable: %s", self.group, exc)
        self._counted_at = time.monotonic()

    async def _poll_loop(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stopping.is_set():
            if time.monotonic() - self._counted_at > DEAD_LETTER_COUNT_SECONDS:
                await self._refresh_dead_letter_counts()
            if time.monotonic() - self._memory_checked_at > BROKER_MEMORY_CHECK_SECONDS:
                await self._check_broker_memory(consumer)
            else:
                await self._seek_to_start_if_due(consumer)
            if time.monotonic() - self._pruned_at > INBOX_PRUNE_SECONDS:
                await self.prune_inbox()
            batch = await consumer.getmany(timeout_ms=500, max_records=MAX_BATCH_RECORDS)
            if not batch:
                continue
            # Every partition's records in one transaction, each partition's in its order:
            # one BEGIN, inbox INSERT and COMMIT per fetch rather than per partition (at
            # 200 ev/s over three partitions a fetch holds one or two events of each).
            if not await self._apply_together([r for records in batch.values() for r in records]):
                for records in batch.values():
                    seen = await self._already_processed(records)
                    for record in records:
                        await self._process(record, seen)
            # Only now, with every record's transaction committed, move the offsets.
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})

    async def prune_inbox(self) -> int:
        """Forget applied ids older than `inbox_retention_hours` (no outbox replays them
        any more), so the inbox stays as large as the retained window, not all history."""
        self._pruned_at = time.monotonic()
        cutoff = datetime.now(UTC) - timedelta(hours=self.settings.inbox_retention_hours)
        try:
            async with self.database.transaction() as session:
                result = await session.execute(
                    sa.delete(self.inbox).where(self.inbox.c.processed_at < cutoff)
                )
        except Exception as exc:  # housekeeping must not stop consumption; next round
            log.debug("consumer %s: inbox pruning skipped: %s", self.group, exc)
            return 0
        pruned: int = getattr(result, "rowcount", 0) or 0
        if pruned:
            log.info("consumer %s: forgot %d applied ids past retention", self.group, pruned)
        return pruned

    async def _check_broker_memory(self, consumer: AIOKafkaConsumer) -> None:
        assert self._producer is not None
        self._memory_checked_at = time.monotonic()
        lost = await self._memory.forgot(self._producer)
        if lost:
            self.broker_resets += 1
            log.warning(
                "consumer %s: the broker forgot its messages (%s); reading its partitions "
                "from the start (the inbox drops what was applied)",
                self.group,
                lost,
            )
            self._read_from_start = True
        await self._seek_to_start_if_due(consumer)

    async def _seek_to_start_if_due(self, consumer: AIOKafkaConsumer) -> None:
        """After a broker reset, the partitions go back to their start once the consumer
        holds them. A broker that restarted empty also forgot the group, so the consumer
        is often rejoining when the reset is noticed, holding no partition: seeking then
        would do nothing, and the partitions assigned a moment later would resume from
        offsets committed from the old log's positions, past what the relays replay."""
        if not self._read_from_start:
            return
        partitions = consumer.assignment()
        if partitions:
            await consumer.seek_to_beginning(*partitions)
            self._read_from_start = False

    async def _apply_together(self, records: list[ConsumerRecord]) -> bool:
        """The fast path: apply a fetch's records in one transaction, their
        inbox rows inserted in one statement. True when every record was settled this way
        (applied, a repeat, or an unknown type skipped by policy).

        False, with nothing applied, when any record needs the careful path: a bad envelope
        or payload (dead-lettered there), or any failure while applying (the transaction
        rolls back whole, and the careful path retries, waits out or dead-letters record by
        record). Either way each event is applied exactly once with its inbox row."""
        parsed: list[tuple[ConsumerRecord, Envelope, IntegrationEvent, Handler]] = []
        unknown: list[str] = []
        for record in records:
            try:
                envelope = Envelope.from_headers(record.headers or ())
            except ValueError:
                return False
            registered = self.subscriptions.get(envelope.type)
            if registered is None:
                unknown.append(envelope.type)
                continue
            event_cls, handler = registered
            try:
                event = event_cls.model_validate_json(record.value or b"")
            except ValidationError:
                return False
            parsed.append((record, envelope, event, handler))
        applied = 0
        if parsed:
            try:
                async with self.database.transaction() as session:
                    new = await self._into_inbox(session, [e for _, e, _, _ in parsed])
                    fresh = []
                    for item in parsed:
                        if item[1].id in new:
                            new.discard(item[1].id)  # the same id twice in one batch: once
                            fresh.append(item)
                    for group, batch_handler in self._runs(fresh):
                        if batch_handler is None or len(group) == 1:
                            record, envelope, event, handler = group[0]
                            with self._consumer_span(record, envelope):
                                await self._run_handler(event, envelope, handler, session)
                                log.debug("consumer %s: applied", self.group)
                        else:
                            await self._run_batch(group, batch_handler, session)
                        applied += len(group)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug(
                    "consumer %s: batch of %d goes one by one (%s)", self.group, len(records), exc
                )
                return False
        for event_type in unknown:
            self._skip_unknown(event_type)
        self.waiting_out_outage = False
        self.processed += applied
        self.duplicates += len(parsed) - applied
        last = next((e for _, e, _, _ in reversed(parsed) if e.time is not None), None)
        if last is not None and last.time is not None:
            self.last_event_lag_seconds = max(0.0, (datetime.now(UTC) - last.time).total_seconds())
        return True

    def _runs(
        self, items: list[tuple[ConsumerRecord, Envelope, IntegrationEvent, Handler]]
    ) -> Iterator[
        tuple[list[tuple[ConsumerRecord, Envelope, IntegrationEvent, Handler]], BatchHandler | None]
    ]:
        """`items` in order, as runs of consecutive events one batch handler takes (with
        it), and single events of other handlers (with None)."""
        i = 0
        while i < len(items):
            batch_handler = self.subscriptions.batch_handler(items[i][1].type)
            j = i + 1
            if batch_handler is not None:
                while j < len(items) and (
                    self.subscriptions.batch_handler(items[j][1].type) is batch_handler
                ):
                    j += 1
            yield items[i:j], batch_handler
            i = j

    async def _run_batch(
        self,
        group: list[tuple[ConsumerRecord, Envelope, IntegrationEvent, Handler]],
        batch_handler: BatchHandler,
        session: AsyncSession,
    ) -> None:
        """Several events in one call of their batch handler. Each keeps its consumer span
        (child of its publisher's); the one handle span is the last one's child and links
        to the others (OpenTelemetry's way for batch processing), so every event's trace
        leads to the handler that applied it."""
        with ExitStack() as spans:
            consumer_spans = [
                spans.enter_context(self._consumer_span(record, envelope))
                for record, envelope, _, _ in group
            ]
            name = getattr(batch_handler, "__qualname__", repr(batch_handler))
            with tracer().start_as_current_span(
                f"handle {group[-1][1].type}",
                attributes={
                    "code.function.name": name,
                    "messaging.batch.message_count": len(group),
                },
                links=[Link(span.get_span_context()) for span in consumer_spans[:-1]],
            ):
                await batch_handler(
                    [
                        (event, HandlerContext(session=session, envelope=envelope))
                        for _, envelope, event, _ in group
                    ]
                )
            # A line per event, in its own span and binding (the batch's handle span sits
            # in the last event's trace only), as the one-event path writes.
            if log.isEnabledFor(logging.DEBUG):
                for (record, envelope, _, _), span in zip(group, consumer_spans, strict=True):
                    with (
                        use_span(span),
                        bind_event(envelope.id, envelope.type, topic=record.topic),
                    ):
                        log.debug("consumer %s: applied in a batch of %d", self.group, len(group))

    @contextmanager
    def _consumer_span(self, record: ConsumerRecord, envelope: Envelope) -> Iterator[Span]:
        """One consumer span per event, child of the publisher's (from the record headers);
        every log line about it names the event."""
        with (
            tracer().start_as_current_span(
                f"process {record.topic}",
                context=context_from(record.headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": record.topic,
                    "messaging.destination.partition.id": str(record.partition),
                    "messaging.kafka.offset": record.offset,
                    "messaging.consumer.group.name": self.group,
                    "messaging.message.id": envelope.id,
                    "cloudevents.event_type": envelope.type,
                },
            ) as span,
            bind_event(envelope.id, envelope.type, topic=record.topic),
        ):
            yield span

    async def _already_processed(self, records: list[ConsumerRecord]) -> set[str]:
        """The ids of `records` the inbox already holds, in one query: a replayed window
        is dropped in bulk, not one transaction per repeat."""
        ids = set()
        for record in records:
            for key, value in record.headers or ():
                if key == "ce_id":
                    ids.add(value.decode("utf-8", "replace"))
        if not ids:
            return set()
        while True:
            try:
                async with self.database.transaction() as session:
                    rows = await session.scalars(
                        sa.select(self.inbox.c.event_id).where(self.inbox.c.event_id.in_(ids))
                    )
                    return set(rows)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                await self._wait_out(exc, attempt=1, what="inbox lookup")

    async def _process(self, record: ConsumerRecord, seen: Collection[str] = ()) -> None:
        try:
            envelope = Envelope.from_headers(record.headers or ())
        except ValueError as exc:
            await self._dead_letter(record, f"bad envelope: {exc}")
            return
        with self._consumer_span(record, envelope):
            await self._process_event(record, envelope, seen)

    async def _process_event(
        self, record: ConsumerRecord, envelope: Envelope, seen: Collection[str]
    ) -> None:
        if envelope.id in seen:
            self.duplicates += 1
            return
        registered = self.subscriptions.get(envelope.type)
        if registered is None:
            self._skip_unknown(envelope.type)
            return
        event_cls, handler = registered
        try:
            event = event_cls.model_validate_json(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, f"invalid payload: {exc}", envelope)
            return

        failures = outage = 0
        while True:
            try:
                handled = await self._handle_once(event, envelope, handler)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    outage += 1
                    await self._wait_out(exc, attempt=outage, what=envelope.id)
                    continue
                failures += 1
                if failures > self.settings.consumer_max_retries:
                    log.exception(
                        "consumer %s: %s failed %d times", self.group, envelope.id, failures
                    )
                    await self._dead_letter(
                        record, f"{type(exc).__name__}: {exc}", envelope, attempts=failures
                    )
                    return
                log.warning(
                    "consumer %s: %s failed (%s), retry %d", self.group, envelope.id, exc, failures
                )
                await asyncio.sleep(
                    self.settings.consumer_retry_backoff_seconds * 2 ** (failures - 1)
                )
        self.waiting_out_outage = False
        if handled:
            self.processed += 1
            log.debug("consumer %s: applied", self.group)
        else:
            self.duplicates += 1
        if envelope.time is not None:
            self.last_event_lag_seconds = max(
                0.0, (datetime.now(UTC) - envelope.time).total_seconds()
            )

    async def _wait_out(self, exc: BaseException, *, attempt: int, what: str) -> None:
        """Pause the assigned partitions and sleep with capped backoff: the outage, not the
        message, is the problem, so the same message is tried again when it ends."""
        self.waiting_out_outage = True
        self.last_error = f"{type(exc).__name__}: {exc}"
        consumer = self._consumer
        if consumer is not None and attempt == 1:
            consumer.pause(*consumer.assignment())
        delay = min(OUTAGE_BACKOFF_MAX_SECONDS, OUTAGE_BACKOFF_SECONDS * 2 ** min(attempt - 1, 8))
        level = logging.WARNING if attempt == 1 or attempt % 20 == 0 else logging.DEBUG
        log.log(
            level,
            "consumer %s: %s waits out an outage (%s), attempt %d, next in %.1fs",
            self.group,
            what,
            self.last_error,
            attempt,
            delay,
        )
        await asyncio.sleep(delay)
        if consumer is not None:
            consumer.resume(*consumer.assignment())

    def _skip_unknown(self, event_type: str) -> None:
        count = self.unknown_types.get(event_type, 0) + 1
        self.unknown_types[event_type] = count
        if count == 1:
            log.warning(
                "consumer %s: skipping events of type %s, which this service does not handle "
                "(counted in innopark_consumer_unknown_events_total)",
                self.group,
                event_type,
            )

    async def _handle_once(
        self, event: IntegrationEvent, envelope: Envelope, handler: Handler
    ) -> bool:
        async with self.database.transaction() as session:
            if not await self._into_inbox(session, [envelope]):
                return False  # already processed: redelivery is harmless
            await self._run_handler(event, envelope, handler, session)
            return True

    async def _into_inbox(self, session: AsyncSession, envelopes: list[Envelope]) -> set[str]:
        """Record `envelopes` in the inbox, in the caller's transaction; the ids that were
        not there yet (those to apply now)."""
        inserted = await session.scalars(
            self._inbox_many,
            {
                "ids": [e.id for e in envelopes],
                "types": [e.type for e in envelopes],
                "sources": [e.source for e in envelopes],
                "times": [e.time for e in envelopes],
            },
        )
        return set(inserted)

    @staticmethod
    async def _run_handler(
        event: IntegrationEvent, envelope: Envelope, handler: Handler, session: AsyncSession
    ) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        # The span records a failure itself (exception event, error status).
        with tracer().start_as_current_span(
            f"handle {envelope.type}", attributes={"code.function.name": name}
        ):
            await handler(event, HandlerContext(session=session, envelope=envelope))

    async def _dead_letter(
        self,
        record: ConsumerRecord,
        error: str,
        envelope: Envelope | None = None,
        *,
        attempts: int = 1,
    ) -> None:
        assert self._producer is not None
        # First in our own schema (it survives the broker); if the database is down this
        # raises, the offset is not committed, and the message comes back.
        message = FailedMessage(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            headers=list(record.headers or ()),
            payload=record.value,
        )
        async with self.database.transaction() as session:
            await record_dead_letter(
                session, self.metadata, message, error=error, attempts=attempts, envelope=envelope
            )
        self.dead_letters_by_topic[record.topic] = (
            self.dead_letters_by_topic.get(record.topic, 0) + 1
        )
        topic = dead_letter_topic(record.topic, self.group)
        await ensure_topics(self.settings, [topic])
        headers = list(record.headers or ()) + [
            ("x-dlt-error", error[:2000].encode()),
            ("x-dlt-original-topic", record.topic.encode()),
            ("x-dlt-original-partition", str(record.partition).encode()),
            ("x-dlt-original-offset", str(record.offset).encode()),
            ("x-dlt-failed-at", str(time.time()).encode()),
        ]
        # If this send fails, the offset is not committed and the record comes back.
        await self._producer.send_and_wait(
            topic, value=record.value, key=record.key, headers=headers
        )
        self.dead_lettered += 1
        log.error(
            "consumer %s: %s dead-lettered to %s: %s",
            self.group,
            envelope.id if envelope else f"{record.topic}/{record.partition}/{record.offset}",
            topic,
            error,
        )

    def assigned_partitions(self) -> int:
        consumer = self._consumer
        return len(consumer.assignment()) if consumer is not None else 0

    async def offset_lag(self) -> int | None:
        consumer = self._consumer
        if consumer is None:
            return None
        lag = 0
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            pos = await consumer.position(tp) if high is not None else None
            if high is not None and pos is not None:
                lag += max(0, high - pos)
        return lag


__all__ = ["ConsumerRunner", "HandlerContext", "Subscriptions", "dead_letter_topic"]
