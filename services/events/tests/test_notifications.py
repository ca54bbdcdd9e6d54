"""Registrants' e-mails through a real SMTP server, with the service killed (SIGKILL) in the
middle: each notification still arrives once, and a resend after a crash between the
server's acceptance and the sender's mark is the same message (the same Message-ID)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from innopark_shared.testing import SmtpSink, wait_until

pytestmark = pytest.mark.timeout(180)

FAST = {
    "PUBLIC_BASE_URL": "https://innopark.example",
    "NOTIFICATION_POLL_INTERVAL_SECONDS": "0.2",
    # The lease on a claimed notification is twice this plus 5 s.
    "SMTP_TIMEOUT_SECONDS": "3",
    "SMTP_FROM": "Innopark <no-reply@innopark.example>",
}


async def _notification(service, kind: str):
    conn = await asyncpg.connect(service.database_url.replace("+asyncpg", ""))
    try:
        return await conn.fetchrow(
            "SELECT id, status, attempts FROM events.notifications WHERE kind = $1", kind
        )
    finally:
        await conn.close()


async def _register(service, token_issuer, h) -> dict:
    operator = token_issuer.headers("operator")
    async with service.client() as client:
        event = await h.published_event(client, operator, capacity=5, venue="Hall A")
        created = await client.post(f"/api/v1/events/{event['id']}/registrations", json=h.person())
        assert created.status_code == 201, created.text
        return created.json() | {"event": event}


async def test_pending_while_smtp_is_down_survives_a_kill(start_service, token_issuer, h):
    sink = SmtpSink()  # its port is chosen, nothing listens there yet
    service = await start_service("events", **FAST, **sink.env)
    registration = await _register(service, token_issuer, h)

    async def tried() -> bool:
        row = await _notification(service, "registration.received")
        return row is not None and row["attempts"] >= 1

    assert await wait_until(tried, timeout=15)
    row = await _notification(service, "registration.received")
    assert row["status"] == "pending"
    await service.kill()
    sink.start()
    try:
        await service.restart()
        [mail] = await sink.wait_for(1, timeout=20)
        assert mail.recipients == [registration["email"]]
        assert mail.message_id == f"<{row['id']}@innopark.example>"
        assert mail.subject == f"Registration received: {registration['event']['title']}"
        assert registration["ticket_code"] in mail.body
        assert (
            f"https://innopark.example/api/v1/events/{registration['event']['id']}"
            f"/registrations/{registration['id']}" in mail.body
        )
        assert registration["token"] not in mail.body
        await asyncio.sleep(1.0)
        assert len(sink.received()) == 1  # once, and never again
        assert (await _notification(service, "registration.received"))["status"] == "sent"
        async with service.client() as client:
            metrics = (await client.get("/metrics")).text
        assert 'innopark_notifications_sent_total{service="events"} 1.0' in metrics
        assert 'innopark_notifications_pending{service="events"} 0.0' in metrics
    finally:
        sink.stop()


async def test_a_kill_before_the_mark_resends_the_same_message(start_service, token_issuer, h):
    # The server keeps the message, then holds its 250: the sender is killed before it
    # hears that the message was accepted, so it cannot have marked it sent.
    sink = SmtpSink(hold_seconds=60).start()
    try:
        service = await start_service("events", **FAST, **sink.env)
        registration = await _register(service, token_issuer, h)
        [first] = await sink.wait_for(1, timeout=15)
        await service.kill()
        row = await _notification(service, "registration.received")
        assert row["status"] == "pending"  # accepted by the server, not marked
        sink.hold_seconds = 0
        await service.restart()
        copies = await sink.wait_for(2, timeout=30)  # due again when its lease ends
        assert len(copies) == 2
        assert {m.message_id for m in copies} == {f"<{row['id']}@innopark.example>"}
        assert copies[0].body == copies[1].body and copies[1].recipients == [registration["email"]]

        async def marked() -> bool:
            return (await _notification(service, "registration.received"))["status"] == "sent"

        assert await wait_until(marked, timeout=10)
        await asyncio.sleep(1.0)
        assert len(sink.received()) == 2  # marked sent: no third copy
        assert first.message_id == copies[1].message_id
    finally:
        sink.stop()
