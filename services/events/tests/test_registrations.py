"""Registrations: confirmation, waitlist, moderation, refusals, cancellation by private
token with promotion, and check-in by ticket code."""

import uuid
from datetime import UTC, datetime, timedelta


async def test_register_confirm_waitlist_and_cancel_by_token(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    event = await h.published_event(client, operator, capacity=2)
    url = f"/api/v1/events/{event['id']}/registrations"

    first = await client.post(url, json=h.person())
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "confirmed" and body["ticket_code"]
    assert first.headers["Location"] == f"{url}/{body['id']}"
    # The link starts with the public base URL and carries no secret.
    assert body["cancel_url"] == f"https://innopark.example{url}/{body['id']}/cancel"
    assert body["token"] not in body["cancel_url"]
    second = (await client.post(url, json=h.person())).json()
    third = (await client.post(url, json=h.person())).json()
    fourth = (await client.post(url, json=h.person())).json()
    assert second["status"] == "confirmed"
    assert (third["status"], fourth["status"]) == ("waitlisted", "waitlisted")
    assert third["ticket_code"] is None
    queued = (
        await client.get(f"{url}/{fourth['id']}", headers={"X-Registration-Token": fourth["token"]})
    ).json()
    assert queued["waitlist_position"] == 2

    # The private token reads the registration; without it, it does not exist.
    mine = await client.get(f"{url}/{body['id']}", headers={"X-Registration-Token": body["token"]})
    assert mine.status_code == 200 and mine.json()["email"] == body["email"]
    assert (await client.get(f"{url}/{body['id']}")).status_code == 404
    assert (
        await client.get(f"{url}/{body['id']}", headers={"X-Registration-Token": second["token"]})
    ).status_code == 404
    assert (await client.get(url)).status_code == 401  # the list is for organisers

    # The old query form is refused (it would land in access logs), naming the parameter.
    in_url = await client.get(f"{url}/{body['id']}", params={"token": body["token"]})
    assert in_url.status_code == 422, in_url.text
    assert [e["field"] for e in in_url.json()["errors"]] == ["token"]
    assert (
        await client.post(f"{url}/{body['id']}/cancel", params={"token": body["token"]})
    ).status_code == 422
    cancelled = await client.post(
        f"{url}/{body['id']}/cancel", headers={"X-Registration-Token": body["token"]}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await client.post(
        f"{url}/{body['id']}/cancel", headers={"X-Registration-Token": body["token"]}
    )
    assert again.status_code == 409
    # The first waitlisted (not the second) got the seat, with a ticket.
    promoted = (
        await client.get(f"{url}/{third['id']}", headers={"X-Registration-Token": third["token"]})
    ).json()
    assert promoted["status"] == "confirmed" and promoted["ticket_code"]
    still = (await client.get(f"{url}/{fourth['id']}", headers=operator)).json()
    assert still["status"] == "waitlisted" and still["waitlist_position"] == 1
    assert promoted["waitlist_position"] is None
    seats = (await client.get(f"/api/v1/events/{event['id']}/seats")).json()
    assert seats == {
        "capacity": 2,
        "confirmed": 2,
        "attended": 0,
        "waitlisted": 1,
        "pending": 0,
        "available": 0,
    }

    # A wrong token cannot cancel someone else's registration.
    assert (
        await client.post(f"{url}/{fourth['id']}/cancel", headers={"X-Registration-Token": "guess"})
    ).status_code == 404

    # Raising the capacity serves the waitlist at once.
    patched = await client.patch(
        f"/api/v1/events/{event['id']}", json={"capacity": 3}, headers=operator
    )
    assert patched.status_code == 200
    assert (await client.get(f"{url}/{fourth['id']}", headers=operator)).json()[
        "status"
    ] == "confirmed"
    # Lowering it below the confirmed seats is refused.
    lowered = await client.patch(
        f"/api/v1/events/{event['id']}", json={"capacity": 1}, headers=operator
    )
    assert lowered.status_code == 409


async def test_refusals_are_clear_problems(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    event = await h.published_event(client, operator)
    url = f"/api/v1/events/{event['id']}/registrations"
    someone = h.person()
    assert (await client.post(url, json=someone)).status_code == 201
    twice = await client.post(url, json={**someone, "email": someone["email"].upper()})
    assert twice.status_code == 409
    assert twice.headers["content-type"] == "application/problem+json"
    assert twice.json()["type"].endswith("/already-registered")

    invalid = await client.post(url, json={"full_name": "X", "email": "not-an-email"})
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "email"
    nul = await client.post(url, json=h.person(full_name="Anna\u0000Ivanova"))
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "full_name"
    nul_code = await client.post(
        f"/api/v1/events/{event['id']}/check-in", json={"ticket_code": "a\u0000b"}, headers=operator
    )
    assert nul_code.status_code == 422
    assert (await client.get("/api/v1/events", params={"q": "a\x00b"})).status_code == 422
    missing = await client.post(url, json={"email": "a@example.org"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "full_name"
    assert (
        await client.post(f"/api/v1/events/{uuid.uuid4()}/registrations", json=h.person())
    ).status_code == 404

    past = datetime.now(UTC) - timedelta(days=1)
    closed_window = await h.published_event(
        client, operator, registration_closes_at=past.isoformat()
    )
    late = await client.post(f"/api/v1/events/{closed_window['id']}/registrations", json=h.person())
    assert late.status_code == 409 and late.json()["type"].endswith("/registration-closed")
    assert "clos" in late.json()["detail"]

    future = datetime.now(UTC) + timedelta(days=3)
    not_open = await h.published_event(client, operator, registration_opens_at=future.isoformat())
    early = await client.post(f"/api/v1/events/{not_open['id']}/registrations", json=h.person())
    assert early.status_code == 409 and "not opened" in early.json()["detail"]

    cancelled = await h.published_event(client, operator)
    await client.post(
        f"/api/v1/events/{cancelled['id']}/cancel", json={"reason": "weather"}, headers=operator
    )
    refused = await client.post(f"/api/v1/events/{cancelled['id']}/registrations", json=h.person())
    assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]

    draft = (await client.post("/api/v1/events", json=h.event_body(), headers=operator)).json()
    assert (
        await client.post(f"/api/v1/events/{draft['id']}/registrations", json=h.person())
    ).status_code == 404


async def test_moderation_and_check_in(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    event = await h.published_event(client, operator, capacity=1, moderated=True)
    url = f"/api/v1/events/{event['id']}/registrations"
    a = (await client.post(url, json=h.person())).json()
    b = (await client.post(url, json=h.person())).json()
    assert (a["status"], b["status"]) == ("pending", "pending") and a["ticket_code"] is None

    registrant = token_issuer.headers("resident", resident_id=uuid.uuid4())
    assert (await client.post(f"{url}/{a['id']}/approve", headers=registrant)).status_code == 403
    approved = await client.post(f"{url}/{a['id']}/approve", headers=operator)
    assert approved.json()["status"] == "confirmed"
    ticket = approved.json()["ticket_code"]
    assert (await client.post(f"{url}/{b['id']}/approve", headers=operator)).json()[
        "status"
    ] == "waitlisted"
    rejected = await client.post(
        f"{url}/{b['id']}/reject", json={"reason": "full"}, headers=operator
    )
    assert rejected.json()["status"] == "rejected"
    assert (await client.post(f"{url}/{b['id']}/approve", headers=operator)).status_code == 409

    check_in = f"/api/v1/events/{event['id']}/check-in"
    wrong = await client.post(check_in, json={"ticket_code": "not-a-ticket"}, headers=operator)
    assert wrong.status_code == 404
    assert wrong.headers["content-type"] == "application/problem+json"
    assert (await client.post(check_in, json={"ticket_code": ticket})).status_code == 401
    ok = await client.post(check_in, json={"ticket_code": ticket}, headers=operator)
    assert ok.status_code == 200 and ok.json()["status"] == "attended"
    assert ok.json()["checked_in_at"]
    reused = await client.post(check_in, json={"ticket_code": ticket}, headers=operator)
    assert reused.status_code == 409 and "already been used" in reused.json()["detail"]

    # A ticket of another event is not valid here.
    other = await h.published_event(client, operator)
    other_reg = (
        await client.post(f"/api/v1/events/{other['id']}/registrations", json=h.person())
    ).json()
    assert (
        await client.post(
            check_in, json={"ticket_code": other_reg["ticket_code"]}, headers=operator
        )
    ).status_code == 404
    # A cancelled registration's ticket is refused.
    await client.post(
        f"/api/v1/events/{other['id']}/registrations/{other_reg['id']}/cancel",
        headers={"X-Registration-Token": other_reg["token"]},
    )
    dead = await client.post(
        f"/api/v1/events/{other['id']}/check-in",
        json={"ticket_code": other_reg["ticket_code"]},
        headers=operator,
    )
    assert dead.status_code == 409


async def test_logged_in_registrant_owns_registration(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    event = await h.published_event(client, operator)
    url = f"/api/v1/events/{event['id']}/registrations"
    me = token_issuer.token("resident", subject="user-me", resident_id=uuid.uuid4())
    mine = (
        await client.post(url, json=h.person(), headers={"Authorization": f"Bearer {me}"})
    ).json()
    read = await client.get(f"{url}/{mine['id']}", headers={"Authorization": f"Bearer {me}"})
    assert read.status_code == 200
    other = token_issuer.headers("resident", resident_id=uuid.uuid4())
    assert (await client.get(f"{url}/{mine['id']}", headers=other)).status_code == 404
    cancelled = await client.post(
        f"{url}/{mine['id']}/cancel", headers={"Authorization": f"Bearer {me}"}
    )
    assert cancelled.json()["status"] == "cancelled"
    # Cancelled, the same e-mail may register again.
    again = await client.post(url, json={**h.person(), "email": mine["email"]})
    assert again.status_code == 201


async def test_cancelling_the_event_cancels_every_live_registration(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    event = await h.published_event(client, operator, capacity=1)
    url = f"/api/v1/events/{event['id']}/registrations"
    seated = (await client.post(url, json=h.person())).json()
    queued = (await client.post(url, json=h.person())).json()
    gone = (await client.post(url, json=h.person())).json()
    await client.post(f"{url}/{gone['id']}/cancel", headers={"X-Registration-Token": gone["token"]})
    assert (seated["status"], queued["status"]) == ("confirmed", "waitlisted")

    r = await client.post(
        f"/api/v1/events/{event['id']}/cancel", json={"reason": "venue lost"}, headers=operator
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    for registration in (seated, queued, gone):
        view = await client.get(
            f"{url}/{registration['id']}", headers={"X-Registration-Token": registration["token"]}
        )
        assert view.json()["status"] == "cancelled"
    # Nobody was promoted into the freed seat of an event that will not happen.
    seats = (await client.get(f"/api/v1/events/{event['id']}/seats")).json()
    assert (seats["confirmed"], seats["waitlisted"], seats["pending"]) == (0, 0, 0), seats
