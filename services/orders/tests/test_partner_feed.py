"""The partners' catch-up feed through the running service: what the webhooks would have
received (also what no endpoint wanted), paged by cursor, the partner's own only, with the
webhook's confidentiality; a message sent again from the feed keeps its webhook-id."""

from __future__ import annotations

import uuid

from innopark_shared.testing import wait_until

FEED = "/api/v1/webhooks/events"


async def _all(client, headers, **params) -> list[dict]:
    """Every page of the feed, following `next_cursor` until a page comes back empty."""
    items, cursor = [], None
    for _ in range(50):
        got = await client.get(
            FEED, headers=headers, params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert got.status_code == 200, got.text
        page = got.json()
        assert page["next_cursor"]  # always given
        if not page["items"]:
            return items
        items += page["items"]
        cursor = page["next_cursor"]
    raise AssertionError("the feed did not end")


async def test_the_feed_lists_what_the_webhooks_would_have_received(client, actors, receiver):
    partner_id, partner = await actors.partner("Feed Corp")
    _, rival = await actors.partner("Rival Corp")
    # The endpoint wants proposals only: the order's own messages reach it through the
    # feed alone.
    created = await client.post(
        "/api/v1/webhooks",
        headers=partner,
        json={"url": receiver.url, "event_types": ["proposal.received"]},
    )
    assert created.status_code == 201, created.text
    order = await actors.published_order(partner, confidential=True)
    await actors.published_order(rival)
    proposal = await client.post(
        f"/api/v1/orders/{order['id']}/proposals",
        headers=actors.resident(uuid.uuid4()),
        json={"summary": "We can"},
    )
    assert proposal.status_code == 201, proposal.text

    async def delivered() -> bool:
        return len(receiver.delivered()) == 1

    assert await wait_until(delivered, timeout=15)
    [webhook] = receiver.delivered().values()

    items = await _all(client, partner, limit=1)  # one per page: the cursor carries on
    assert [i["type"] for i in items] == ["order.submitted", "order.published", "proposal.received"]
    received = items[2]
    # The webhook's body exactly, under its webhook-id, with its delivery.
    assert received["message_id"] == webhook["id"]
    assert received["payload"] == webhook["body"]
    assert [d["status"] for d in received["deliveries"]] == ["succeeded"]
    assert items[0]["deliveries"] == []  # no endpoint wanted it
    data = received["payload"]["data"]
    assert data["resident_id"] is None and data["proposer_reference"].startswith("PR-")
    assert data["proposal_id"] == proposal.json()["id"]

    # Only its own: the rival's feed has the rival's order, never this partner's.
    theirs = await _all(client, rival)
    assert [i["type"] for i in theirs] == ["order.submitted", "order.published"]
    assert order["id"] not in {i["payload"]["data"]["order_id"] for i in theirs}
    peek = await client.get(FEED, headers=rival, params={"partner_id": partner_id})
    assert peek.status_code == 404, peek.text
    resident = await client.get(FEED, headers=actors.resident(uuid.uuid4()))
    assert resident.status_code == 403, resident.text
    # The association reads any partner's.
    as_operator = await _all(client, actors.operator, partner_id=partner_id)
    assert [i["message_id"] for i in as_operator] == [i["message_id"] for i in items]

    only = await _all(client, partner, type="order.published")
    assert [i["message_id"] for i in only] == [items[1]["message_id"]]
    bad = await client.get(FEED, headers=partner, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"

    # Sent again from the feed: the endpoint that wants it gets the same webhook-id.
    again = await client.post(f"{FEED}/{received['message_id']}/redeliver", headers=partner)
    assert again.status_code == 202, again.text

    async def twice() -> bool:
        return sum(1 for m in receiver.messages() if m["id"] == webhook["id"]) == 2

    assert await wait_until(twice, timeout=15)
    # A message no enabled endpoint wants is refused, saying so.
    refused = await client.post(f"{FEED}/{items[0]['message_id']}/redeliver", headers=partner)
    assert refused.status_code == 409, refused.text
    unknown = await client.post(f"{FEED}/msg_nope/redeliver", headers=rival)
    assert unknown.status_code == 404


async def test_a_manual_redelivery_settles_the_pending_retry(
    start_service, token_issuer, receiver, h
):
    # The first attempt fails and the retry waits ten minutes: it is pending when the
    # partner, its endpoint fixed, asks for the message again.
    orders = await start_service(
        "orders",
        WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
        WEBHOOK_RETRY_SCHEDULE="[0, 600]",
        WEBHOOK_JITTER="0",
        WEBHOOK_POLL_INTERVAL_SECONDS="0.1",
    )
    receiver.status = 503
    operator = token_issuer.headers("operator")
    async with orders.client() as client:
        created = await client.post(
            "/api/v1/partners", headers=operator, json={"name": "Retry Corp", "country": "DE"}
        )
        partner = token_issuer.headers("partner", partner_id=created.json()["id"])
        hook = (
            await client.post("/api/v1/webhooks", headers=partner, json={"url": receiver.url})
        ).json()
        order = (await client.post("/api/v1/orders", json=h.order_body(), headers=partner)).json()
        assert (
            await client.post(f"/api/v1/orders/{order['id']}/submit", headers=partner)
        ).status_code == 200
        log_url = f"/api/v1/webhooks/{hook['id']}/deliveries"

        async def failed_once() -> bool:
            items = (await client.get(log_url, headers=partner)).json()["items"]
            return bool(items) and items[0]["attempts"] == 1

        assert await wait_until(failed_once, timeout=15)
        [pending] = (await client.get(log_url, headers=partner)).json()["items"]
        assert pending["status"] == "pending" and pending["last_status_code"] == 503

        receiver.status = 200
        again = await client.post(f"{log_url}/{pending['id']}/redeliver", headers=partner)
        assert again.status_code == 202, again.text
        assert again.json()["id"] == pending["id"]  # the pending retry itself, now

        async def settled() -> bool:
            items = (await client.get(log_url, headers=partner)).json()["items"]
            return [i["status"] for i in items] == ["succeeded"]

        assert await wait_until(settled, timeout=15)
        [done] = (await client.get(log_url, headers=partner)).json()["items"]
        assert done["attempts"] == 2 and done["next_attempt_at"] is None
        await h.settle(1.0)
        sent = [m for m in receiver.messages() if m["id"] == pending["message_id"]]
        assert [m["answered"] for m in sent] == [503, 200]  # nothing left to retry
        feed_item = (await client.get("/api/v1/webhooks/events", headers=partner)).json()["items"][
            0
        ]
        assert [d["status"] for d in feed_item["deliveries"]] == ["succeeded"]
