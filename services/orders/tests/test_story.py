"""The whole order story with real processes: idempotent creation, moderation with a
return and resubmission, publication and matching, proposals with double opt-in
contacts, award, the audit trail, and the events in the outbox."""

from __future__ import annotations

import uuid

import asyncpg
from innopark_shared.testing import wait_until


async def test_order_story(client, actors, registry, consumed_now, wait_consumed, h, orders):
    tag = f"plasma-{uuid.uuid4().hex[:6]}"
    before = await consumed_now()
    park = await registry.park("Technopolis Himgrad", [tag, "chemistry"])
    chem = await registry.resident(
        park, "PolyCycle", [tag, "catalysis"], "Catalytic depolymerisation of mixed plastic waste"
    )
    chem2 = await registry.resident(
        park,
        "Kazan Catalysts",
        ["catalysis"],
        "Catalyst process for polymer recycling at pilot scale",
    )
    other = await registry.resident(park, "Radio Gousev", ["radio electronics"], "Antenna design")
    await wait_consumed(before, 4)

    partner_id, partner = await actors.partner("Siemens Energy")
    operator = actors.operator
    body = h.order_body(technology_tags=[tag, "catalysis"])

    # Created once, replayed twice: one order.
    key = {"Idempotency-Key": f"story-{uuid.uuid4()}"}
    first = await client.post("/api/v1/orders", json=body, headers={**partner, **key})
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/api/v1/orders/{first.json()['id']}"
    assert first.headers["ETag"]
    assert "Idempotency-Expires" in first.headers
    for _ in range(2):
        replay = await client.post("/api/v1/orders", json=body, headers={**partner, **key})
        assert replay.status_code == 201
        assert replay.json() == first.json()
        assert replay.headers["Idempotent-Replayed"] == "true"
    order = first.json()
    order_id = order["id"]
    assert order["status"] == "draft"
    assert order["reference"].startswith("TODE")
    mine = await client.get("/api/v1/orders", params={"q": order["reference"]}, headers=partner)
    assert [o["id"] for o in mine.json()["items"]] == [order_id]

    # Moderation: submit, returned with a comment, edited, resubmitted, published.
    assert (await client.post(f"/api/v1/orders/{order_id}/submit", headers=partner)).json()[
        "status"
    ] == "submitted"
    returned = await client.post(
        f"/api/v1/orders/{order_id}/return",
        headers=operator,
        json={"comment": "State the required throughput"},
    )
    assert returned.status_code == 200
    assert returned.json()["status"] == "draft"
    assert returned.json()["moderation_comment"] == "State the required throughput"
    stale = returned.headers["ETag"]
    edited = await client.patch(
        f"/api/v1/orders/{order_id}",
        headers={**partner, "If-Match": stale},
        json={"description": body["description"] + " 5 t/day."},
    )
    assert edited.status_code == 200
    again = await client.patch(
        f"/api/v1/orders/{order_id}",
        headers={**partner, "If-Match": stale},
        json={"title": "Stale edit"},
    )
    assert again.status_code == 412
    assert (
        await client.post(f"/api/v1/orders/{order_id}/submit", headers=partner)
    ).status_code == 200
    published = await client.post(f"/api/v1/orders/{order_id}/publish", headers=operator)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    # An invalid transition is a 409 problem.
    twice = await client.post(f"/api/v1/orders/{order_id}/publish", headers=operator)
    assert twice.status_code == 409
    assert twice.headers["content-type"] == "application/problem+json"

    # Matching: ranked, explained.
    matches = (await client.get(f"/api/v1/orders/{order_id}/matches", headers=partner)).json()[
        "items"
    ]
    residents = [m for m in matches if m["target_kind"] == "resident"]
    assert [m["target_id"] for m in residents][:2] == [str(chem), str(chem2)]
    assert str(other) not in [m["target_id"] for m in residents]
    top = residents[0]
    assert sorted(top["explanation"]["matched_tags"]) == sorted([tag, "catalysis"])
    assert top["explanation"]["weights"] == {"tags": 0.7, "text": 0.3}
    assert top["explanation"]["matched_terms"]
    assert top["score"] > residents[1]["score"]
    parks = [m for m in matches if m["target_kind"] == "park"]
    assert parks[0]["target_id"] == str(park)
    assert tag in parks[0]["explanation"]["matched_tags"]

    # Matched residents see it; the unmatched one does not find it among its matches.
    for resident in (chem, chem2):
        seen = await client.get("/api/v1/orders/matched", headers=actors.resident(resident))
        assert order_id in [o["id"] for o in seen.json()["items"]]
    unmatched = await client.get("/api/v1/orders/matched", headers=actors.resident(other))
    assert order_id not in [o["id"] for o in unmatched.json()["items"]]
    park_view = await client.get("/api/v1/orders/matched", headers=actors.park_manager(park))
    assert order_id in [o["id"] for o in park_view.json()["items"]]
    # Operators can re-run matching.
    rematched = await client.post(f"/api/v1/orders/{order_id}/rematch", headers=operator)
    assert rematched.status_code == 200
    assert [m["target_id"] for m in rematched.json()["items"] if m["target_kind"] == "resident"][
        :2
    ] == [str(chem), str(chem2)]

    # Two residents propose; contacts hidden until shortlisting.
    proposals = {}
    for resident, summary in ((chem, "Pilot line in 6 months"), (chem2, "Licence our catalyst")):
        made = await client.post(
            f"/api/v1/orders/{order_id}/proposals",
            headers={**actors.resident(resident), "Idempotency-Key": "p1"},
            json={
                "summary": summary,
                "trl": 6,
                "price_amount": "200000",
                "price_currency": "EUR",
                "timeline_weeks": 26,
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["requester_contact"] is None
        proposals[resident] = made.json()["id"]
    duplicate = await client.post(
        f"/api/v1/orders/{order_id}/proposals",
        headers=actors.resident(chem),
        json={"summary": "Again"},
    )
    assert duplicate.status_code == 409
    listed = (await client.get(f"/api/v1/orders/{order_id}/proposals", headers=partner)).json()[
        "items"
    ]
    assert {p["id"] for p in listed} == set(proposals.values())
    assert all(p["proposer_contact"] is None for p in listed)
    # A resident sees only its own proposal.
    own = (await client.get("/api/v1/proposals", headers=actors.resident(chem))).json()["items"]
    assert [p["id"] for p in own] == [proposals[chem]]
    hidden = await client.get(
        f"/api/v1/proposals/{proposals[chem2]}", headers=actors.resident(chem)
    )
    assert hidden.status_code == 404

    shortlisted = await client.post(
        f"/api/v1/proposals/{proposals[chem]}/shortlist", headers=partner
    )
    assert shortlisted.status_code == 200
    assert shortlisted.json()["proposer_contact"]["email"].endswith("@resident.example")
    resident_view = (
        await client.get(f"/api/v1/proposals/{proposals[chem]}", headers=actors.resident(chem))
    ).json()
    assert resident_view["requester_contact"]["email"] == "bd@partner.example"
    rejected = await client.post(
        f"/api/v1/proposals/{proposals[chem2]}/reject",
        headers=partner,
        json={"reason": "too_early_stage", "comment": "TRL 4 at best"},
    )
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "too_early_stage"
    assert rejected.json()["proposer_contact"] is None
    bad_reason = await client.post(
        f"/api/v1/proposals/{proposals[chem2]}/reject", headers=partner, json={"reason": "because"}
    )
    assert bad_reason.status_code == 422
    early = await client.post(f"/api/v1/orders/{order_id}/award", headers=partner)
    assert early.status_code == 409  # nothing accepted yet
    accepted = await client.post(f"/api/v1/proposals/{proposals[chem]}/accept", headers=partner)
    assert accepted.json()["status"] == "accepted"
    awarded = await client.post(
        f"/api/v1/orders/{order_id}/award", headers=partner, json={"reason": "Best pilot plan"}
    )
    assert awarded.status_code == 200, awarded.text
    assert awarded.json()["status"] == "awarded"
    assert awarded.json()["awarded_proposal_id"] == proposals[chem]

    # Every step is in the audit trail, with who and why.
    history = (await client.get(f"/api/v1/orders/{order_id}/history", headers=partner)).json()[
        "items"
    ]
    assert [t["action"] for t in history] == [
        "create",
        "submit",
        "return",
        "submit",
        "publish",
        "rematch",
        "proposal_shortlist",
        "proposal_reject",
        "proposal_accept",
        "award",
    ]
    assert history[2]["actor_role"] == "operator"
    assert history[2]["reason"] == "State the required throughput"
    assert history[1]["actor_role"] == "partner"
    assert history[-1]["from_status"] == "published" and history[-1]["to_status"] == "awarded"
    assert all(t["at"] and t["actor_subject"] for t in history)

    # The lifecycle events went out through the outbox.
    async def outbox_types() -> list[str]:
        conn = await asyncpg.connect(orders.database_url.replace("+asyncpg", ""))
        try:
            rows = await conn.fetch(
                "SELECT type, published_at FROM orders.outbox"
                " WHERE key = $1 OR data->>'order_id' = $1 ORDER BY seq",
                order_id,
            )
        finally:
            await conn.close()
        return [
            r["type"].split(".")[-3] + "." + r["type"].split(".")[-2]
            for r in rows
            if r["published_at"] is not None
        ]

    expected = [
        "order.submitted",
        "order.returned",
        "order.submitted",
        "order.published",
        "proposal.received",
        "proposal.received",
        "proposal.shortlisted",
        "proposal.rejected",
        "proposal.accepted",
        "order.awarded",
    ]

    async def all_published() -> bool:
        return await outbox_types() == expected

    assert await wait_until(all_published, timeout=10), await outbox_types()


async def test_confidential_order_hides_requester(
    client, actors, registry, consumed_now, wait_consumed
):
    tag = f"conf-{uuid.uuid4().hex[:6]}"
    before = await consumed_now()
    park = await registry.park("Ingria", [tag])
    resident = await registry.resident(park, "Ingria Robotics", [tag])
    await wait_consumed(before, 2)
    partner_id, partner = await actors.partner("Secretive AG")
    order = await actors.published_order(partner, technology_tags=[tag], confidential=True)
    assert order["requester"]["partner_id"] == partner_id  # the partner sees itself
    seen = await client.get(f"/api/v1/orders/{order['id']}", headers=actors.resident(resident))
    assert seen.status_code == 200
    assert seen.json()["requester"] is None
    listed = (await client.get("/api/v1/orders/matched", headers=actors.resident(resident))).json()
    assert [o["requester"] for o in listed["items"] if o["id"] == order["id"]] == [None]
    as_operator = await client.get(f"/api/v1/orders/{order['id']}", headers=actors.operator)
    assert as_operator.json()["requester"]["partner_id"] == partner_id


async def test_order_expires_at_deadline(client, actors, h):
    _, partner = await actors.partner("Hurried GmbH")
    order = await actors.published_order(partner, deadline=h.future(seconds=3))
    assert order["status"] == "published"

    async def expired() -> bool:
        got = await client.get(f"/api/v1/orders/{order['id']}", headers=partner)
        return got.json()["status"] == "expired"

    assert await wait_until(expired, timeout=15)
    history = (await client.get(f"/api/v1/orders/{order['id']}/history", headers=partner)).json()
    last = history["items"][-1]
    assert (last["action"], last["actor_role"], last["to_status"]) == (
        "expire",
        "system",
        "expired",
    )
    late = await client.post(f"/api/v1/orders/{order['id']}/close", headers=partner)
    assert late.status_code == 409


async def test_text_relevance_finds_residents_without_a_matching_tag(
    client, actors, registry, consumed_now, wait_consumed
):
    word = f"zeolite{uuid.uuid4().hex[:6]}"
    before = await consumed_now()
    park = await registry.park("Text Park", ["materials"])
    texty = await registry.resident(
        park, "Sorbent Works", ["adsorbents"], f"We manufacture {word} membranes for gas separation"
    )
    await wait_consumed(before, 2)
    _, partner = await actors.partner("Text Corp")
    order = await actors.published_order(
        partner,
        technology_tags=[f"tag-{uuid.uuid4().hex[:6]}"],
        title=f"Need {word} membranes",
        description=f"Gas separation with {word} membranes",
    )
    matches = (await client.get(f"/api/v1/orders/{order['id']}/matches", headers=partner)).json()[
        "items"
    ]
    found = [m for m in matches if m["target_id"] == str(texty)]
    assert found, matches
    explanation = found[0]["explanation"]
    assert explanation["matched_tags"] == [] and explanation["tag_score"] == 0
    assert word in explanation["matched_terms"]
    assert 0 < found[0]["score"] <= 0.3


async def test_park_proposal_withdrawn_and_decisions_are_one_sided(client, actors):
    _, partner = await actors.partner("Park Deal Corp")
    order = await actors.published_order(partner)
    park_id = uuid.uuid4()
    manager = actors.park_manager(park_id)
    made = await client.post(
        f"/api/v1/orders/{order['id']}/proposals",
        headers=manager,
        json={"summary": "Our engineering centre can build the pilot"},
    )
    assert made.status_code == 201, made.text
    proposal = made.json()
    assert (proposal["proposer_kind"], proposal["park_id"]) == ("park", str(park_id))
    # The proposer may not decide on its own proposal; the partner may not withdraw it.
    assert (
        await client.post(f"/api/v1/proposals/{proposal['id']}/shortlist", headers=manager)
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/proposals/{proposal['id']}/withdraw", headers=partner)
    ).status_code == 403
    withdrawn = await client.post(
        f"/api/v1/proposals/{proposal['id']}/withdraw",
        headers=manager,
        json={"reason": "Capacity taken"},
    )
    assert withdrawn.json()["status"] == "withdrawn"
    again = await client.post(
        f"/api/v1/proposals/{proposal['id']}/reject", headers=partner, json={"reason": "other"}
    )
    assert again.status_code == 409
    assert again.json()["current_status"] == "withdrawn"
    # A withdrawn proposal may be replaced by a new one.
    replaced = await client.post(
        f"/api/v1/orders/{order['id']}/proposals",
        headers=manager,
        json={"summary": "Revised offer"},
    )
    assert replaced.status_code == 201
    mine = (await client.get("/api/v1/proposals", headers=manager)).json()["items"]
    assert {p["status"] for p in mine} == {"withdrawn", "submitted"}
    # Closing the order makes its proposals final.
    assert (
        await client.post(
            f"/api/v1/orders/{order['id']}/close",
            headers=partner,
            json={"reason": "Budget withdrawn"},
        )
    ).status_code == 200
    late = await client.post(
        f"/api/v1/proposals/{replaced.json()['id']}/shortlist", headers=partner
    )
    assert late.status_code == 409
    late_proposal = await client.post(
        f"/api/v1/orders/{order['id']}/proposals",
        headers=actors.resident(uuid.uuid4()),
        json={"summary": "Too late"},
    )
    assert late_proposal.status_code == 404  # a closed order is not visible to strangers


async def test_an_ended_order_rejects_the_proposals_still_open(client, actors):
    _, partner = await actors.partner("Closing Corp")
    managers = [actors.park_manager(uuid.uuid4()) for _ in range(3)]

    async def propose(order_id: str, manager: dict[str, str]) -> str:
        made = await client.post(
            f"/api/v1/orders/{order_id}/proposals", headers=manager, json={"summary": "Offer"}
        )
        assert made.status_code == 201, made.text
        return made.json()["id"]

    order = await actors.published_order(partner)
    winner, waiting, shortlisted = [await propose(order["id"], m) for m in managers]
    for proposal_id, action in (
        (winner, "shortlist"),
        (winner, "accept"),
        (shortlisted, "shortlist"),
    ):
        r = await client.post(f"/api/v1/proposals/{proposal_id}/{action}", headers=partner)
        assert r.status_code == 200, r.text
    # The partner cannot use the service's own reason.
    manual = await client.post(
        f"/api/v1/proposals/{waiting}/reject", headers=partner, json={"reason": "order_closed"}
    )
    assert manual.status_code == 422

    awarded = await client.post(f"/api/v1/orders/{order['id']}/award", headers=partner)
    assert awarded.status_code == 200, awarded.text
    views = {
        pid: (await client.get(f"/api/v1/proposals/{pid}", headers=m)).json()
        for pid, m in zip((winner, waiting, shortlisted), managers, strict=True)
    }
    assert views[winner]["status"] == "accepted"
    for pid in (waiting, shortlisted):
        assert views[pid]["status"] == "rejected"
        assert views[pid]["rejection_reason"] == "order_closed"
    history = (await client.get(f"/api/v1/orders/{order['id']}/history", headers=partner)).json()
    assert [t["action"] for t in history["items"]][-3:] == [
        "award",
        "proposal_reject",
        "proposal_reject",
    ]

    # Cancelling does the same for whatever is open.
    cancelled_order = await actors.published_order(partner)
    open_one = await propose(cancelled_order["id"], managers[0])
    r = await client.post(f"/api/v1/orders/{cancelled_order['id']}/cancel", headers=partner)
    assert r.status_code == 200, r.text
    view = (await client.get(f"/api/v1/proposals/{open_one}", headers=managers[0])).json()
    assert (view["status"], view["rejection_reason"]) == ("rejected", "order_closed")
