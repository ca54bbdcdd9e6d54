"""Concurrent changes and the PATCH rule against the running service: a lost race is a 409
(a stale If-Match a 412), never a 500 and never a lost update; `null` for a field a
resource cannot be without is a 422 naming that field."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from innopark_shared.pagination import encode_cursor

from .conftest import park_body

WRITERS = 16


async def _created(api, path: str, body: dict, headers: dict) -> dict:
    response = await api.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _park(api, op) -> dict:
    return await _created(api, "/api/v1/parks", park_body(), op)


async def _resident(api, op) -> dict:
    park = await _park(api, op)
    return await _created(
        api, f"/api/v1/parks/{park['id']}/residents", {"name": "R", "technologies": ["ai"]}, op
    )


async def _cluster(api, op) -> dict:
    return await _created(
        api, "/api/v1/clusters", {"name": "C", "country": "RU", "region": "Tomsk"}, op
    )


async def _agreement(api, op) -> dict:
    parties = [{"name": "A"}, {"name": "B", "country": "FI"}]
    return await _created(api, "/api/v1/agreements", {"title": "MoU", "parties": parties}, op)


# What each aggregate's PATCH is tried with: how to make one, its path, a field to change,
# and the fields that may not become null.
AGGREGATES = {
    "parks": (
        _park,
        "description",
        ["name", "kind", "country", "region", "specializations", "membership_status"],
    ),
    "residents": (_resident, "description", ["name", "technologies", "sectors", "admitted_on"]),
    "clusters": (
        _cluster,
        "description",
        ["name", "country", "region", "specializations", "members"],
    ),
    "agreements": (_agreement, "scope", ["title", "parties"]),
}


@pytest.mark.parametrize("collection", list(AGGREGATES))
async def test_concurrent_patches_lose_no_update(api, token_issuer, collection):
    op = token_issuer.headers("operator")
    make, field, _ = AGGREGATES[collection]
    resource = await make(api, op)
    url = f"/api/v1/{collection}/{resource['id']}"
    assert resource["version"] == 1

    async def write(i: int) -> int:
        headers = dict(op)
        if i % 2:  # half based on a fresh read, half blind
            read = await api.get(url, headers=op)
            assert read.status_code == 200, read.text
            headers["If-Match"] = read.headers["etag"]
        response = await api.patch(url, json={field: f"change {i}"}, headers=headers)
        assert response.status_code in (200, 409, 412), response.text
        if response.status_code != 200:
            assert response.headers["content-type"] == "application/problem+json"
        return response.status_code

    answers = await asyncio.gather(*(write(i) for i in range(WRITERS)))
    succeeded = answers.count(200)
    assert succeeded >= 1, answers
    final = await api.get(url, headers=op)
    assert final.json()["version"] == 1 + succeeded, answers
    assert final.headers["etag"].strip('"').endswith(f"-{1 + succeeded}")


@pytest.mark.parametrize("collection", list(AGGREGATES))
async def test_null_for_a_required_field_is_a_422_naming_it(api, token_issuer, collection):
    op = token_issuer.headers("operator")
    make, _, required = AGGREGATES[collection]
    resource = await make(api, op)
    url = f"/api/v1/{collection}/{resource['id']}"
    for field in required:
        response = await api.patch(url, json={field: None}, headers=op)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field]
    # Nothing changed; an optional field may still be cleared with null.
    assert (await api.get(url, headers=op)).json()["version"] == 1
    optional = {"parks": "city", "residents": "website", "clusters": "name_en"}
    if collection in optional:
        cleared = await api.patch(url, json={optional[collection]: None}, headers=op)
        assert cleared.status_code == 200, cleared.text


async def test_forged_cursors_are_422_on_every_collection(api, token_issuer):
    op = token_issuer.headers("operator")
    park = await _park(api, op)
    huge = 10**30  # parses as an int, but no column holds it
    collections = [
        ("/api/v1/parks", {"sort": "created_at"}, [encode_cursor("x", str(uuid.uuid4()))]),
        ("/api/v1/parks", {"q": "park"}, [encode_cursor("high", str(uuid.uuid4()))]),
        ("/api/v1/residents", {}, [encode_cursor("a")]),
        ("/api/v1/clusters", {}, [encode_cursor("a", "not-a-uuid")]),
        ("/api/v1/agreements", {}, [encode_cursor(1, str(uuid.uuid4()))]),
        (
            f"/api/v1/parks/{park['id']}/kpi-reports",
            {},
            [encode_cursor(2015, huge, str(uuid.uuid4())), encode_cursor("x", 1, "y")],
        ),
    ]
    for path, params, cursors in collections:
        for cursor in cursors:
            response = await api.get(path, params={**params, "cursor": cursor}, headers=op)
            assert response.status_code == 422, (path, cursor, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            # An int past every column's range gets past the cursor parser and is refused
            # by PostgreSQL (still a 422 problem, without naming the parameter).
            errors = response.json().get("errors") or [{"field": "cursor"}]
            assert errors[0]["field"] == "cursor"
    for since in (encode_cursor(huge), encode_cursor(-huge)):
        response = await api.get("/api/v1/parks/changes", params={"since": since})
        assert response.status_code == 422, response.text
