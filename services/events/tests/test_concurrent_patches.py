"""PATCH under concurrency and the one PATCH rule, against the running service: racing
changes answer 200, 409 or 412 (never 500) and none is lost; `null` for a field an event
cannot be without is a 422 naming it."""

import asyncio
import uuid

import pytest

# Every field of PATCH /events/{id} that may not become null (EventUpdate.not_null).
REQUIRED = [
    "audience",
    "capacity",
    "ends_at",
    "format",
    "languages",
    "moderated",
    "starts_at",
    "timezone",
    "title",
    "type",
]


def version_of(etag: str) -> int:
    return int(etag.strip('"').rsplit("-", 1)[1])


@pytest.mark.parametrize("published", [False, True])
async def test_sixteen_concurrent_patches_lose_nothing(client, token_issuer, h, published):
    operator = token_issuer.headers("operator")
    if published:
        event = await h.published_event(client, operator, capacity=10)
    else:
        created = await client.post("/api/v1/events", json=h.event_body(), headers=operator)
        event = created.json()
    url = f"/api/v1/events/{event['id']}"
    start = version_of((await client.get(url, headers=operator)).headers["ETag"])

    async def patch(i: int):
        headers = dict(operator)
        if i % 2 == 0:  # half with a fresh If-Match, half without
            headers["If-Match"] = (await client.get(url, headers=operator)).headers["ETag"]
        body = {"title": f"Forum, take {i}"} if i % 4 < 2 else {"capacity": 10 + i}
        return await client.patch(url, json=body, headers=headers)

    answers = await asyncio.gather(*(patch(i) for i in range(16)))
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 409, 412}, [a.text for a in answers if a.status_code >= 500]
    succeeded = [a for a in answers if a.status_code == 200]
    assert succeeded
    for refused in answers:
        if refused.status_code in (409, 412):
            assert refused.headers["content-type"] == "application/problem+json"
    final = await client.get(url, headers=operator)
    assert version_of(final.headers["ETag"]) == start + len(succeeded)
    # The last change that succeeded is the one the event shows.
    versions = {version_of(a.headers["ETag"]): a.json() for a in succeeded}
    assert len(versions) == len(succeeded)  # each success made its own version
    last = versions[max(versions)]
    assert (final.json()["title"], final.json()["capacity"]) == (last["title"], last["capacity"])


async def test_null_for_a_required_field_is_a_422_naming_it(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    created = (await client.post("/api/v1/events", json=h.event_body(), headers=operator)).json()
    url = f"/api/v1/events/{created['id']}"
    for field in REQUIRED:
        answer = await client.patch(url, json={field: None}, headers=operator)
        assert answer.status_code == 422, (field, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json()["errors"]] == [field]
    # Optional fields may be cleared; nothing above changed the event.
    cleared = await client.patch(url, json={"venue": None, "description": None}, headers=operator)
    assert cleared.status_code == 200 and cleared.json()["venue"] is None
    assert cleared.json()["title"] == created["title"]
    unknown = await client.patch(url, json={"colour": "red"}, headers=operator)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "colour"
    assert (
        await client.patch(f"/api/v1/events/{uuid.uuid4()}", json={"title": "x"}, headers=operator)
    ).status_code == 404
