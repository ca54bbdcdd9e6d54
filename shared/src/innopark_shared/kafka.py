"""Kafka clients with the settings we rely on, and the CloudEvents binary-mode envelope.

aiokafka's defaults are unsafe for us (acks=1, auto-commit before the handler ran), so
every client in the platform is built here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from .settings import ServiceSettings

log = logging.getLogger(__name__)

SPECVERSION = "1.0"


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-producer",
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=2,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


def make_consumer(settings: ServiceSettings, topics: Iterable[str]) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-consumer",
        group_id=settings.group_id,  # one consumer group per service
        enable_auto_commit=False,  # offsets are committed after the database commit
        auto_offset_reset="earliest",
        max_poll_records=100,
        isolation_level="read_committed",
    )


async def ensure_topics(settings: ServiceSettings, topics: Iterable[str]) -> None:
    """Create the topics if they are missing (idempotent)."""
    wanted = sorted(set(topics))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-admin",
        request_timeout_ms=10_000,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            t,
                            num_partitions=settings.kafka_topic_partitions,
                            replication_factor=settings.kafka_replication_factor,
                        )
                        for t in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass  # another replica won the race
            log.info("created topics %s", missing)
    finally:
        await admin.close()


@dataclass(frozen=True)
class Envelope:
    """CloudEvents 1.0 attributes carried in Kafka headers (binary content mode)."""

    id: str
    type: str
    source: str
    time: datetime | None
    specversion: str = SPECVERSION
    datacontenttype: str = "application/json"

    def headers(self) -> list[tuple[str, bytes]]:
        out = [
            ("ce_specversion", self.specversion.encode()),
            ("ce_id", self.id.encode()),
            ("ce_type", self.type.encode()),
            ("ce_source", self.source.encode()),
            ("content-type", self.datacontenttype.encode()),
        ]
        if self.time is not None:
            out.append(("ce_time", self.time.isoformat().replace("+00:00", "Z").encode()))
        return out

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, bytes]]) -> Envelope:
        h = {k: v.decode("utf-8", "replace") for k, v in headers}
        missing = [k for k in ("ce_id", "ce_type", "ce_source") if not h.get(k)]
        if missing:
            raise ValueError(f"not a CloudEvent: missing {', '.join(missing)}")
        time = h.get("ce_time")
        return cls(
            id=h["ce_id"],
            type=h["ce_type"],
            source=h["ce_source"],
            time=datetime.fromisoformat(time.replace("Z", "+00:00")) if time else None,
            specversion=h.get("ce_specversion", SPECVERSION),
            datacontenttype=h.get("content-type", "application/json"),
        )


# One small record per relay and per consumer group, to tell a broker that kept its data
# from one that forgot (the embedded Tansu keeps everything in memory).
MARKERS_TOPIC = "innopark.relay-markers"


class BrokerMemory:
    """Tells whether the broker still holds what it acknowledged.

    A marker record is written alone (so its offset is exact) and later looked for: a
    broker that restarted empty, or a new cluster behind the same address, no longer has
    it. `forgot()` answers why when that happened, and writes a new marker."""

    def __init__(self, settings: ServiceSettings, owner: str) -> None:
        self.settings = settings
        self.owner = owner
        self._marker: tuple[TopicPartition, int] | None = None
        self._offsets: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        # A group-less consumer only to read end offsets (it never joins a group).
        self._offsets = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            client_id=f"{self.owner}-broker-memory",
            enable_auto_commit=False,
            request_timeout_ms=10_000,
        )
        await self._offsets.start()

    async def stop(self) -> None:
        if self._offsets is not None:
            try:
                await asyncio.wait_for(self._offsets.stop(), timeout=5)
            except Exception:
                pass
            self._offsets = None

    async def forgot(self, producer: AIOKafkaProducer) -> str | None:
        if self._offsets is None:
            return None
        if self._marker is None:
            await self._write(producer)
            return None
        tp, offset = self._marker
        client = producer.client
        await asyncio.wait_for(client.force_metadata_update(), timeout=10)
        if tp.partition not in (client.cluster.partitions_for_topic(tp.topic) or ()):
            why = f"{tp.topic} is gone"
        else:
            end = (await asyncio.wait_for(self._offsets.end_offsets([tp]), timeout=10))[tp]
            if end > offset:
                return None
            why = f"{tp.topic}[{tp.partition}] ends at {end}, the marker was at {offset}"
        self._marker = None
        await self._write(producer)
        return why

    async def _write(self, producer: AIOKafkaProducer) -> None:
        await ensure_topics(self.settings, [MARKERS_TOPIC])
        meta = await asyncio.wait_for(
            producer.send_and_wait(
                MARKERS_TOPIC, value=datetime.now(UTC).isoformat().encode(), key=self.owner.encode()
            ),
            timeout=30,
        )
        self._marker = (TopicPartition(meta.topic, meta.partition), meta.offset)
