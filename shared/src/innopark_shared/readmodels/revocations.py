"""Token revocations: which subjects' tokens are no longer valid, and below which version.

The gateway writes its own `token_revocations` table in the transaction that disables a
user, changes a role, revokes a client or key (and publishes `TokensRevokedV1`); every
service keeps the same table as a read model fed by that event. `RevocationList` holds
the table in memory in each process and refreshes it every `poll_interval` (a quarter of
a second), so every replica of every part refuses a revoked token within a second, and
`innopark_shared.auth.TokenVerifier` consults it on each token.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..contracts import TokensRevokedV1
from ..db import Database
from ..subscriptions import HandlerContext, Subscriptions

log = logging.getLogger(__name__)

TABLE = "token_revocations"
# Rows are read again for this long after they changed, so a transaction that committed
# late (its clock_timestamp() older than the last poll) is not missed.
OVERLAP = timedelta(seconds=30)


def _columns() -> list[Any]:
    return [
        sa.Column("subject", sa.String(200), primary_key=True),
        # Tokens of the subject with a `ver` claim below this are refused.
        sa.Column("min_version", sa.Integer, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.clock_timestamp(),
        ),
        sa.Index(f"ix_{TABLE}_updated_at", "updated_at"),
    ]


def token_revocations_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(TABLE, metadata, *_columns())


def create_token_revocations_table(op, schema: str) -> None:
    op.create_table(TABLE, *_columns(), schema=schema)


async def record_revocation(
    session: AsyncSession, table: sa.Table, *, subject: str, min_version: int
) -> None:
    """Raise the subject's minimum token version (never lower it), in the caller's
    transaction."""
    stmt = pg_insert(table).values(
        subject=subject, min_version=min_version, updated_at=sa.func.clock_timestamp()
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["subject"],
            set_={"min_version": stmt.excluded.min_version, "updated_at": stmt.excluded.updated_at},
            where=table.c.min_version < stmt.excluded.min_version,
        )
    )


def subscribe_revocations(subscriptions: Subscriptions, table: sa.Table) -> None:
    """Keep `table` in step with the gateway's `TokensRevokedV1` events."""

    @subscriptions.on(TokensRevokedV1)
    async def on_tokens_revoked(event: TokensRevokedV1, ctx: HandlerContext) -> None:
        await record_revocation(
            ctx.session, table, subject=event.subject, min_version=event.min_version
        )


class RevocationList:
    """The revocations table of this process's database, in memory, refreshed by polling.

    While the database cannot be read, the last state read stays in force (a token is
    refused or accepted as a quarter of a second ago); polling resumes by itself.
    """

    def __init__(self, database: Database, table: sa.Table, *, poll_interval: float = 0.25):
        self.database = database
        self.table = table
        self.poll_interval = poll_interval
        self._min_versions: dict[str, int] = {}
        self._since: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        # Set after the first read, whether it worked or not (start-up waits for it).
        self.tried = asyncio.Event()

    def is_revoked(self, subject: str, version: int) -> bool:
        return version < self._min_versions.get(subject, 0)

    def note(self, subject: str, min_version: int) -> None:
        """Apply a revocation this process just committed, before the next poll."""
        if self._min_versions.get(subject, 0) < min_version:
            self._min_versions[subject] = min_version

    async def refresh(self) -> None:
        t = self.table
        stmt = sa.select(t.c.subject, t.c.min_version, t.c.updated_at)
        if self._since is not None:
            stmt = stmt.where(t.c.updated_at > self._since - OVERLAP)
        async with self.database.reading() as session:  # one statement: no BEGIN, COMMIT
            rows = (await session.execute(stmt)).all()
        for subject, min_version, updated_at in rows:
            self.note(subject, min_version)
            if self._since is None or updated_at > self._since:
                self._since = updated_at

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await self.refresh()
                if failing:
                    log.info("token revocations readable again")
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    log.warning("cannot read token revocations (keeping the last state): %r", exc)
                failing = True
            self.tried.set()
            await asyncio.sleep(self.poll_interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="revocation-list")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
