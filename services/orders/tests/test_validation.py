"""Bad input is a 422 problem that names the offending field, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

CASES = [
    ({"budget_min": "-5"}, "budget_min"),
    ({"budget_max": "-1"}, "budget_max"),
    ({"budget_min": "500", "budget_max": "100"}, ""),  # range: reported on the body
    ({"trl": 12}, "trl"),
    ({"trl": 0}, "trl"),
    ({"deadline": (datetime.now(UTC) - timedelta(days=1)).isoformat()}, "deadline"),
    ({"deadline": "2030-01-01T00:00:00"}, "deadline"),  # no time zone
    ({"deadline": "tomorrow"}, "deadline"),
    ({"cooperation_types": ["barter"]}, "cooperation_types.0"),
    ({"title": "x" * 301}, "title"),
    ({"description": "x" * 20_001}, "description"),
    ({"ip_terms": "x" * 5001}, "ip_terms"),
    ({"technology_tags": []}, "technology_tags"),
    ({"technology_tags": ["x" * 101]}, "technology_tags.0"),
    ({"currency": "euro"}, "currency"),
    ({"languages": ["english"]}, "languages.0"),
    ({"confidential": "perhaps"}, "confidential"),
    ({"unexpected": 1}, "unexpected"),
]


@pytest.mark.parametrize(("change", "field"), CASES, ids=[c[1] or "budget-range" for c in CASES])
async def test_bad_order_is_422_naming_the_field(client, actors, h, change, field, partner_headers):
    got = await client.post("/api/v1/orders", json=h.order_body(**change), headers=partner_headers)
    assert got.status_code == 422, got.text
    assert got.headers["content-type"] == "application/problem+json"
    problem = got.json()
    if field:
        assert field in [e["field"] for e in problem["errors"]], problem
        assert field.split(".")[0] in problem["detail"]
    else:
        assert "budget_max" in problem["errors"][0]["message"]


@pytest.fixture
async def partner_headers(actors):
    return (await actors.partner("Validation Corp"))[1]


async def test_missing_required_fields_are_named(client, partner_headers):
    got = await client.post("/api/v1/orders", json={}, headers=partner_headers)
    assert got.status_code == 422
    assert {"title", "description", "technology_tags", "deadline"} <= {
        e["field"] for e in got.json()["errors"]
    }


async def test_bad_update_proposal_partner_webhook_and_paging(client, actors, h, partner_headers):
    draft = (
        await client.post("/api/v1/orders", json=h.order_body(), headers=partner_headers)
    ).json()
    patch = await client.patch(
        f"/api/v1/orders/{draft['id']}", json={"trl": 10}, headers=partner_headers
    )
    assert patch.status_code == 422 and patch.json()["errors"][0]["field"] == "trl"
    past = await client.patch(
        f"/api/v1/orders/{draft['id']}",
        headers=partner_headers,
        json={"deadline": "2001-01-01T00:00:00Z"},
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "deadline"

    order = await actors.published_order(partner_headers)
    proposal = await client.post(
        f"/api/v1/orders/{order['id']}/proposals",
        headers=actors.resident("00000000-0000-4000-8000-000000000001"),
        json={"summary": "x", "price_amount": "-1", "trl": 11},
    )
    assert proposal.status_code == 422
    assert {"price_amount", "trl"} <= {e["field"] for e in proposal.json()["errors"]}

    partner = await client.post(
        "/api/v1/partners", headers=actors.operator, json={"name": "", "country": "Germany"}
    )
    assert {"name", "country"} <= {e["field"] for e in partner.json()["errors"]}

    hook = await client.post(
        "/api/v1/webhooks",
        headers=partner_headers,
        json={"url": "ftp://files.example/", "event_types": ["order.eaten"]},
    )
    assert hook.status_code == 422
    assert {"url", "event_types.0"} <= {e["field"] for e in hook.json()["errors"]}

    for params, field in (
        ({"limit": 500}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"status": "lost"}, "status"),
    ):
        got = await client.get("/api/v1/orders", params=params, headers=partner_headers)
        assert got.status_code == 422, (params, got.text)
        assert got.json()["errors"][0]["field"] == field
    bad_id = await client.get("/api/v1/orders/not-a-uuid", headers=partner_headers)
    assert bad_id.status_code == 422 and bad_id.json()["errors"][0]["field"] == "order_id"


async def test_pagination_walks_every_order_once(client, actors, h):
    _, partner = await actors.partner("Paging Corp")
    made = [
        (await client.post("/api/v1/orders", json=h.order_body(), headers=partner)).json()["id"]
        for _ in range(5)
    ]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/orders", params=params, headers=partner)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))
