"""Events: creation, validation, lifecycle, ETag/If-Match, listing with cursors."""

import uuid
from datetime import UTC, datetime, timedelta

from innopark_shared.testing import wait_until


async def test_create_read_and_validation(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    created = await client.post("/api/v1/events", json=h.event_body(), headers=operator)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["Location"] == f"/api/v1/events/{body['id']}"
    assert created.headers["ETag"]
    assert body["status"] == "draft" and body["timezone"] == "Europe/Moscow"

    # Drafts are invisible to everyone but organisers.
    assert (await client.get(f"/api/v1/events/{body['id']}")).status_code == 404
    assert (await client.get(f"/api/v1/events/{body['id']}", headers=operator)).status_code == 200

    bad_tz = await client.post(
        "/api/v1/events", json=h.event_body(timezone="Mars/Olympus"), headers=operator
    )
    assert bad_tz.status_code == 422
    assert bad_tz.headers["content-type"] == "application/problem+json"
    assert any(e["field"] == "timezone" for e in bad_tz.json()["errors"])

    backwards = h.event_body()
    backwards["ends_at"], backwards["starts_at"] = backwards["starts_at"], backwards["ends_at"]
    answer = await client.post("/api/v1/events", json=backwards, headers=operator)
    assert answer.status_code == 422

    naive = h.event_body(starts_at="2030-01-01T10:00:00")
    answer = await client.post("/api/v1/events", json=naive, headers=operator)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "starts_at"

    no_capacity = h.event_body()
    del no_capacity["capacity"]
    answer = await client.post("/api/v1/events", json=no_capacity, headers=operator)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "capacity"

    # Who may create: not anonymous, not residents or partners.
    assert (await client.post("/api/v1/events", json=h.event_body())).status_code == 401
    resident = token_issuer.headers("resident", resident_id=uuid.uuid4())
    assert (
        await client.post("/api/v1/events", json=h.event_body(), headers=resident)
    ).status_code == 403
    # A park manager only at their own (known) park.
    manager = token_issuer.headers("park_manager", park_id=uuid.uuid4())
    assert (
        await client.post("/api/v1/events", json=h.event_body(), headers=manager)
    ).status_code == 403


async def test_lifecycle_and_if_match(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    created = (await client.post("/api/v1/events", json=h.event_body(), headers=operator)).json()
    event_id = created["id"]
    read = await client.get(f"/api/v1/events/{event_id}", headers=operator)
    etag = read.headers["ETag"]

    patched = await client.patch(
        f"/api/v1/events/{event_id}", json={"capacity": 20}, headers={**operator, "If-Match": etag}
    )
    assert patched.status_code == 200 and patched.json()["capacity"] == 20
    assert patched.headers["ETag"] != etag
    stale = await client.patch(
        f"/api/v1/events/{event_id}", json={"capacity": 30}, headers={**operator, "If-Match": etag}
    )
    assert stale.status_code == 412

    # Someone else's event: another operator may, another park manager may not.
    other_manager = token_issuer.headers("park_manager", park_id=uuid.uuid4())
    assert (
        await client.post(f"/api/v1/events/{event_id}/publish", headers=other_manager)
    ).status_code == 404

    assert (
        await client.post(f"/api/v1/events/{event_id}/complete", headers=operator)
    ).status_code == 409
    published = await client.post(f"/api/v1/events/{event_id}/publish", headers=operator)
    assert published.json()["status"] == "published"
    again = await client.post(f"/api/v1/events/{event_id}/publish", headers=operator)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/invalid-transition")
    closed = await client.post(f"/api/v1/events/{event_id}/close-registration", headers=operator)
    assert closed.json()["status"] == "registration_closed"
    done = await client.post(f"/api/v1/events/{event_id}/complete", headers=operator)
    assert done.json()["status"] == "completed"
    assert (
        await client.post(f"/api/v1/events/{event_id}/cancel", headers=operator)
    ).status_code == 409
    assert (
        await client.patch(f"/api/v1/events/{event_id}", json={"title": "Late"}, headers=operator)
    ).status_code == 409


async def test_list_with_cursor(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    marker = uuid.uuid4().hex[:10]
    ids = []
    for _ in range(5):
        event = await h.published_event(
            client, operator, title=f"Training {marker}", type="training"
        )
        ids.append(event["id"])
    seen, cursor = [], None
    while True:
        params = {"q": marker, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/events", params=params)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    later = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    none_later = (
        await client.get("/api/v1/events", params={"q": marker, "starts_after": later})
    ).json()
    assert none_later["items"] == []
    window = (
        await client.get(
            "/api/v1/events", params={"q": marker, "starts_before": later, "type": "training"}
        )
    ).json()
    assert len(window["items"]) == 5
    naive = await client.get("/api/v1/events", params={"starts_after": "2030-01-01T00:00:00"})
    assert naive.status_code == 422
    assert (await client.get("/api/v1/events", params={"limit": 0})).status_code == 422
    bad = await client.get("/api/v1/events", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422


async def test_time_moves_events_on(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    soon = datetime.now(UTC) + timedelta(seconds=2)
    event = await h.published_event(
        client,
        operator,
        starts_at=soon.isoformat(),
        ends_at=(soon + timedelta(seconds=2)).isoformat(),
    )
    assert event["status"] == "published"

    async def status_is(expected: str) -> bool:
        body = (await client.get(f"/api/v1/events/{event['id']}")).json()
        return body["status"] == expected

    assert await wait_until(lambda: status_is("registration_closed"), timeout=10)
    assert await wait_until(lambda: status_is("completed"), timeout=10)

    past = datetime.now(UTC) - timedelta(days=2)
    over = await client.post(
        "/api/v1/events",
        headers=operator,
        json=h.event_body(
            starts_at=past.isoformat(), ends_at=(past + timedelta(hours=2)).isoformat()
        ),
    )
    refused = await client.post(f"/api/v1/events/{over.json()['id']}/publish", headers=operator)
    assert refused.status_code == 409


async def test_programme_sessions(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    event = await h.published_event(client, operator)
    url = f"/api/v1/events/{event['id']}/sessions"
    start = datetime.fromisoformat(event["starts_at"])
    slots = []
    for hours, title in ((2, "Clusters and engineering centres"), (0, "Opening plenary")):
        answer = await client.post(
            url,
            headers=operator,
            json={
                "title": title,
                "starts_at": (start + timedelta(hours=hours)).isoformat(),
                "ends_at": (start + timedelta(hours=hours + 1)).isoformat(),
                "speakers": ["Ingria Business Incubator"],
                "room": "Hall A",
                "language": "ru",
            },
        )
        assert answer.status_code == 201, answer.text
        slots.append(answer.json()["id"])
    outside = await client.post(
        url,
        headers=operator,
        json={
            "title": "Too late",
            "starts_at": (start + timedelta(hours=9)).isoformat(),
            "ends_at": (start + timedelta(hours=10)).isoformat(),
        },
    )
    assert outside.status_code == 422
    anonymous = await client.post(
        url,
        json={
            "title": "x",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
        },
    )
    assert anonymous.status_code == 401

    page = (await client.get(url, params={"limit": 1})).json()
    assert page["items"][0]["title"] == "Opening plenary" and page["next_cursor"]
    rest = (await client.get(url, params={"cursor": page["next_cursor"]})).json()
    assert [s["title"] for s in rest["items"]] == ["Clusters and engineering centres"]

    assert (await client.delete(f"{url}/{slots[0]}", headers=operator)).status_code == 204
    assert (await client.delete(f"{url}/{slots[0]}", headers=operator)).status_code == 404
    assert len((await client.get(url)).json()["items"]) == 1
