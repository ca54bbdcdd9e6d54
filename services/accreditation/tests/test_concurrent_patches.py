"""Concurrent PATCHes of one resource against the running service: each answer is a 2xx,
a 409 (lost race) or a 412 (stale If-Match) — never a 500 — and no update is lost (the
final version is 1 + the number of successes). And `null` for a field a PATCH cannot
clear is a 422 naming it."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

BURST = 16


def version_of(etag: str) -> int:
    return int(etag.strip('"').rsplit("-", 1)[1])


async def burst(client, url: str, bodies: list[dict], headers: dict, etag: str) -> list[int]:
    """PATCH `url` with each body at once; every other one carries the fresh `etag`."""

    async def patch(i: int, body: dict) -> int:
        extra = {"If-Match": etag} if i % 2 == 0 else {}
        r = await client.patch(url, json=body, headers={**headers, **extra})
        assert r.status_code in (200, 409, 412), r.text
        if r.status_code != 200:
            assert r.headers["content-type"] == "application/problem+json"
        return r.status_code

    return list(await asyncio.gather(*(patch(i, b) for i, b in enumerate(bodies))))


async def test_concurrent_amendments_of_a_certificate_lose_no_update(flow, accreditation):
    park = await flow.park()
    cert = await flow.certificate(park["id"])
    url = f"/api/v1/certificates/{cert['number']}"
    start = date.fromisoformat(cert["valid_until"])
    bodies = [{"valid_until": (start + timedelta(days=i + 1)).isoformat()} for i in range(BURST)]
    async with accreditation.client() as acc:
        before = await acc.get(url)
        assert version_of(before.headers["etag"]) == 1
        codes = await burst(acc, url, bodies, flow.operator, before.headers["etag"])
        after = await acc.get(url)
        history = (await acc.get(f"{url}/history", headers=flow.operator)).json()["items"]
    succeeded = codes.count(200)
    assert succeeded >= 1, codes
    assert version_of(after.headers["etag"]) == 1 + succeeded, codes
    assert (
        sum(1 for h in history if (h["reason"] or "").startswith("valid_until set to")) == succeeded
    )
    assert after.json()["valid_until"] in {b["valid_until"] for b in bodies}


async def test_concurrent_edits_of_an_application_lose_no_update(flow, accreditation):
    park = await flow.park()
    manager = flow.manager(park["id"])
    async with accreditation.client() as acc:
        r = await acc.post("/api/v1/accreditation/applications", json={}, headers=manager)
        assert r.status_code == 201, r.text
        url = f"/api/v1/accreditation/applications/{r.json()['id']}"
        assert version_of(r.headers["etag"]) == 1
        bodies = [{"summary": f"edit {i}"} for i in range(BURST)]
        codes = await burst(acc, url, bodies, manager, r.headers["etag"])
        after = await acc.get(url, headers=manager)
    succeeded = codes.count(200)
    assert succeeded >= 1, codes
    assert version_of(after.headers["etag"]) == 1 + succeeded, codes
    assert after.json()["summary"] in {b["summary"] for b in bodies}


async def test_null_for_a_field_a_patch_cannot_clear_is_a_422_naming_it(flow, accreditation):
    park = await flow.park()
    manager = flow.manager(park["id"])
    cert = await flow.certificate(park["id"])
    async with accreditation.client() as acc:
        r = await acc.post("/api/v1/accreditation/applications", json={}, headers=manager)
        assert r.status_code == 201, r.text
        application = f"/api/v1/accreditation/applications/{r.json()['id']}"
        for url, body, headers, field in (
            (application, {"self_assessment": None}, manager, "self_assessment"),
            (
                f"/api/v1/certificates/{cert['number']}",
                {"valid_until": None},
                flow.operator,
                "valid_until",
            ),
        ):
            r = await acc.patch(url, json=body, headers=headers)
            assert r.status_code == 422, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in r.json()["errors"]] == [field]
        # An optional field may be cleared.
        r = await acc.patch(application, json={"summary": None}, headers=manager)
        assert r.status_code == 200 and r.json()["summary"] is None, r.text
