"""Object-level access: partner B acting on partner A's objects gets the same 404 as for
an object that does not exist, on every orders endpoint, and changes nothing."""

from __future__ import annotations

import uuid

from innopark_shared.testing import wait_until


async def _snapshot(client, a, ids):
    """Everything partner A can see of its objects."""
    out = {}
    for path in (
        f"/api/v1/orders/{ids['draft']}",
        f"/api/v1/orders/{ids['published']}",
        f"/api/v1/orders/{ids['published']}/history",
        f"/api/v1/orders/{ids['published']}/proposals",
        f"/api/v1/proposals/{ids['proposal']}",
        f"/api/v1/webhooks/{ids['webhook']}",
        f"/api/v1/webhooks/{ids['webhook']}/deliveries",
        f"/api/v1/partners/{ids['partner']}",
    ):
        got = await client.get(path, headers=a)
        assert got.status_code == 200, (path, got.text)
        out[path] = (got.json(), got.headers.get("ETag"))
    return out


async def test_partner_b_cannot_reach_partner_a_objects(client, actors, receiver):
    partner_a, a = await actors.partner("Alpha Corp")
    _, b = await actors.partner("Beta Corp")
    draft = (await client.post("/api/v1/orders", headers=a, json=(await _body(client)))).json()[
        "id"
    ]
    webhook = (await client.post("/api/v1/webhooks", headers=a, json={"url": receiver.url})).json()
    published = (await actors.published_order(a))["id"]
    proposal = (
        await client.post(
            f"/api/v1/orders/{published}/proposals",
            headers=actors.resident(uuid.uuid4()),
            json={"summary": "Our offer"},
        )
    ).json()["id"]

    async def delivered() -> bool:
        got = await client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=a)
        items = got.json()["items"]
        return len(items) == 3 and all(d["status"] == "succeeded" for d in items)

    assert await wait_until(delivered, timeout=10)
    delivery = (await client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=a)).json()[
        "items"
    ][0]["id"]
    ids = {
        "draft": draft,
        "published": published,
        "proposal": proposal,
        "webhook": webhook["id"],
        "delivery": delivery,
        "partner": partner_a,
    }
    before = await _snapshot(client, a, ids)

    def calls(i):
        return [
            ("GET", f"/api/v1/partners/{i['partner']}", None),
            ("GET", f"/api/v1/orders/{i['draft']}", None),
            ("PATCH", f"/api/v1/orders/{i['draft']}", {"title": "Hijacked order"}),
            ("POST", f"/api/v1/orders/{i['draft']}/submit", None),
            ("POST", f"/api/v1/orders/{i['draft']}/cancel", {"reason": "x"}),
            ("GET", f"/api/v1/orders/{i['published']}", None),
            ("POST", f"/api/v1/orders/{i['published']}/close", None),
            ("POST", f"/api/v1/orders/{i['published']}/cancel", None),
            ("POST", f"/api/v1/orders/{i['published']}/award", {}),
            ("GET", f"/api/v1/orders/{i['published']}/history", None),
            ("GET", f"/api/v1/orders/{i['published']}/matches", None),
            ("GET", f"/api/v1/orders/{i['published']}/proposals", None),
            ("GET", f"/api/v1/proposals/{i['proposal']}", None),
            ("POST", f"/api/v1/proposals/{i['proposal']}/shortlist", None),
            ("POST", f"/api/v1/proposals/{i['proposal']}/accept", None),
            ("POST", f"/api/v1/proposals/{i['proposal']}/reject", {"reason": "other"}),
            ("GET", f"/api/v1/webhooks/{i['webhook']}", None),
            ("PATCH", f"/api/v1/webhooks/{i['webhook']}", {"url": "https://evil.example/"}),
            ("DELETE", f"/api/v1/webhooks/{i['webhook']}", None),
            ("GET", f"/api/v1/webhooks/{i['webhook']}/deliveries", None),
            ("POST", f"/api/v1/webhooks/{i['webhook']}/deliveries/{i['delivery']}/redeliver", None),
        ]

    unknown = {k: str(uuid.uuid4()) for k in ids}
    for (method, path, body), (_, unknown_path, _) in zip(calls(ids), calls(unknown), strict=True):
        got = await client.request(method, path, headers=b, json=body)
        assert got.status_code == 404, (method, path, got.status_code, got.text)
        assert got.headers["content-type"] == "application/problem+json"
        missing = await client.request(method, unknown_path, headers=b, json=body)
        assert missing.status_code == 404
        # Indistinguishable from an id that does not exist.
        assert {k: v for k, v in got.json().items() if k != "instance"} == {
            k: v for k, v in missing.json().items() if k != "instance"
        }, path

    # Operator-only actions: a partner is refused by role, whatever the object.
    for action in ("publish", "rematch"):
        got = await client.post(f"/api/v1/orders/{published}/{action}", headers=b)
        assert got.status_code == 403
    returned = await client.post(f"/api/v1/orders/{draft}/return", headers=b, json={"comment": "x"})
    assert returned.status_code == 403

    # Collections show B nothing of A's.
    for path in (
        "/api/v1/orders",
        f"/api/v1/orders?partner_id={partner_a}",
        "/api/v1/proposals",
        "/api/v1/webhooks",
    ):
        items = (await client.get(path, headers=b)).json()["items"]
        assert not {x["id"] for x in items} & set(ids.values()), path
    # And proposals to B's own order via A's ids are not possible either.
    assert (
        await client.get(f"/api/v1/proposals?order_id={published}", headers=b)
    ).status_code == 404

    assert await _snapshot(client, a, ids) == before  # nothing changed


async def _body(client):
    from datetime import UTC, datetime, timedelta

    return {
        "title": "Draft order",
        "description": "Sensors",
        "technology_tags": ["sensors"],
        "deadline": (datetime.now(UTC) + timedelta(days=10)).isoformat(),
    }


async def test_residents_and_parks_see_only_published_orders_and_their_own(client, actors, h):
    _, partner = await actors.partner("Gamma Corp")
    draft = (await client.post("/api/v1/orders", headers=partner, json=h.order_body())).json()
    resident = actors.resident(uuid.uuid4())
    assert (await client.get(f"/api/v1/orders/{draft['id']}", headers=resident)).status_code == 404
    listed = (await client.get("/api/v1/orders", headers=resident)).json()["items"]
    assert draft["id"] not in {o["id"] for o in listed}
    assert all(o["status"] == "published" for o in listed)
    expert = h  # experts have no business with orders
    del expert
    refused = await client.get("/api/v1/orders", headers=actors.token_issuer.headers("expert"))
    assert refused.status_code == 403
    anonymous = await client.get("/api/v1/orders")
    assert anonymous.status_code == 401
