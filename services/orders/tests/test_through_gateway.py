"""Issue 4's demonstration through the gateway with real users: the platform as the dev
runner starts it (embedded PostgreSQL and broker, every service and the gateway as their
own processes), users created by the bootstrap operator, tokens from the token endpoint,
parks and residents created in the registry and learnt by orders from its events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from innopark_shared.testing import wait_until

pytestmark = pytest.mark.e2e


async def test_order_story_through_the_gateway(platform):
    operator = await platform.login()
    tag = f"composites-{uuid.uuid4().hex[:6]}"
    async with platform.client() as c:
        park = await c.post(
            "/api/v1/parks",
            headers=operator,
            json={
                "name": "Technopolis Himgrad",
                "kind": "technopolis",
                "country": "RU",
                "region": "Tatarstan",
                "specializations": [tag, "polymers"],
            },
        )
        assert park.status_code == 201, park.text
        park_id = park.json()["id"]
        residents = {}
        for name, technologies, description in (
            ("PolyForm", [tag, "polymer processing"], "Composite airframe parts, pilot line"),
            ("Kazan Fibre", [tag], "Carbon fibre composite panels"),
            ("Radio Gousev", ["radio electronics"], "Antenna design"),
        ):
            made = await c.post(
                f"/api/v1/parks/{park_id}/residents",
                headers=operator,
                json={
                    "name": name,
                    "technologies": technologies,
                    "description": description,
                    "contact_email": f"{name.lower().replace(' ', '.')}@resident.example",
                },
            )
            assert made.status_code == 201, made.text
            residents[name] = made.json()["id"]
        partner = await c.post(
            "/api/v1/partners",
            headers=operator,
            json={
                "name": "Airbus Open Innovation",
                "country": "FR",
                "contact_email": "scouting@partner.example",
            },
        )
        assert partner.status_code == 201, partner.text
        partner_id = partner.json()["id"]

    _, partner_user = await platform.create_user(operator, "partner", partner_id=partner_id)
    _, poly = await platform.create_user(operator, "resident", resident_id=residents["PolyForm"])
    _, fibre = await platform.create_user(
        operator, "resident", resident_id=residents["Kazan Fibre"]
    )
    _, radio = await platform.create_user(
        operator, "resident", resident_id=residents["Radio Gousev"]
    )

    async with platform.client() as c:
        body = {
            "title": "Lightweight composite brackets for cabin interiors",
            "description": "Composite parts with certified fire behaviour; pilot line wanted.",
            "technology_tags": [tag],
            "trl": 6,
            "cooperation_types": ["supply", "joint_rnd"],
            "budget_min": "100000",
            "budget_max": "400000",
            "currency": "EUR",
            "deadline": (datetime.now(UTC) + timedelta(days=45)).isoformat(),
        }
        key = {**partner_user, "Idempotency-Key": str(uuid.uuid4())}
        answers = [await c.post("/api/v1/orders", headers=key, json=body) for _ in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 201]
        assert len({a.json()["id"] for a in answers}) == 1
        order_id = answers[0].json()["id"]
        mine = (await c.get("/api/v1/orders", headers=partner_user)).json()["items"]
        assert [o["id"] for o in mine] == [order_id]

        assert (
            await c.post(f"/api/v1/orders/{order_id}/submit", headers=partner_user)
        ).status_code == 200
        returned = await c.post(
            f"/api/v1/orders/{order_id}/return",
            headers=operator,
            json={"comment": "Give the fire standard"},
        )
        assert returned.status_code == 200 and returned.json()["status"] == "draft"
        edited = await c.patch(
            f"/api/v1/orders/{order_id}",
            headers={**partner_user, "If-Match": returned.headers["ETag"]},
            json={"description": body["description"] + " FAR 25.853."},
        )
        assert edited.status_code == 200, edited.text
        assert (
            await c.post(f"/api/v1/orders/{order_id}/submit", headers=partner_user)
        ).status_code == 200
        published = await c.post(f"/api/v1/orders/{order_id}/publish", headers=operator)
        assert published.status_code == 200, published.text

        # Orders learns residents from the registry's events; if publication outran them,
        # an operator re-runs matching.
        async def matched() -> bool:
            items = (
                await c.get(f"/api/v1/orders/{order_id}/matches", headers=partner_user)
            ).json()["items"]
            ids = {m["target_id"] for m in items if m["target_kind"] == "resident"}
            if {residents["PolyForm"], residents["Kazan Fibre"]} <= ids:
                return True
            await c.post(f"/api/v1/orders/{order_id}/rematch", headers=operator)
            return False

        assert await wait_until(matched, timeout=30, interval=1)
        for resident in (poly, fibre):
            seen = (await c.get("/api/v1/orders/matched", headers=resident)).json()["items"]
            assert order_id in [o["id"] for o in seen]
        assert order_id not in [
            o["id"] for o in (await c.get("/api/v1/orders/matched", headers=radio)).json()["items"]
        ]

        proposals = {}
        for name, headers in (("PolyForm", poly), ("Kazan Fibre", fibre)):
            made = await c.post(
                f"/api/v1/orders/{order_id}/proposals",
                headers=headers,
                json={"summary": f"{name} offer", "trl": 6},
            )
            assert made.status_code == 201, made.text
            proposals[name] = made.json()["id"]
        listed = (await c.get(f"/api/v1/orders/{order_id}/proposals", headers=partner_user)).json()[
            "items"
        ]
        assert all(p["proposer_contact"] is None for p in listed)
        short = await c.post(
            f"/api/v1/proposals/{proposals['PolyForm']}/shortlist", headers=partner_user
        )
        assert short.json()["proposer_contact"]["email"] == "polyform@resident.example"
        theirs = (await c.get(f"/api/v1/proposals/{proposals['PolyForm']}", headers=poly)).json()
        assert theirs["requester_contact"]["email"] == "scouting@partner.example"
        other = (
            await c.get(f"/api/v1/proposals/{proposals['Kazan Fibre']}", headers=partner_user)
        ).json()
        assert other["proposer_contact"] is None
        assert (
            await c.post(f"/api/v1/proposals/{proposals['PolyForm']}/accept", headers=partner_user)
        ).status_code == 200
        awarded = await c.post(f"/api/v1/orders/{order_id}/award", headers=partner_user)
        assert awarded.status_code == 200, awarded.text
        assert awarded.json()["awarded_proposal_id"] == proposals["PolyForm"]

        history = (await c.get(f"/api/v1/orders/{order_id}/history", headers=partner_user)).json()[
            "items"
        ]
        actions = [t["action"] for t in history if t["action"] != "rematch"]
        assert actions == [
            "create",
            "submit",
            "return",
            "submit",
            "publish",
            "proposal_shortlist",
            "proposal_accept",
            "award",
            "proposal_reject",  # the other proposal, still open: rejected as order_closed
        ]
        assert history[-1]["reason"] == "The order was awarded"
        assert history[2]["reason"] == "Give the fire standard"
        assert {t["actor_role"] for t in history} == {"partner", "operator"}

        # Another partner's user gets the same 404 as for an unknown order.
        async with platform.client() as c2:
            other_partner = (
                await c2.post(
                    "/api/v1/partners", headers=operator, json={"name": "Rival", "country": "US"}
                )
            ).json()["id"]
        _, rival = await platform.create_user(operator, "partner", partner_id=other_partner)
        assert (await c.get(f"/api/v1/orders/{order_id}", headers=rival)).status_code == 404
        bad = await c.post("/api/v1/orders", headers=partner_user, json={**body, "trl": 12})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "trl"
