"""E-mail notifications, written by the outbox path: none lost, none sent twice by us.

A service keeps a `notifications` table in its own schema (`notifications_table`, created by
`migrations.create_notifications_table`) and records a notification with
`await notifications.add(session, ...)` in the transaction of the change it tells about:
the change and its notification commit together or not at all. A sender loop
(`Notifications.sender`, one of the service's background jobs) claims due rows with
`FOR UPDATE SKIP LOCKED` and a lease (so replicas never send the same row at once, and a
row whose sender died is due again when the lease ends), sends each through the
configured SMTP server (`SMTP_*` settings) and marks it sent at once.

What "exactly once" means here: every change yields one notification row (the same
transaction; a `key` makes a time-driven one, such as "certificate X expires in 60 days",
once-only for good), and a row is marked sent as soon as the server accepted it. The one
window left is a crash after the server's `250` and before that mark: the row is then sent
again after its lease, with the same `Message-ID` (`<notification id@domain>`), so the
copy is recognisable as the same message (mail stores and clients that deduplicate by
Message-ID show it once). Delivery to the SMTP server is at least once; the message is one.

With no `SMTP_HOST` nothing is sent: rows stay pending, counted in the
`innopark_notifications_pending` metric, and go out once a server is configured.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

TABLE = "notifications"
DUE_INDEX = "ix_notifications_due"
PENDING, SENT, FAILED = "pending", "sent", "failed"


def notification_columns() -> list[Any]:
    """One e-mail to one recipient, kept after it was sent (the record of what was told)."""
    return [
        # Also the Message-ID's left part: a resend is recognisably the same message.
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        # Once-only key (e.g. "certificate:<id>:expiring:60d"): a second add is ignored.
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),  # e.g. registration.confirmed
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        # pending -> sent | failed (refused for good, or attempts used up)
        sa.Column("status", sa.String(20), nullable=False, server_default=PENDING),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("seq", name="uq_notifications_seq"),
        sa.UniqueConstraint("key", name="uq_notifications_key"),
        sa.Index(DUE_INDEX, "next_attempt_at", postgresql_where=sa.text("status = 'pending'")),
    ]


def notifications_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(TABLE, metadata, *notification_columns())


# Stands for the public base URL in a stored body; the sender puts the configured
# `INNOPARK_PUBLIC_BASE_URL` in its place, so domain code needs no settings for links.
PUBLIC_BASE_URL = "{{public_base_url}}"


def mail_body(
    greeting: str, paragraphs: Sequence[str], *, links: Mapping[str, str] | None = None
) -> str:
    """Plain text: a greeting, the essentials, the links (`label: path`; each path, e.g.
    `/api/v1/events/...`, is sent as an absolute link under the public base URL), and a
    line saying where the message comes from."""
    parts = [greeting, *[p for p in paragraphs if p]]
    if links:
        parts.append(
            "\n".join(
                f"{label}: {PUBLIC_BASE_URL}/{path.lstrip('/')}" for label, path in links.items()
            )
        )
    parts.append(
        "-- \nInnopark, the platform of the Association of Technological Parks.\n"
        "This message was sent automatically; replies are not read."
    )
    return "\n\n".join(parts) + "\n"


class Notifications:
    """A service's notifications, built beside its metadata in `models.py`:

        notifications = Notifications(metadata, service="events")

    Domain code records one with `await notifications.add(session, ...)`; the app runs
    `notifications.sender` among its background jobs."""

    def __init__(self, metadata: sa.MetaData, *, service: str) -> None:
        self.table = notifications_table(metadata)
        self.service = service

    async def add(
        self,
        session: AsyncSession,
        *,
        kind: str,
        to: str | None,
        subject: str,
        body: str,
        key: str | None = None,
    ) -> uuid.UUID | None:
        """Record a notification in the caller's transaction; its id, or None when there
        is nobody to send it to or `key` was recorded before (once-only)."""
        if not to:
            return None
        notification_id = uuid.uuid4()
        inserted = await session.execute(
            pg_insert(self.table)
            .values(
                id=notification_id,
                key=key or f"{kind}:{notification_id}",
                kind=kind,
                recipient=to,
                # One line: a title with a line break must not become a header of its own.
                subject=" ".join(subject.split())[:300],
                body=body,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(self.table.c.id)
        )
        return inserted.scalar_one_or_none()

    @property
    def sender(self) -> Callable[[FastAPI], Awaitable[None]]:
        """The background job that sends what is due (`create_service_app(background=)`)."""
        table = self.table

        async def notification_sender(app: FastAPI) -> None:
            from .sender import NotificationSender

            sender = getattr(app.state, "notifications", None)
            if sender is None:  # kept across restarts of the job, with its counters
                sender = NotificationSender(
                    settings=app.state.settings, database=app.state.database, table=table
                )
                app.state.notifications = sender
            await sender.run()

        return notification_sender
