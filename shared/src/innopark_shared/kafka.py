"""Kafka clients with the settings we rely on, and the CloudEvents binary-mode envelope.

aiokafka's defaults are unsafe for us (acks=1, auto-commit before the handler ran), so
every client in the platform is built here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
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
