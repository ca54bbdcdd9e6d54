"""Real servers for a test session: an embedded PostgreSQL and Tansu broker."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy.engine import make_url

from ..contracts import IntegrationEvent
from ..devrun.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from ..kafka import Envelope


@dataclass
class Infra:
    admin_url: str  # postgresql:// URL of a superuser
    bootstrap_servers: str

    async def publish(self, event: IntegrationEvent, *, source: str) -> None:
        """Put `event` on its topic as its publisher's relay would (CloudEvents headers,
        aggregate key): how a test announces what another service would have."""
        envelope = Envelope(
            id=str(uuid.uuid4()), type=event.event_type, source=source, time=datetime.now(UTC)
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(
                event.topic,
                event.model_dump_json().encode(),
                key=event.key.encode(),
                headers=envelope.headers(),
            )
        finally:
            await producer.stop()

    async def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def infra() -> AsyncIterator[Infra]:
    db_url = os.environ.get("TEST_DATABASE_URL")
    kafka = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
    workdir = Path(tempfile.mkdtemp(prefix="innopark-test-"))
    postgres = broker = None
    log = open(workdir / "infra.log", "wb")
    try:
        if not db_url:
            postgres = EmbeddedPostgres(workdir / "postgres", port=free_port())
            await postgres.start(stdout=log.fileno())
            db_url = postgres.admin_url
        if not kafka:
            broker = EmbeddedBroker(port=free_port())
            await broker.start(stdout=log.fileno())
            kafka = broker.bootstrap_servers
        yield Infra(admin_url=db_url.replace("+asyncpg", ""), bootstrap_servers=kafka)
    finally:
        if broker:
            await broker.stop()
        if postgres:
            await postgres.stop()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(infra: Infra) -> str:
    """An administrator's asyncpg URL to a fresh database (one per session)."""
    url = await infra.create_database("gw")
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)
