"""Issue #11's disclosures, tried from the outside exactly as reported, through the gateway
of the whole platform: unmasking a confidential order's requester, bypassing the double
opt-in through the registry, registration tokens in access logs, links to the wrong port."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from innopark_shared.testing import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


async def _park_with_resident(
    c: httpx.AsyncClient, operator: dict[str, str], contact: str
) -> tuple[str, str]:
    park = await _created(
        await c.post(
            "/api/v1/parks",
            headers=operator,
            json={
                "name": _unique("Technopolis"),
                "kind": "technopolis",
                "country": "RU",
                "region": "Tatarstan",
                "specializations": ["polymers"],
            },
        )
    )
    resident = await _created(
        await c.post(
            f"/api/v1/parks/{park['id']}/residents",
            headers=operator,
            json={
                "name": _unique("PolyCycle"),
                "technologies": ["polymers"],
                "contact_email": contact,
            },
        )
    )
    return park["id"], resident["id"]


@dataclass
class World:
    """A park with a resident (its contact e-mail private), a partner, and a user for
    each: the partner's, the resident's and the park manager's."""

    operator: dict[str, str]
    contact: str
    park_id: str
    resident_id: str
    partner: dict[str, Any]
    partner_user: dict[str, str]
    resident: dict[str, str]
    manager: dict[str, str]


async def _world(platform: Platform, partner_name: str, country: str) -> World:
    operator = await platform.login()
    contact = f"{uuid.uuid4().hex[:8]}@resident.example"
    async with platform.client() as c:
        park_id, resident_id = await _park_with_resident(c, operator, contact)
        partner = await _created(
            await c.post(
                "/api/v1/partners",
                headers=operator,
                json={"name": _unique(partner_name), "country": country},
            )
        )
    _, partner_user = await platform.create_user(operator, "partner", partner_id=partner["id"])
    _, resident = await platform.create_user(operator, "resident", resident_id=resident_id)
    _, manager = await platform.create_user(operator, "park_manager", park_id=park_id)
    return World(operator, contact, park_id, resident_id, partner, partner_user, resident, manager)


async def _published_order(
    c: httpx.AsyncClient, partner: dict[str, str], operator: dict[str, str], **extra: Any
) -> dict[str, Any]:
    order = await _created(
        await c.post(
            "/api/v1/orders",
            headers=partner,
            json={
                "title": _unique("Polymer recycling"),
                "description": "Mixed plastic waste to feedstock",
                "technology_tags": ["polymers"],
                "deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                **extra,
            },
        )
    )
    assert (await c.post(f"/api/v1/orders/{order['id']}/submit", headers=partner)).is_success
    published = await c.post(f"/api/v1/orders/{order['id']}/publish", headers=operator)
    assert published.status_code == 200, published.text
    return published.json()


async def _all(c: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any) -> list:
    items, cursor = [], None
    while True:
        page = await c.get(url, headers=headers, params={**params, "limit": 100, "cursor": cursor})
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


async def test_a_confidential_orders_requester_cannot_be_unmasked(platform: Platform):
    w = await _world(platform, "Siemens Energy", "DE")
    operator, partner, partner_user = w.operator, w.partner, w.partner_user
    resident, manager = w.resident, w.manager
    async with platform.client() as c:
        shown = await _published_order(c, partner_user, operator)
        hidden = await _published_order(c, partner_user, operator, confidential=True)
        for who in (resident, manager):
            # 1. Read any open order of P and learn P.
            learnt = (await c.get(f"/api/v1/orders/{shown['id']}", headers=who)).json()
            p = learnt["requester"]["partner_id"]
            assert p == partner["id"]
            # The confidential one is readable, but names nobody.
            seen = (await c.get(f"/api/v1/orders/{hidden['id']}", headers=who)).json()
            assert seen["requester"] is None and partner["id"] not in str(seen)
            # 2. Filter by P: only the open order, never the confidential one.
            by_p = await _all(c, "/api/v1/orders", who, partner_id=p)
            assert [o["id"] for o in by_p] == [shown["id"]]
            # ... whatever else is combined with it (status, search by its own words).
            for extra in ({"status": "published"}, {"q": hidden["title"]}):
                found = await _all(c, "/api/v1/orders", who, partner_id=p, **extra)
                assert hidden["id"] not in {o["id"] for o in found}
            # Every listing shows the confidential order anonymously, or not at all.
            for o in await _all(c, "/api/v1/orders", who, q=hidden["title"]):
                assert o["requester"] is None
            # 3. Its reference names no country ("TODE…" would say where P is from), and
            # searching references by P's country does not find it.
            assert seen["reference"].startswith("TOXX"), seen["reference"]
            assert learnt["reference"].startswith("TODE"), learnt["reference"]
            by_country = await _all(c, "/api/v1/orders", who, q="TODE")
            assert hidden["id"] not in {o["id"] for o in by_country}
        # The partner itself and the association still find both.
        for who in (partner_user, operator):
            mine = await _all(c, "/api/v1/orders", who, partner_id=partner["id"])
            assert {shown["id"], hidden["id"]} <= {o["id"] for o in mine}


