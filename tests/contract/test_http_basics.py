"""HTTP as clients expect it, through the gateway: compression, HEAD, conditional GET,
Cache-Control, 415 for bodies in other content types, UTC timestamps, `cursor` paging."""

from __future__ import annotations

import gzip
import uuid

import httpx
import pytest_asyncio

PARK = {
    "kind": "technopark",
    "country": "RU",
    "region": "Tatarstan",
    "specializations": ["composites"],
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def park(platform) -> dict:
    async with platform.client() as c:
        r = await c.post(
            "/api/v1/parks",
            headers=await platform.login(),
            json={**PARK, "name": f"HTTP basics park {uuid.uuid4().hex[:6]}"},
        )
    assert r.status_code == 201, r.text
    return r.json()


def _raw(platform) -> httpx.AsyncClient:
    # No automatic decompression: the test looks at the bytes on the wire.
    return httpx.AsyncClient(base_url=platform.gateway, timeout=15.0)


async def test_large_answers_are_gzipped_by_services_and_the_gateway(platform):
    async with _raw(platform) as c:
        for path in ("/docs/asyncapi.json", "/api/v1/parks?limit=100", "/openapi.json"):
            async with c.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as r:
                wire = b"".join([chunk async for chunk in r.aiter_raw()])
            assert r.status_code == 200, path
            if r.headers.get("content-encoding") != "gzip":
                assert len(wire) < 1024, f"{path}: {len(wire)} bytes sent uncompressed"
                continue
            assert "accept-encoding" in r.headers["vary"].lower(), path
            assert gzip.decompress(wire).lstrip().startswith(b"{"), path
        # Compressed once, not twice, on the way through the gateway: the body decodes.
        r = await c.get("/docs/asyncapi.json", headers={"Accept-Encoding": "gzip"})
        assert r.json()["asyncapi"].startswith("3.")
        identity = await c.get("/docs/asyncapi.json", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in identity.headers and identity.json()["asyncapi"]


async def test_a_proxied_compressed_answer_reaches_the_client_intact(platform, park):
    async with _raw(platform) as c:
        plain = await c.get("/api/v1/parks", params={"limit": 100})
        zipped = await c.get(
            "/api/v1/parks", params={"limit": 100}, headers={"Accept-Encoding": "gzip"}
        )
    assert plain.status_code == zipped.status_code == 200
    assert zipped.json() == plain.json()  # httpx decodes it: the bytes were valid gzip
    if len(plain.content) >= 1024:
        assert zipped.headers["content-encoding"] == "gzip"
        assert int(zipped.headers["content-length"]) < len(plain.content)


async def test_head_answers_wherever_get_does(platform, park):
    async with platform.client() as c:
        for path in (f"/api/v1/parks/{park['id']}", "/api/v1/parks", "/health", "/docs"):
            get = await c.get(path)
            head = await c.head(path)
            assert head.status_code == get.status_code == 200, path
            assert head.content == b"", path
            assert head.headers["content-type"] == get.headers["content-type"], path
        head = await c.head(f"/api/v1/parks/{park['id']}")
        assert head.headers["etag"] == (await c.get(f"/api/v1/parks/{park['id']}")).headers["etag"]


async def test_if_none_match_answers_304_while_the_etag_holds(platform, park):
    path = f"/api/v1/parks/{park['id']}"
    async with platform.client() as c:
        first = await c.get(path)
        etag = first.headers["etag"]
        again = await c.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert (await c.get(path, headers={"If-None-Match": f"W/{etag}"})).status_code == 304
        assert (await c.get(path, headers={"If-None-Match": '"other"'})).status_code == 200
        changed = await c.patch(
            path,
            headers={**await platform.login(), "If-Match": etag},
            json={"region": "Samara"},
        )
        assert changed.status_code == 200, changed.text
        fresh = await c.get(path, headers={"If-None-Match": etag})
        assert fresh.status_code == 200 and fresh.json()["region"] == "Samara"


async def test_cache_control_public_reads_private_reads_and_no_store(platform, park):
    operator = await platform.login()
    async with platform.client() as c:
        public = await c.get(f"/api/v1/parks/{park['id']}")
        assert public.headers["cache-control"].startswith("public")
        assert "authorization" in public.headers["vary"].lower()
        private = await c.get(f"/api/v1/parks/{park['id']}", headers=operator)
        assert private.headers["cache-control"].startswith("private")
        token = await c.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "admin@platform.test",
                "password": "platform-admin-password",
            },
        )
        assert token.status_code == 200 and token.headers["cache-control"] == "no-store"
        secret = await c.post(
            "/api/v1/api-clients", headers=operator, json={"name": "cache test", "role": "expert"}
        )
        assert secret.status_code in (200, 201), secret.text
        assert "no-store" in secret.headers["cache-control"]
        missing = await c.get(f"/api/v1/parks/{uuid.uuid4()}")
        assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"


async def test_a_body_in_another_content_type_is_a_415_problem(platform):
    operator = await platform.login()
    async with platform.client() as c:
        r = await c.post(
            "/api/v1/parks",
            headers={**operator, "Content-Type": "text/plain"},
            content=b"name=Technopark",
        )
        assert r.status_code == 415, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 415 and "application/json" in r.json()["detail"]
        # JSON with a charset, and +json types, are JSON.
        r = await c.post(
            "/api/v1/parks",
            headers={**operator, "Content-Type": "application/json; charset=utf-8"},
            content=b'{"name": "x"}',
        )
        assert r.status_code == 422
        # The token endpoint reads forms, and refuses JSON with a 415.
        r = await c.post(
            "/api/v1/auth/token", json={"grant_type": "password", "username": "a", "password": "b"}
        )
        assert r.status_code == 415, r.text


async def test_events_answer_in_utc_whatever_offset_was_sent(platform, park):
    operator = await platform.login()
    async with platform.client() as c:
        created = await c.post(
            "/api/v1/events",
            headers=operator,
            json={
                "title": "UTC check",
                "type": "forum",
                "starts_at": "2031-05-10T12:00:00+03:00",
                "ends_at": "2031-05-10T18:30:00+03:00",
                "capacity": 10,
            },
        )
        assert created.status_code == 201, created.text
        event = created.json()
        assert event["starts_at"].startswith("2031-05-10T09:00:00")
        assert event["starts_at"].endswith(("Z", "+00:00"))
        patched = await c.patch(
            f"/api/v1/events/{event['id']}",
            headers={**operator, "If-Match": created.headers["etag"]},
            json={"ends_at": "2031-05-10T20:00:00-02:00"},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["ends_at"].startswith("2031-05-10T22:00:00")
        assert patched.json()["ends_at"].endswith(("Z", "+00:00"))


async def test_the_change_feed_pages_with_cursor_and_keeps_since(platform, park):
    async with platform.client() as c:
        first = await c.get("/api/v1/parks/changes", params={"limit": 1})
        assert first.status_code == 200
        cursor = first.json()["next_cursor"]
        by_cursor = await c.get("/api/v1/parks/changes", params={"limit": 5, "cursor": cursor})
        by_since = await c.get("/api/v1/parks/changes", params={"limit": 5, "since": cursor})
        assert by_cursor.status_code == by_since.status_code == 200
        assert by_cursor.json() == by_since.json()
        assert first.json()["items"][0] not in by_cursor.json()["items"]  # it moved on
        assert by_cursor.json()["next_cursor"] != cursor or not by_cursor.json()["items"]
