"""Parks through the HTTP API: create, read, update with If-Match, validation, access,
search in Russian and English, pagination under inserts, exports and the change feed."""

from __future__ import annotations

import csv
import io
import uuid

import asyncpg

from .conftest import park_body, unique


async def test_create_read_update_with_if_match(api, token_issuer):
    op = token_issuer.headers("operator")
    created = await api.post(
        "/api/v1/parks",
        json=park_body(
            name="Технопарк Тест",
            name_en="Test Technopark",
            city="Kazan",
            latitude=55.79,
            longitude=49.12,
            total_area=1000,
            occupied_area=600,
            ownership="public_private",
            founded_year=2006,
        ),
        headers=op,
    )
    assert created.status_code == 201, created.text
    park = created.json()
    assert created.headers["location"] == f"/api/v1/parks/{park['id']}"
    assert park["accreditation"]["status"] == "not_accredited"
    etag = created.headers["etag"]

    read = await api.get(f"/api/v1/parks/{park['id']}")
    assert read.status_code == 200 and read.headers["etag"] == etag
    assert read.json()["name_en"] == "Test Technopark"

    changed = await api.patch(
        f"/api/v1/parks/{park['id']}", json={"city": "Innopolis"}, headers={**op, "If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["city"] == "Innopolis"
    assert changed.headers["etag"] != etag

    stale = await api.patch(
        f"/api/v1/parks/{park['id']}", json={"city": "Kazan"}, headers={**op, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert (await api.get(f"/api/v1/parks/{park['id']}")).json()["city"] == "Innopolis"

    missing = await api.get(f"/api/v1/parks/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_bad_input_is_a_422_naming_the_field(api, token_issuer):
    op = token_issuer.headers("operator")
    cases = [
        (park_body(latitude=95, longitude=10), "latitude"),
        (park_body(latitude=10, longitude=-181), "longitude"),
        (park_body(total_area=-5), "total_area"),
        (park_body(kind="spaceport"), "kind"),
        (park_body(specializations="it"), "specializations"),
        (park_body(specializations=[1, 2]), "specializations.0"),
        (park_body(country="Russia"), "country"),
        (park_body(parent_id=str(uuid.uuid4())), "parent_id"),
        (park_body(name="nul\u0000byte"), "name"),
    ]
    for body, field in cases:
        response = await api.post("/api/v1/parks", json=body, headers=op)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f == field or f.startswith(field) for f in fields), (field, fields)

    for params in (
        {"kind": "spaceport"},
        {"accredited": "maybe"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "garbage"},
        {"sort": "relevance"},
        {"specialization": ""},
        {"q": "a\u0000b"},
        {"cursor": "WzFlOTk5XQ"},  # [1e999]: not a finite number
    ):
        response = await api.get("/api/v1/parks", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_access_public_reads_managers_change_only_their_park(api, token_issuer):
    op = token_issuer.headers("operator")
    a = (await api.post("/api/v1/parks", json=park_body(), headers=op)).json()
    b = (await api.post("/api/v1/parks", json=park_body(), headers=op)).json()
    manager_a = token_issuer.headers("park_manager", park_id=a["id"])

    assert (await api.post("/api/v1/parks", json=park_body())).status_code == 401
    assert (await api.patch(f"/api/v1/parks/{a['id']}", json={"city": "X"})).status_code == 401
    assert (await api.delete(f"/api/v1/parks/{a['id']}")).status_code == 401
    assert (await api.post("/api/v1/parks", json=park_body(), headers=manager_a)).status_code == 403

    own = await api.patch(
        f"/api/v1/parks/{a['id']}", json={"phone": "+7 843 000"}, headers=manager_a
    )
    assert own.status_code == 200, own.text
    other = await api.patch(f"/api/v1/parks/{b['id']}", json={"phone": "+7"}, headers=manager_a)
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    membership = await api.patch(
        f"/api/v1/parks/{a['id']}", json={"membership_status": "member"}, headers=manager_a
    )
    assert membership.status_code == 403
    partner = token_issuer.headers("partner", partner_id=uuid.uuid4())
    assert (
        await api.patch(f"/api/v1/parks/{a['id']}", json={"phone": "1"}, headers=partner)
    ).status_code == 403


async def test_search_in_russian_and_english_with_stemming(api, token_issuer):
    op = token_issuer.headers("operator")
    region = unique("Татарстан")
    himgrad = (
        await api.post(
            "/api/v1/parks",
            json=park_body(
                name="Технополис «Химград»",
                kind="technopolis",
                region=region,
                description="Нефтехимия, переработка полимеров и пластика",
                specializations=["chemistry", "polymers"],
            ),
            headers=op,
        )
    ).json()
    gousev = (
        await api.post(
            "/api/v1/parks",
            json=park_body(
                name="Technopolis Gousev",
                kind="technopolis",
                region=region,
                description="Private technoparks of radio electronics",
            ),
            headers=op,
        )
    ).json()
    other = (
        await api.post(
            "/api/v1/parks",
            json=park_body(
                name="Ingria Business Incubator", kind="business_incubator", region=region
            ),
            headers=op,
        )
    ).json()

    async def found(q: str, **params) -> list[str]:
        response = await api.get("/api/v1/parks", params={"q": q, "region": region, **params})
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await found("Химград") == [himgrad["id"]]
    assert await found("Himgrad") == [himgrad["id"]]
    assert await found("Khimgrad") == [himgrad["id"]]
    assert await found("полимеры") == [himgrad["id"]]  # stemmed: полимеров
    assert await found("technopark") == [gousev["id"]]  # stemmed: technoparks
    assert set(await found("technopolis")) == {gousev["id"]}
    assert set(await found("технополис")) == {himgrad["id"]}
    assert await found("Ingria", kind="technopolis") == []
    assert await found("Ingria", kind="business_incubator") == [other["id"]]

    filtered = await api.get(
        "/api/v1/parks",
        params={"region": region, "specialization": ["polymers", "nothing"], "kind": "technopolis"},
    )
    assert [p["id"] for p in filtered.json()["items"]] == [himgrad["id"]]
    not_accredited = await api.get(
        "/api/v1/parks", params={"region": region, "accredited": "false"}
    )
    assert len(not_accredited.json()["items"]) == 3

    suggest = await api.get("/api/v1/parks/autocomplete", params={"q": "Химгр"})
    assert himgrad["id"] in [s["id"] for s in suggest.json()["items"]]
    suggest = await api.get("/api/v1/parks/autocomplete", params={"q": "himgr"})
    assert himgrad["id"] in [s["id"] for s in suggest.json()["items"]]


async def _bulk_insert(registry, region: str, count: int) -> list[str]:
    conn = await asyncpg.connect(registry.database_url.replace("+asyncpg", ""))
    try:
        rows = [
            (
                uuid.uuid4(),
                f"Bulk park {i:05d}",
                "technopark",
                "RU",
                region,
                ["it"],
                1,
                f"bulk park {i:05d}",
            )
            for i in range(count)
        ]
        await conn.copy_records_to_table(
            "parks",
            schema_name="registry",
            records=rows,
            columns=[
                "id",
                "name",
                "kind",
                "country",
                "region",
                "specializations",
                "version",
                "search_names",
            ],
        )
    finally:
        await conn.close()
    return [str(r[0]) for r in rows]


async def test_pagination_past_1000_rows_while_rows_are_inserted(api, registry, token_issuer):
    op = token_issuer.headers("operator")
    region = unique("Paging")
    ids = await _bulk_insert(registry, region, 1050)

    for sort in ("name", "-name", "-created_at"):
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"region": region, "limit": 200, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = await api.get("/api/v1/parks", params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            seen += [p["id"] for p in body["items"]]
            pages += 1
            if pages == 2:  # rows arrive before and after the reader's position
                for name in ("Bulk park 00000a", "Bulk park 99999", "AAA first"):
                    created = await api.post(
                        "/api/v1/parks", json=park_body(name=name, region=region), headers=op
                    )
                    assert created.status_code == 201
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)), f"duplicates with sort={sort}"
        assert set(ids) <= set(seen), f"gap with sort={sort}"


async def test_csv_and_geojson_exports(api, token_issuer):
    op = token_issuer.headers("operator")
    region = unique("Export")
    for i, (lat, lon) in enumerate([(59.9, 30.3), (54.7, 20.5), (None, None)]):
        body = park_body(name=f"Export park {i}", region=region, specializations=["it", "bio"])
        if lat is not None:
            body.update(latitude=lat, longitude=lon)
        assert (await api.post("/api/v1/parks", json=body, headers=op)).status_code == 201

    by_accept = await api.get(
        "/api/v1/parks", params={"region": region}, headers={"Accept": "text/csv"}
    )
    assert by_accept.status_code == 200
    assert by_accept.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(by_accept.text)))
    assert [r["name"] for r in rows] == ["Export park 0", "Export park 1", "Export park 2"]
    assert rows[0]["specializations"] == "it;bio"
    by_format = await api.get("/api/v1/parks", params={"region": region, "format": "csv"})
    assert by_format.text == by_accept.text

    geo = await api.get(
        "/api/v1/parks", params={"region": region}, headers={"Accept": "application/geo+json"}
    )
    assert geo.status_code == 200
    assert geo.headers["content-type"].startswith("application/geo+json")
    collection = geo.json()
    assert collection["type"] == "FeatureCollection"
    assert [f["geometry"]["coordinates"] for f in collection["features"]] == [
        [30.3, 59.9],
        [20.5, 54.7],
    ]
    by_format = await api.get("/api/v1/parks", params={"region": region, "format": "geojson"})
    assert by_format.json() == collection


async def test_change_feed_lists_changes_and_removals_in_order(api, token_issuer):
    op = token_issuer.headers("operator")
    start = await api.get("/api/v1/parks/changes", params={"limit": 200})
    cursor = start.json()["next_cursor"]
    while True:  # skip to the end of the feed
        page = (
            await api.get("/api/v1/parks/changes", params={"since": cursor, "limit": 200})
        ).json()
        if not page["items"]:
            break
        cursor = page["next_cursor"]

    a = (await api.post("/api/v1/parks", json=park_body(), headers=op)).json()
    b = (await api.post("/api/v1/parks", json=park_body(), headers=op)).json()
    await api.patch(f"/api/v1/parks/{a['id']}", json={"city": "Tomsk"}, headers=op)
    removed = await api.delete(f"/api/v1/parks/{b['id']}", headers=op)
    assert removed.status_code == 204
    assert (await api.get(f"/api/v1/parks/{b['id']}")).status_code == 404

    feed = (await api.get("/api/v1/parks/changes", params={"since": cursor})).json()
    mine = [i for i in feed["items"] if i["park_id"] in (a["id"], b["id"])]
    assert [(i["park_id"], i["removed"]) for i in mine] == [(a["id"], False), (b["id"], True)]
    assert mine[0]["park"]["city"] == "Tomsk"
    for since in ("WzFlOTk5XQ", "WyJ4Il0", "nonsense"):  # [1e999], ["x"], not base64 JSON
        bad = await api.get("/api/v1/parks/changes", params={"since": since})
        assert bad.status_code == 422, bad.text
    after = (await api.get("/api/v1/parks/changes", params={"since": feed["next_cursor"]})).json()
    assert all(i["park_id"] not in (a["id"], b["id"]) for i in after["items"])


async def test_relevance_pages_have_no_duplicate_and_no_gap(api, token_issuer):
    op = token_issuer.headers("operator")
    region = unique("Relevance")
    word = "zq" + uuid.uuid4().hex[:6]
    ids = []
    for i in range(23):
        # Some names repeat the word (higher rank), many tie (same rank, ordered by id).
        description = " ".join([word] * (i % 3 + 1)) + " laboratory"
        body = park_body(name=f"Park {word} {i}", region=region, description=description)
        ids.append((await api.post("/api/v1/parks", json=body, headers=op)).json()["id"])

    seen, cursor = [], None
    while True:
        params = {"q": word, "region": region, "limit": 5}
        if cursor:
            params["cursor"] = cursor
        body = (await api.get("/api/v1/parks", params=params)).json()
        seen += [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == set(ids)
    # The parks that mention the word most come first.
    assert set(seen[:7]) == {ids[i] for i in range(23) if i % 3 == 2}


async def test_park_changes_are_published_with_full_state(api, registry, token_issuer):
    import asyncio
    import json

    from aiokafka import AIOKafkaConsumer
    from innopark_shared.contracts.registry import PARKS_TOPIC

    op = token_issuer.headers("operator")
    park = (await api.post("/api/v1/parks", json=park_body(), headers=op)).json()
    await api.patch(
        f"/api/v1/parks/{park['id']}", json={"city": "Kaliningrad", "name_en": "Gousev"}, headers=op
    )
    await api.delete(f"/api/v1/parks/{park['id']}", headers=op)

    consumer = AIOKafkaConsumer(
        PARKS_TOPIC,
        group_id=None,
        auto_offset_reset="earliest",
        bootstrap_servers=registry.env["KAFKA_BOOTSTRAP_SERVERS"],
    )
    await consumer.start()
    seen: list[tuple[str, dict]] = []
    try:

        async def collect() -> None:
            while len(seen) < 3:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    seen.extend(
                        (dict(r.headers)["ce_type"].decode(), json.loads(r.value))
                        for r in records
                        if r.key == park["id"].encode()
                    )

        await asyncio.wait_for(collect(), timeout=15)
    finally:
        await consumer.stop()
    assert [t.split(".")[-2] for t, _ in seen] == ["created", "updated", "removed"]
    updated = seen[1][1]
    assert (updated["city"], updated["name_en"], updated["region"]) == (
        "Kaliningrad",
        "Gousev",
        park["region"],
    )


async def test_parent_links_and_removal(api, token_issuer):
    op = token_issuer.headers("operator")
    region = unique("Parents")
    parent = (await api.post("/api/v1/parks", json=park_body(region=region), headers=op)).json()
    child = await api.post(
        "/api/v1/parks",
        json=park_body(
            name="Ingria", kind="business_incubator", region=region, parent_id=parent["id"]
        ),
        headers=op,
    )
    assert child.status_code == 201, child.text
    inside = await api.get("/api/v1/parks", params={"parent_id": parent["id"]})
    assert [p["id"] for p in inside.json()["items"]] == [child.json()["id"]]

    cycle = await api.patch(
        f"/api/v1/parks/{parent['id']}", json={"parent_id": child.json()["id"]}, headers=op
    )
    assert cycle.status_code == 422
    assert cycle.json()["errors"][0]["field"] == "parent_id"
    refused = await api.delete(f"/api/v1/parks/{parent['id']}", headers=op)
    assert refused.status_code == 409
    assert (await api.delete(f"/api/v1/parks/{child.json()['id']}", headers=op)).status_code == 204
    assert (await api.delete(f"/api/v1/parks/{parent['id']}", headers=op)).status_code == 204


async def test_csv_cells_that_look_like_formulas_are_quoted(api, token_issuer):
    op = token_issuer.headers("operator")
    region = unique("Formula")
    body = park_body(name='=HYPERLINK("http://x")', region=region)
    assert (await api.post("/api/v1/parks", json=body, headers=op)).status_code == 201
    exported = await api.get("/api/v1/parks", params={"region": region, "format": "csv"})
    row = next(csv.DictReader(io.StringIO(exported.text)))
    assert row["name"] == '\'=HYPERLINK("http://x")'