async def test_the_double_opt_in_cannot_be_bypassed_through_the_registry(platform: Platform):
    w = await _world(platform, "Airbus", "FR")
    operator, contact, park_id, resident_id = w.operator, w.contact, w.park_id, w.resident_id
    partner_user, resident, manager = w.partner_user, w.resident, w.manager
    async with platform.client() as c:
        other_park = await _created(
            await c.post(
                "/api/v1/parks",
                headers=operator,
                json={
                    "name": _unique("Other park"),
                    "kind": "technopark",
                    "country": "RU",
                    "region": "Elsewhere",
                },
            )
        )
    # A binding names a park the gateway knows (create_user waits for its event).
    _, other_manager = await platform.create_user(
        operator, "park_manager", park_id=other_park["id"]
    )
    async with platform.client() as c:
        order = await _published_order(c, partner_user, operator)
        proposal = await _created(
            await c.post(
                f"/api/v1/orders/{order['id']}/proposals",
                headers=resident,
                json={"summary": "Our pilot line"},
            )
        )
        # 1. Before the shortlist the partner's views name no resident.
        views = [
            (await c.get(f"/api/v1/proposals/{proposal['id']}", headers=partner_user)).json(),
            *await _all(c, f"/api/v1/orders/{order['id']}/proposals", partner_user),
        ]
        for view in views:
            assert view["resident_id"] is None and view["proposer_contact"] is None
            assert view["proposer_reference"].startswith("PR-")
            assert resident_id not in str(view) and contact not in str(view)
        # 2. And the registry gives the contact to nobody outside the company's circle,
        # whoever learnt its id: anonymous, the partner, another park's manager.
        for who in ({}, partner_user, other_manager):
            card = await c.get(f"/api/v1/residents/{resident_id}", headers=who)
            assert card.status_code == 200 and card.json()["contact_email"] is None
            assert contact not in card.text
            listed = await c.get(f"/api/v1/parks/{park_id}/residents", headers=who)
            assert contact not in listed.text
            exported = await c.get(f"/api/v1/parks/{park_id}/residents?format=csv", headers=who)
            assert exported.status_code == 200 and contact not in exported.text
        # The company itself, its park's manager and the association read it.
        for who in (resident, manager, operator):
            card = await c.get(f"/api/v1/residents/{resident_id}", headers=who)
            assert card.json()["contact_email"] == contact
        # After the shortlist the partner learns who, by the proposal (double opt-in).
        shortlisted = await c.post(
            f"/api/v1/proposals/{proposal['id']}/shortlist", headers=partner_user
        )
        assert shortlisted.status_code == 200, shortlisted.text
        assert shortlisted.json()["resident_id"] == resident_id
        assert shortlisted.json()["proposer_reference"] == views[0]["proposer_reference"]


async def test_registration_tokens_stay_out_of_urls_and_logs(platform: Platform):
    operator = await platform.login()
    start = datetime.now(UTC) + timedelta(days=15)
    async with platform.client() as c:
        event = await _created(
            await c.post(
                "/api/v1/events",
                headers=operator,
                json={
                    "title": _unique("Study tour"),
                    "type": "forum",
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=6)).isoformat(),
                    "capacity": 5,
                },
            )
        )
        assert (await c.post(f"/api/v1/events/{event['id']}/publish", headers=operator)).is_success
        url = f"/api/v1/events/{event['id']}/registrations"
        made = await _created(
            await c.post(url, json={"full_name": "Li Wei", "email": "li.wei@visitor.example"})
        )
        token = made["token"]
        path = f"{url}/{made['id']}"
        # Every link handed out starts with the public base URL the dev runner derived
        # from the gateway's port, and none carries the token.
        assert made["cancel_url"] == f"{platform.gateway}{path}/cancel"
        calendar = await c.get(f"/api/v1/events/{event['id']}", params={"format": "ics"})
        assert calendar.status_code == 200
        unfolded = calendar.text.replace("\r\n ", "")  # RFC 5545 folds long lines
        links = [ln for ln in unfolded.splitlines() if ln.startswith("URL")]
        assert links == [f"URL:{platform.gateway}/api/v1/events/{event['id']}"], links

        # The token works in its header; the old query form is refused.
        header = {"X-Registration-Token": token}
        assert (await c.get(path, headers=header)).status_code == 200
        in_url = await c.get(path, params={"token": token})
        assert in_url.status_code == 422 and in_url.json()["errors"][0]["field"] == "token"
        # Someone else's query strings with secret names are redacted too.
        await c.get("/api/v1/parks", params={"access_token": token, "q": "x"})
        cancelled = await c.post(f"{path}/cancel", headers=header)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    # The access logs of the gateway and the events service saw those requests, and
    # not the token.
    log = platform.log()
    assert f"{path}?token=[redacted]" in log or f"{path}?token=%5Bredacted%5D" in log, log[-3000:]
    assert "access_token=[redacted]" in log
    assert token not in log
