"""The orders service's e-mails through a real SMTP server: an order returned to its
partner, the proposers told of shortlisting and rejection, each received once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from innopark_shared.testing import SmtpSink

pytestmark = pytest.mark.timeout(180)


async def test_returned_order_and_decisions_arrive_once(start_service, token_issuer, h):
    sink = SmtpSink().start()
    try:
        orders = await start_service(
            "orders",
            NOTIFICATION_POLL_INTERVAL_SECONDS="0.2",
            INNOPARK_PUBLIC_BASE_URL="https://innopark.example",
            SMTP_FROM="Innopark <no-reply@innopark.example>",
            **sink.env,
        )
        operator = token_issuer.headers("operator")
        async with orders.client() as client:
            created = await client.post(
                "/api/v1/partners",
                headers=operator,
                json={
                    "name": f"Mail Corp {uuid.uuid4().hex[:6]}",
                    "country": "DE",
                    "contact_name": "Eva Braun",
                    "contact_email": "eva@partner.example",
                },
            )
            assert created.status_code == 201, created.text
            partner = token_issuer.headers("partner", partner_id=created.json()["id"])
            order = (
                await client.post("/api/v1/orders", json=h.order_body(), headers=partner)
            ).json()
            url = f"/api/v1/orders/{order['id']}"
            assert (await client.post(f"{url}/submit", headers=partner)).status_code == 200
            returned = await client.post(
                f"{url}/return", headers=operator, json={"comment": "State the throughput"}
            )
            assert returned.status_code == 200, returned.text

            [mail] = await sink.wait_for(1, kind="order.returned")
            assert mail.recipients == ["eva@partner.example"]
            assert mail.subject == f"Order {order['reference']} returned for changes"
            assert "State the throughput" in mail.body
            assert f"https://innopark.example/api/v1/orders/{order['id']}" in mail.body
            assert mail.message_id.endswith("@innopark.example>")

            assert (await client.post(f"{url}/submit", headers=partner)).status_code == 200
            assert (await client.post(f"{url}/publish", headers=operator)).status_code == 200
            ids = []
            for contact in ("one@resident.example", "two@resident.example"):
                resident = token_issuer.headers("resident", resident_id=uuid.uuid4())
                made = await client.post(
                    f"{url}/proposals",
                    headers=resident,
                    json={"summary": "We can", "contact_email": contact},
                )
                assert made.status_code == 201, made.text
                ids.append(made.json()["id"])
            shortlisted = await client.post(
                f"/api/v1/proposals/{ids[0]}/shortlist", headers=partner
            )
            assert shortlisted.status_code == 200, shortlisted.text
            rejected = await client.post(
                f"/api/v1/proposals/{ids[1]}/reject",
                headers=partner,
                json={"reason": "too_early_stage", "comment": "TRL 4 at best"},
            )
            assert rejected.status_code == 200, rejected.text

        [short] = await sink.wait_for(1, kind="proposal.shortlisted")
        [no] = await sink.wait_for(1, kind="proposal.rejected")
        assert short.recipients == ["one@resident.example"]
        assert no.recipients == ["two@resident.example"]
        assert "too early a stage" in no.body and "TRL 4 at best" in no.body
        await asyncio.sleep(1.0)
        assert [m.kind for m in sink.received()] == [
            "order.returned",
            "proposal.shortlisted",
            "proposal.rejected",
        ]  # once each; nothing for the proposals received
    finally:
        sink.stop()
