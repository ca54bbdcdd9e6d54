"""The sender loop: claim due notifications (SKIP LOCKED, with a lease), send each through
SMTP with a stable Message-ID, mark it sent at once; retry what the server refused for now
with backoff, give up on what it refused for good."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import aiosmtplib
import sqlalchemy as sa

from ..db import Database
from ..settings import ServiceSettings
from . import FAILED, PENDING, PUBLIC_BASE_URL, SENT

log = logging.getLogger(__name__)

# The longest pause between two attempts of one notification.
MAX_BACKOFF = timedelta(hours=6)
# How often sent and failed rows past their retention are deleted.
PRUNE_EVERY_SECONDS = 3600.0


def message_id(notification_id: uuid.UUID, sender: str) -> str:
    """`<id@domain>`: the same for every attempt, so a resend is the same message."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "innopark.local"
    return f"<{notification_id}@{domain}>"


def build_message(row: Any, settings: ServiceSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = message_id(row.id, settings.smtp_from)
    message["X-Innopark-Notification"] = row.kind
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message.set_content(row.body.replace(PUBLIC_BASE_URL, settings.public_base_url.rstrip("/")))
    return message


def _permanent(exc: Exception) -> bool:
    """A 5xx answer (an unknown mailbox, a refused sender) will not change on a retry."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


class NotificationSender:
    """Sends one service's notifications. Every replica may run one: rows are claimed."""

    def __init__(self, *, settings: ServiceSettings, database: Database, table: sa.Table) -> None:
        self.settings = settings
        self.database = database
        self.table = table
        self.sent = 0
        self.failed_attempts = 0
        self.gave_up = 0
        self.pending = 0
        self.last_error: str | None = None
        self._warned_disabled = False

    @property
    def enabled(self) -> bool:
        return bool(self.settings.smtp_host)

    @property
    def lease(self) -> timedelta:
        """How long a claimed row is left to its sender before another may take it."""
        return timedelta(seconds=self.settings.smtp_timeout_seconds * 2 + 5)

    async def run(self) -> None:
        interval = self.settings.notification_poll_interval_seconds
        loop = asyncio.get_running_loop()
        last_prune = -PRUNE_EVERY_SECONDS
        while True:
            sent = 0
            try:
                if self.enabled:
                    sent = await self.send_due()
                elif not self._warned_disabled:
                    log.warning("SMTP_HOST is not set: notifications are kept pending")
                    self._warned_disabled = True
                self.pending = await self.count_pending()
                if loop.time() - last_prune >= PRUNE_EVERY_SECONDS:
                    await self.prune()
                    last_prune = loop.time()
            except (OSError, sa.exc.DBAPIError, sa.exc.InterfaceError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("notification sender: %s", self.last_error)
            if sent < self.settings.notification_batch_size:
                await asyncio.sleep(interval)

    async def send_due(self) -> int:
        """Claim and send one batch of due notifications; how many were claimed."""
        rows = await self.claim(self.settings.notification_batch_size)
        for row in rows:
            await self.send_one(row)
        return len(rows)

    async def claim(self, limit: int) -> list[Any]:
        t = self.table
        due = (
            sa.select(t.c.id)
            .where(t.c.status == PENDING, t.c.next_attempt_at <= sa.func.now())
            .order_by(t.c.next_attempt_at, t.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.database.transaction() as session:
            result = await session.execute(
                sa.update(t)
                .where(t.c.id.in_(due.scalar_subquery()))
                .values(
                    next_attempt_at=sa.func.now() + self.lease,
                    attempts=t.c.attempts + 1,
                )
                .returning(*t.c)
            )
            return sorted(result.all(), key=lambda r: r.seq)

    async def send_one(self, row: Any) -> None:
        settings = self.settings
        try:
            await aiosmtplib.send(
                build_message(row, settings),
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=(
                    settings.smtp_password.get_secret_value() if settings.smtp_password else None
                ),
                start_tls=settings.smtp_starttls,
                use_tls=settings.smtp_tls,
                timeout=settings.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._failed(row, exc)
            return
        except Exception as exc:  # a message that cannot be built (a bad address): for good
            await self._failed(row, exc, permanent=True)
            return
        await self._mark(row.id, status=SENT, sent_at=sa.func.now(), last_error=None)
        self.sent += 1
        self.last_error = None

    async def _failed(self, row: Any, exc: Exception, *, permanent: bool = False) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        self.failed_attempts += 1
        self.last_error = error
        if permanent or _permanent(exc) or row.attempts >= self.settings.notification_max_attempts:
            log.warning("notification %s (%s) not sent, giving up: %s", row.id, row.kind, error)
            self.gave_up += 1
            await self._mark(row.id, status=FAILED, last_error=error)
            return
        delay = min(
            timedelta(seconds=self.settings.notification_poll_interval_seconds)
            * 2 ** (row.attempts - 1),
            MAX_BACKOFF,
        )
        log.info("notification %s not sent (%s); again in %s", row.id, error, delay)
        await self._mark(row.id, next_attempt_at=datetime.now(UTC) + delay, last_error=error)

    async def _mark(self, notification_id: uuid.UUID, **values: Any) -> None:
        """Record an outcome. If this fails (the database is away), the lease runs out and
        the row is sent again: at least once, never lost."""
        async with self.database.transaction() as session:
            await session.execute(
                sa.update(self.table)
                .where(self.table.c.id == notification_id, self.table.c.status == PENDING)
                .values(**values)
            )

    async def prune(self) -> int:
        """Delete sent and failed notifications older than the retention; how many."""
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.notification_retention_days)
        async with self.database.transaction() as session:
            deleted = await session.execute(
                sa.delete(self.table)
                .where(self.table.c.status != PENDING, self.table.c.created_at < cutoff)
                .returning(self.table.c.id)
            )
            return len(deleted.all())

    async def count_pending(self) -> int:
        async with self.database.transaction() as session:
            return (
                await session.execute(
                    sa.select(sa.func.count()).where(self.table.c.status == PENDING)
                )
            ).scalar_one()
