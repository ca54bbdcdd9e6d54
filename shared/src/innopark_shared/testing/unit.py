"""The unit tier: one migrated database per service, each test inside a transaction
rolled back after it, and what the test wrote to the outbox and the notifications."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from ..devrun.provision import provision
from .infra import Infra
from .services import run_command


@dataclass
class CapturedEvent:
    type: str
    topic: str
    key: str
    data: dict[str, Any]


class CapturedOutbox:
    """The outbox rows the current test's transaction wrote (the rollback removes them)."""

    def __init__(self, session: Any, schema: str) -> None:
        self._session = session
        self._schema = schema

    async def events(self, type_contains: str = "") -> list[CapturedEvent]:
        import sqlalchemy as sa

        rows = await self._session.execute(
            sa.text(
                f'SELECT type, topic, key, data FROM "{self._schema}".outbox '
                "WHERE position(:part in type) > 0 ORDER BY seq"
            ),
            {"part": type_contains},
        )
        return [CapturedEvent(r.type, r.topic, r.key, r.data) for r in rows]

    async def types(self) -> list[str]:
        """Short names of the events written so far, e.g. `park.created.v1`."""
        return [e.type.removeprefix("org.innopark.").split(".", 1)[-1] for e in await self.events()]


@dataclass
class CapturedNotification:
    kind: str
    recipient: str
    subject: str
    body: str
    key: str


class CapturedNotifications:
    """The e-mail notifications the current test's transaction wrote."""

    def __init__(self, session: Any, schema: str) -> None:
        self._session = session
        self._schema = schema

    async def all(self, kind: str | None = None) -> list[CapturedNotification]:
        import sqlalchemy as sa

        rows = await self._session.execute(
            sa.text(
                f'SELECT kind, recipient, subject, body, key FROM "{self._schema}".notifications '
                "WHERE CAST(:kind AS text) IS NULL OR kind = :kind ORDER BY seq"
            ),
            {"kind": kind},
        )
        return [CapturedNotification(r.kind, r.recipient, r.subject, r.body, r.key) for r in rows]

    async def kinds(self) -> list[str]:
        return [n.kind for n in await self.all()]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def migrated_databases(infra: Infra) -> AsyncIterator[Callable[[str], Awaitable[Any]]]:
    """`await migrated_databases("registry")`: an engine on a database of that service's
    own, provisioned and migrated once per test session."""
    from sqlalchemy import NullPool
    from sqlalchemy.ext.asyncio import create_async_engine

    engines: dict[str, Any] = {}
    lock = asyncio.Lock()

    async def engine_for(name: str) -> Any:
        async with lock:
            if name not in engines:
                db = await infra.create_database(f"unit_{name}")
                databases = await provision(db, [name], database=make_url(db).database or name)
                url = databases[name].url
                env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
                await run_command(sys.executable, "-m", f"innopark_{name}", "migrate", env=env)
                engines[name] = create_async_engine(url, poolclass=NullPool)
            return engines[name]

    yield engine_for
    for engine in engines.values():
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def db_session(
    request: pytest.FixtureRequest, migrated_databases: Callable[[str], Awaitable[Any]]
) -> AsyncIterator[Any]:
    """A session on the service's migrated database (the `service_name` fixture of the
    test's conftest names it) inside a transaction rolled back after the test, so tests
    see only their own rows. Service code may flush and use savepoints freely."""
    from sqlalchemy.ext.asyncio import AsyncSession

    engine = await migrated_databases(request.getfixturevalue("service_name"))
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
def outbox(db_session: Any, service_name: str) -> CapturedOutbox:
    """What the test's transaction wrote to the service's outbox."""
    return CapturedOutbox(db_session, service_name)


@pytest.fixture
def notifications(db_session: Any, service_name: str) -> CapturedNotifications:
    """What the test's transaction wrote to the service's notifications table."""
    return CapturedNotifications(db_session, service_name)
