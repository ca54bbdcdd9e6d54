"""Async SQLAlchemy per service schema, and the transaction that a request owns.

Each service declares its tables on `ServiceBase(schema)` metadata; the outbox and
inbox tables are added to that same metadata, so they live in the service's schema
and are migrated by the service's own Alembic history.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from .settings import ServiceSettings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> sa.MetaData:
    """Metadata whose tables live in `schema`, with the outbox and inbox already in it."""
    metadata = sa.MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
    sa.Table(
        "outbox",
        metadata,
        sa.Column("id", UUID(as_uuid=True), nullable=False),  # = CloudEvents id
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Index("ix_outbox_unpublished", "seq", postgresql_where=sa.text("published_at IS NULL")),
        sa.Index("ix_outbox_published_at", "published_at"),
    )
    sa.Table(
        "inbox",
        metadata,
        # Deduplication key: the CloudEvents id of a processed message.
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=True),
    )
    sa.Table(
        "dead_letters",
        metadata,
        *dead_letter_columns(),
        sa.Index(
            DEAD_LETTERS_PENDING_INDEX, "topic", postgresql_where=sa.text("status = 'pending'")
        ),
    )
    return metadata


DEAD_LETTERS_PENDING_INDEX = "ix_dead_letters_pending"


def dead_letter_columns() -> list[Any]:
    """A message the consumer gave up on, kept in the consuming service's own schema so it
    survives a broker that forgets, and can be replayed or discarded by an operator."""
    return [
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        # The CloudEvents id, or topic/partition/offset for a message without one: the
        # same message failing again updates its row instead of adding one.
        sa.Column("fingerprint", sa.String(300), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("key", sa.Text, nullable=True),
        sa.Column("headers", JSONB, nullable=False),  # [[name, value], ...] as text
        sa.Column("payload", sa.LargeBinary, nullable=True),
        sa.Column("event_id", sa.String(200), nullable=True),
        sa.Column("event_type", sa.String(200), nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        # pending -> replayed | discarded
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        sa.UniqueConstraint("fingerprint", name="uq_dead_letters_fingerprint"),
    ]


def dead_letters_table(metadata: sa.MetaData) -> sa.Table:
    return metadata.tables[f"{metadata.schema}.dead_letters"]


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return metadata.tables[f"{metadata.schema}.outbox"]


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    return metadata.tables[f"{metadata.schema}.inbox"]


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


def outbox_notify_trigger_sql(schema: str) -> list[str]:
    """DDL for the trigger that wakes the relay when an outbox row commits."""
    channel = notify_channel(schema)
    return [
        f"""
        CREATE OR REPLACE FUNCTION "{schema}".notify_outbox() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('{channel}', '');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """,
        f"""
        CREATE TRIGGER outbox_notify AFTER INSERT ON "{schema}".outbox
        FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".notify_outbox()
        """,
    ]


class Versioned:
    """Optimistic concurrency for a table: SQLAlchemy's `version_id_col`.

    Every UPDATE says `WHERE version = <the version read>` and bumps it; a row changed
    by another transaction meanwhile raises `StaleDataError`, which the problem handlers
    answer with 409 (and `If-Match` with a stale ETag answers 412 before any write).
    Never assign `version` by hand."""

    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        table: sa.Table = cls.__table__  # type: ignore[attr-defined]  # set by declarative
        return {"version_id_col": table.c.version, "eager_defaults": True}


def contains_pattern(text: str) -> str:
    """`%text%` for (I)LIKE, with the LIKE wildcards in `text` escaped (PostgreSQL's
    default escape character is the backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# A connection back in the pool for less than this is used without a ping first: it
# answered a moment ago. One that sat longer is pinged at checkout and replaced when
# the ping fails (a database restarted meanwhile).
PING_AFTER_IDLE_SECONDS = 1.0


def ping_when_idle(engine: sa.Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """`pool_pre_ping`, for connections that sat in the pool longer than `idle_seconds`.

    SQLAlchemy's pre-ping costs three round trips on asyncpg (BEGIN, `;`, ROLLBACK) on
    every checkout: a fifth of a single read. Under load a connection comes back to the
    pool and goes out again within milliseconds, and a database that died in between
    fails the statement instead, which invalidates the pool and answers that one request
    with a 503 problem; the outage handlers make it so. A connection idle for longer is
    pinged as before, so a restart during a quiet spell costs nobody a request."""

    @sa.event.listens_for(engine, "connect")
    @sa.event.listens_for(engine, "checkin")
    def _used(dbapi_connection: Any, record: Any) -> None:
        record.info["used_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        used_at = record.info.get("used_at")
        if used_at is not None and time.monotonic() - used_at < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool invalidates this connection and checks out another (3 tries).
            raise sa.exc.DisconnectionError(f"stale connection: {exc}") from exc


class RowView(Mapping[str, Any]):
    """A row `Database.read_row` found: its columns by name, as attributes (`row.name`,
    like a SQLAlchemy row) or as a mapping (`row["name"]`)."""

    __slots__ = ("_record",)

    def __init__(self, record: Mapping[str, Any]) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._record[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._record.keys())

    def __len__(self) -> int:
        return len(self._record)


class _ReadOnlySession(Session):
    """A session on an autocommit connection: each statement would commit on its own, so
    it refuses to flush changes rather than write them outside any transaction."""

    def flush(self, objects: Any = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise RuntimeError("a read session does not write; use the request's SessionDep")
        super().flush(objects)


class Database:
    """The engine and session factory of one service."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        connect_timeout: float = 5.0,
        pool_timeout: float = 10.0,
        ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
    ) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # A saturated pool, or a database that does not finish a connection (a server
            # dying during the handshake, an unreachable host), must be an outage
            # answered within seconds, not a 60 s hang: both raise, and become a 503.
            pool_timeout=pool_timeout,
            connect_args={"timeout": connect_timeout},
        )
        ping_when_idle(self.engine.sync_engine, ping_after_idle)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads of committed data need no BEGIN and COMMIT: under READ COMMITTED every
        # statement takes its own snapshot inside a transaction as well.
        self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # `read_row`'s statements compiled for asyncpg (each built once, by its caller).
        self._compiled: weakref.WeakKeyDictionary[sa.Select[Any], tuple[str, tuple[str, ...]]] = (
            weakref.WeakKeyDictionary()
        )
        self.read_sessionmaker = async_sessionmaker(
            self.read_engine,
            expire_on_commit=False,
            sync_session_class=_ReadOnlySession,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only, outside any transaction (no BEGIN, no COMMIT): for
        requests that read and write nothing, and need no locks or one snapshot."""
        async with self.read_sessionmaker() as session:
            yield session

    async def read_row(
        self, statement: sa.Select[Any], parameters: dict[str, Any] | None = None
    ) -> RowView | None:
        """The row a read-only statement finds (None if none), outside any transaction and
        without a session: a hot read of one row. Build `statement` once, with
        `sa.bindparam`s for `parameters`; its columns must be plain types (no SQLAlchemy
        result processing: JSON, arrays, dates and UUIDs come as asyncpg gives them).

        It runs on the pooled connection's asyncpg connection, compiled once: through
        SQLAlchemy's execute and its autocommit option the same read cost twice as much
        CPU (py-spy: 13 % of a registry read against 5 % for asyncpg's own fetch). A
        connection that fails is invalidated, as SQLAlchemy would."""
        sql, names = self._driver_sql(statement)
        arguments = [(parameters or {})[name] for name in names]
        async with self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            try:
                record = await driver.fetchrow(sql, *arguments)
            except BaseException as exc:
                if not driver.is_closed():
                    raise
                # Lost, as SQLAlchemy's is_disconnect would judge: out of the pool, and
                # an outage whatever asyncpg called it (a server's FATAL can surface as
                # an InternalClientError about the protocol's state).
                await conn.invalidate()
                if isinstance(exc, Exception):
                    raise ConnectionResetError(f"database connection lost: {exc!r}") from exc
                raise
        return None if record is None else RowView(record)

    def _driver_sql(self, statement: sa.Select[Any]) -> tuple[str, tuple[str, ...]]:
        found = self._compiled.get(statement)
        if found is None:
            compiled = statement.compile(dialect=self.engine.dialect)
            found = self._compiled[statement] = (compiled.string, tuple(compiled.positiontup or ()))
        return found

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _request_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.transaction() as session:
        yield session


async def _request_reads(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.reading() as session:
        yield session


# The edge owns the transaction: it commits before the response is sent
# (scope="function"), so a client never sees a 201 for a change that was rolled back.
SessionDep = Annotated[AsyncSession, Depends(_request_transaction, scope="function")]
# For an endpoint that only reads: no transaction; the connection goes back to the pool
# as soon as the endpoint returns. It refuses to flush a change.
ReadSessionDep = Annotated[AsyncSession, Depends(_request_reads, scope="function")]


async def _database(request: Request) -> Database:
    return request.app.state.database


async def app_settings(request: Request) -> ServiceSettings:
    """The settings the app was built with (`create_app(settings=...)`), never a global."""
    return request.app.state.settings


# The app's Database (for work outside the request's transaction, e.g. streaming exports)
# and its settings. A service whose settings add fields declares its own alias over the
# same function in its config.py: `SettingsDep = Annotated[OrdersSettings,
# Depends(app_settings)]`.
DatabaseDep = Annotated[Database, Depends(_database)]
SettingsDep = Annotated[ServiceSettings, Depends(app_settings)]
