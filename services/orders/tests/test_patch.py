"""PATCH against the running service: concurrent changes of one resource never answer
500 nor lose an update, and null for a field a resource cannot be without is a 422
naming that field (it used to reach the database and answer 500)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest


def _version(response: httpx.Response) -> int:
    return int(response.headers["ETag"].strip('"').rsplit("-", 1)[1])


async def _race(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], body: Callable[[int], Any]
) -> None:
    """16 PATCHes at once, half with the ETag read just before, half without."""

    async def one(i: int) -> httpx.Response:
        extra = {}
        if i % 2:
            current = await client.get(url, headers=headers)
            assert current.status_code == 200, current.text
            extra = {"If-Match": current.headers["ETag"]}
        return await client.patch(url, headers={**headers, **extra}, json=body(i))

    answers = await asyncio.gather(*(one(i) for i in range(16)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 409, 412}, [(a.status_code, a.text) for a in answers]
    succeeded = [a for a in answers if a.status_code == 200]
    assert succeeded
    for refused in (a for a in answers if a.status_code != 200):
        assert refused.headers["content-type"] == "application/problem+json"
    final = await client.get(url, headers=headers)
    assert _version(final) == 1 + len(succeeded), statuses  # no lost update
    assert final.json() == max(succeeded, key=_version).json()


async def test_concurrent_patches_of_one_order(client, actors, h):
    _, partner = await actors.partner("Race Corp")
    order = await client.post("/api/v1/orders", json=h.order_body(), headers=partner)
    assert order.status_code == 201 and _version(order) == 1
    await _race(
        client,
        f"/api/v1/orders/{order.json()['id']}",
        partner,
        lambda i: {"title": f"Concurrent title {i}", "trl": 1 + i % 9},
    )


async def test_concurrent_patches_of_one_partner(client, actors):
    partner_id, _ = await actors.partner("Racing Partner")
    await _race(
        client,
        f"/api/v1/partners/{partner_id}",
        actors.operator,
        lambda i: {"name": f"Racing Partner {i}", "agreement": f"Revision {i}"},
    )


NULLS = {
    "partner": ["name", "country"],
    "order": [
        "title",
        "description",
        "technology_tags",
        "deadline",
        "cooperation_types",
        "languages",
        "confidential",
    ],
    "webhook": ["url", "event_types", "enabled"],
}


@pytest.fixture
async def patchable(client, actors, receiver, h) -> dict[str, tuple[str, dict[str, str]]]:
    """A partner, a draft order and a webhook endpoint: each URL and who may PATCH it."""
    partner_id, partner = await actors.partner("Null Corp")
    order = await client.post("/api/v1/orders", json=h.order_body(), headers=partner)
    hook = await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=partner)
    assert order.status_code == hook.status_code == 201
    return {
        "partner": (f"/api/v1/partners/{partner_id}", actors.operator),
        "order": (f"/api/v1/orders/{order.json()['id']}", partner),
        "webhook": (f"/api/v1/webhooks/{hook.json()['id']}", partner),
    }


@pytest.mark.parametrize(
    ("resource", "field"), [(r, f) for r, fields in NULLS.items() for f in fields]
)
async def test_null_for_a_required_field_is_422_naming_it(client, patchable, resource, field):
    url, headers = patchable[resource]
    before = await client.get(url, headers=headers)
    got = await client.patch(url, headers=headers, json={field: None})
    assert got.status_code == 422, got.text
    assert got.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in got.json()["errors"]] == [field]
    after = await client.get(url, headers=headers)
    assert (after.json(), after.headers["ETag"]) == (before.json(), before.headers["ETag"])


async def test_null_clears_an_optional_field(client, patchable):
    checks: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
        ("partner", {"contact_name": None}, lambda body: body["contact_name"] is None),
        ("order", {"trl": None, "ip_terms": None}, lambda b: b["trl"] is b["ip_terms"] is None),
        ("webhook", {"description": None}, lambda body: body["description"] is None),
    ]
    for resource, change, cleared in checks:
        url, headers = patchable[resource]
        got = await client.patch(url, headers=headers, json=change)
        assert got.status_code == 200, (resource, got.text)
        assert cleared(got.json()), (resource, got.json())


async def test_a_drafts_reference_follows_its_confidentiality(client, actors, h):
    """A confidential order's reference names no country (it would narrow down the
    requester it hides); a draft switched either way follows, its number unchanged."""
    _, partner = await actors.partner("Reference Corp", country="FR")
    open_order = await client.post("/api/v1/orders", json=h.order_body(), headers=partner)
    hidden = await client.post(
        "/api/v1/orders", json={**h.order_body(), "confidential": True}, headers=partner
    )
    assert open_order.json()["reference"].startswith("TOFR")
    reference = hidden.json()["reference"]
    assert reference.startswith("TOXX")
    url = f"/api/v1/orders/{hidden.json()['id']}"
    shown = await client.patch(url, json={"confidential": False}, headers=partner)
    assert shown.status_code == 200, shown.text
    assert shown.json()["reference"] == "TOFR" + reference[4:]
    again = await client.patch(url, json={"confidential": True}, headers=partner)
    assert again.json()["reference"] == reference
