"""The pool pings only connections that sat idle, and reads run outside transactions.

A connection is killed here with `pg_terminate_backend`, as a database restart would:
one that sat idle is replaced before anybody uses it; one that answered a moment ago
fails that one request with a 503 problem, and the next request gets a fresh one."""

import asyncio
import uuid

import asyncpg
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from innopark_shared.db import Database, ReadSessionDep
from innopark_shared.errors import install_problem_handlers
from innopark_shared.outages import is_transient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

BACKEND = sa.select(sa.func.pg_backend_pid().label("pid"))


async def _database(infra, ping_after_idle: float) -> Database:
    url = await infra.create_database("pool")
    return Database(
        url.replace("postgresql://", "postgresql+asyncpg://"),
        pool_size=1,
        max_overflow=0,
        ping_after_idle=ping_after_idle,
    )


async def _terminate(database: Database, pid: int) -> None:
    conn = await asyncpg.connect(database.url.replace("+asyncpg", ""))
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_a_connection_killed_while_idle_is_replaced_before_use(infra):
    database = await _database(infra, ping_after_idle=0.2)
    try:
        first = (await database.read_row(BACKEND)).pid
        await _terminate(database, first)
        await asyncio.sleep(0.4)
        second = (await database.read_row(BACKEND)).pid  # no error: pinged, replaced
        assert second != first
    finally:
        await database.dispose()


async def test_a_hot_read_on_a_killed_connection_fails_as_an_outage_once(infra):
    """`read_row` runs on the driver's connection: a dead one must still leave the pool,
    or every later read on it would fail too."""
    database = await _database(infra, ping_after_idle=60)
    try:
        first = await database.read_row(BACKEND)
        assert first is not None and first.pid == first["pid"]
        await _terminate(database, first.pid)
        with pytest.raises(Exception) as failed:
            await database.read_row(BACKEND)
        assert is_transient(failed.value), failed.value
        second = await database.read_row(BACKEND)
        assert second is not None and second.pid != first.pid
        assert await database.read_row(BACKEND.where(sa.false())) is None
    finally:
        await database.dispose()


async def test_a_connection_killed_right_after_use_costs_one_503_then_recovers(infra):
    database = await _database(infra, ping_after_idle=60)
    app = FastAPI()
    app.state.database = database
    install_problem_handlers(app)

    @app.get("/pid")
    async def pid(session: ReadSessionDep) -> dict[str, int]:
        return {"pid": (await session.execute(BACKEND)).scalar_one()}

    try:
        async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
            first = await client.get("/pid")
            await _terminate(database, first.json()["pid"])
            broken = await client.get("/pid")
            again = await client.get("/pid")
        assert first.status_code == 200
        assert broken.status_code == 503, broken.text
        assert broken.headers["content-type"] == "application/problem+json"
        assert int(broken.headers["retry-after"]) > 0
        assert again.status_code == 200 and again.json()["pid"] != first.json()["pid"]
    finally:
        await database.dispose()


class _Base(DeclarativeBase):
    pass


class _Note(_Base):
    __tablename__ = "notes"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


async def test_reads_run_outside_a_transaction_and_refuse_to_write(infra):
    database = await _database(infra, ping_after_idle=1)
    async with database.engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    try:
        async with database.reading() as session:
            # Outside a transaction each statement has its own start time; inside one,
            # now() would be the same for both.
            first = (await session.execute(sa.select(sa.func.now()))).scalar_one()
            await asyncio.sleep(0.01)
            second = (await session.execute(sa.select(sa.func.now()))).scalar_one()
            assert second > first
            session.add(_Note(id=uuid.uuid4()))
            with pytest.raises(RuntimeError, match="does not write"):
                await session.flush()
        async with database.transaction() as session:
            assert (await session.execute(sa.select(sa.func.count(_Note.id)))).scalar_one() == 0
    finally:
        await database.dispose()
