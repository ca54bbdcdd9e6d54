"""Idempotency-Key on creates: replays, key reuse with another body, concurrency."""

from __future__ import annotations

import asyncio
import uuid


async def test_concurrent_requests_with_one_key_create_one_order(client, actors, h):
    _, partner = await actors.partner("Concurrent Corp")
    title = f"Concurrent order {uuid.uuid4().hex[:8]}"
    body = h.order_body(title=title)
    headers = {**partner, "Idempotency-Key": str(uuid.uuid4())}
    answers = await asyncio.gather(
        *(client.post("/api/v1/orders", json=body, headers=headers) for _ in range(12))
    )
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, statuses
    created_ids = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created_ids) == 1
    for conflict in (a for a in answers if a.status_code == 409):
        assert conflict.headers["content-type"] == "application/problem+json"
    listed = (await client.get("/api/v1/orders", params={"q": title}, headers=partner)).json()
    assert len(listed["items"]) == 1
    # Once finished, every retry is a replay of the same 201.
    replay = await client.post("/api/v1/orders", json=body, headers=headers)
    assert replay.status_code == 201 and replay.json()["id"] in created_ids


async def test_same_key_with_another_body_is_422(client, actors, h):
    _, partner = await actors.partner("Reuse Corp")
    headers = {**partner, "Idempotency-Key": "reused-key"}
    first = await client.post("/api/v1/orders", json=h.order_body(), headers=headers)
    assert first.status_code == 201
    other = await client.post(
        "/api/v1/orders", json=h.order_body(title="Another title"), headers=headers
    )
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_keys_are_scoped_per_partner(client, actors, h):
    _, a = await actors.partner("Scope A")
    _, b = await actors.partner("Scope B")
    key = {"Idempotency-Key": "shared-key-value"}
    made_a = await client.post("/api/v1/orders", json=h.order_body(), headers={**a, **key})
    made_b = await client.post("/api/v1/orders", json=h.order_body(), headers={**b, **key})
    assert made_a.status_code == made_b.status_code == 201
    assert made_a.json()["id"] != made_b.json()["id"]
    assert made_b.json()["requester"]["partner_id"] != made_a.json()["requester"]["partner_id"]


async def test_a_failed_create_does_not_burn_the_key(client, actors, h):
    _, partner = await actors.partner("Retry Corp")
    draft = (await client.post("/api/v1/orders", json=h.order_body(), headers=partner)).json()
    resident = {**actors.resident(uuid.uuid4()), "Idempotency-Key": "proposal-1"}
    url = f"/api/v1/orders/{draft['id']}/proposals"
    # Not published yet: hidden from residents (404); the key stays free for a retry.
    assert (await client.post(url, json={"summary": "x"}, headers=resident)).status_code == 404
    await client.post(f"/api/v1/orders/{draft['id']}/submit", headers=partner)
    await client.post(f"/api/v1/orders/{draft['id']}/publish", headers=actors.operator)
    made = await client.post(url, json={"summary": "x"}, headers=resident)
    assert made.status_code == 201
    again = await client.post(url, json={"summary": "x"}, headers=resident)
    assert again.status_code == 201 and again.json()["id"] == made.json()["id"]
