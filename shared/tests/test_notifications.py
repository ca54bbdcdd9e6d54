"""The notification outbox and its sender, against a real PostgreSQL and a real SMTP server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from innopark_shared.db import Database, service_metadata
from innopark_shared.devrun.embedded import free_port
from innopark_shared.notifications import FAILED, PENDING, SENT, Notifications, mail_body
from innopark_shared.notifications.sender import NotificationSender
from innopark_shared.settings import ServiceSettings
from innopark_shared.testing import SmtpSink

pytestmark = pytest.mark.timeout(60)


async def _setup(infra) -> tuple[Database, Notifications]:
    url = (await infra.create_database("ntf")).replace("postgresql://", "postgresql+asyncpg://")
    metadata = service_metadata("svc")
    notifications = Notifications(metadata, service="svc")
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(sa.text('CREATE SCHEMA "svc"'))
        await conn.run_sync(lambda c: notifications.table.create(c))
    return db, notifications


def _sender(db: Database, notifications: Notifications, **kw) -> NotificationSender:
    settings = ServiceSettings(
        database_url=db.url,
        smtp_from="Innopark <no-reply@parks.test>",
        public_base_url="https://parks.test/",
        notification_poll_interval_seconds=0.1,
        **kw,
    )
    return NotificationSender(settings=settings, database=db, table=notifications.table)


async def _add(db: Database, notifications: Notifications, **kw) -> uuid.UUID | None:
    async with db.transaction() as session:
        return await notifications.add(
            session,
            kind=kw.pop("kind", "thing.happened"),
            to=kw.pop("to", "someone@example.test"),
            subject=kw.pop("subject", "Something happened"),
            body=mail_body("Hello,", ["Something happened."], links={"See": "/api/v1/things/1"}),
            **kw,
        )


async def _status(db: Database, notifications: Notifications, nid: uuid.UUID):
    async with db.transaction() as session:
        t = notifications.table
        return (await session.execute(sa.select(t).where(t.c.id == nid))).one()


async def test_sent_once_with_a_message_id_of_its_own(infra, smtp_server: SmtpSink) -> None:
    db, notifications = await _setup(infra)
    nid = await _add(db, notifications, to="ana@example.test")
    assert nid is not None
    sender = _sender(db, notifications, smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0  # marked sent: not claimed again
    [mail] = smtp_server.received()
    assert mail.recipients == ["ana@example.test"]
    assert mail.message_id == f"<{nid}@parks.test>"
    assert mail.kind == "thing.happened" and mail.subject == "Something happened"
    assert (
        "Something happened." in mail.body
        and "See: https://parks.test/api/v1/things/1" in mail.body
    )
    row = await _status(db, notifications, nid)
    assert row.status == SENT and row.sent_at is not None and row.attempts == 1
    assert sender.sent == 1 and await sender.count_pending() == 0
    await db.dispose()


async def test_a_subject_is_one_line_and_a_bad_address_fails_for_good(
    infra, smtp_server: SmtpSink
) -> None:
    db, notifications = await _setup(infra)
    sent = await _add(db, notifications, subject="Forum\nBcc: all@example.test")
    bad = await _add(db, notifications, to="someone@example.test\nBcc: all@example.test")
    assert sent is not None and bad is not None
    sender = _sender(db, notifications, smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    await sender.send_due()
    [mail] = smtp_server.received()
    assert mail.subject == "Forum Bcc: all@example.test" and "Bcc" not in mail.message
    assert mail.recipients == ["someone@example.test"]
    assert (await _status(db, notifications, bad)).status == FAILED
    assert (await _status(db, notifications, sent)).status == SENT
    await db.dispose()


async def test_a_key_makes_it_once_only_and_no_recipient_means_none(infra) -> None:
    db, notifications = await _setup(infra)
    assert await _add(db, notifications, key="cert:1:expiring:60d") is not None
    assert await _add(db, notifications, key="cert:1:expiring:60d") is None
    assert await _add(db, notifications, to=None) is None
    async with db.transaction() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(notifications.table))
    assert count == 1
    await db.dispose()


async def test_kept_pending_while_smtp_is_down_then_sent(infra) -> None:
    db, notifications = await _setup(infra)
    nid = await _add(db, notifications)
    assert nid is not None
    port = free_port()  # nothing listens there yet
    sender = _sender(db, notifications, smtp_host="127.0.0.1", smtp_port=port)
    await sender.send_due()
    row = await _status(db, notifications, nid)
    assert row.status == PENDING and row.attempts == 1 and row.last_error
    assert sender.failed_attempts == 1
    sink = SmtpSink(port=port).start()
    try:
        await asyncio.sleep(0.15)  # the first backoff (the poll interval)
        assert await sender.send_due() == 1
        assert len(sink.received()) == 1
        assert (await _status(db, notifications, nid)).status == SENT
    finally:
        sink.stop()
    await db.dispose()


async def test_a_permanent_refusal_is_not_retried(infra) -> None:
    db, notifications = await _setup(infra)

    class Refusing(SmtpSink):
        async def handle_RCPT(self, server, session, envelope, address, options):
            return "550 No such mailbox"

    sink = Refusing().start()
    try:
        nid = await _add(db, notifications, to="gone@example.test")
        assert nid is not None
        sender = _sender(db, notifications, smtp_host=sink.host, smtp_port=sink.port)
        await sender.send_due()
        row = await _status(db, notifications, nid)
        assert row.status == FAILED and "550" in row.last_error
        assert sender.gave_up == 1 and sink.received() == []
    finally:
        sink.stop()
    await db.dispose()


async def test_without_smtp_host_nothing_is_sent_and_pending_is_counted(infra) -> None:
    db, notifications = await _setup(infra)
    await _add(db, notifications)
    await _add(db, notifications)
    sender = _sender(db, notifications)  # SMTP_HOST unset
    task = asyncio.create_task(sender.run())
    try:
        for _ in range(50):
            if sender.pending:
                break
            await asyncio.sleep(0.05)
        assert sender.pending == 2 and sender.sent == 0
    finally:
        task.cancel()
    await db.dispose()


async def test_replicas_never_send_the_same_row(infra, smtp_server: SmtpSink) -> None:
    db, notifications = await _setup(infra)
    ids = [await _add(db, notifications, to=f"p{i}@example.test") for i in range(30)]
    env = {"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    a, b = _sender(db, notifications, **env), _sender(db, notifications, **env)
    while await asyncio.gather(a.send_due(), b.send_due()) != [0, 0]:
        pass
    received = smtp_server.received()
    assert len(received) == 30
    assert {m.message_id for m in received} == {f"<{i}@parks.test>" for i in ids}
    await db.dispose()


async def test_sent_rows_are_kept_for_the_retention_then_pruned(infra, smtp_server) -> None:
    db, notifications = await _setup(infra)
    old, fresh, waiting = [await _add(db, notifications) for _ in range(3)]
    env = {"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    sender = _sender(db, notifications, notification_retention_days=1, **env)
    async with db.transaction() as session:
        t = notifications.table
        await session.execute(
            sa.update(t).where(t.c.id.in_([old, fresh])).values(status=SENT, sent_at=sa.func.now())
        )
        await session.execute(
            sa.update(t)
            .where(t.c.id.in_([old, waiting]))
            .values(created_at=sa.func.now() - sa.text("interval '2 days'"))
        )
    assert await sender.prune() == 1  # the old sent one; never one still pending
    async with db.transaction() as session:
        left = set(await session.scalars(sa.select(notifications.table.c.id)))
    assert left == {fresh, waiting}
    await db.dispose()
