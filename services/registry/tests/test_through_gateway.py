"""Issue 3's demonstration through the gateway with real users: the platform as the dev
runner starts it (embedded PostgreSQL and broker, every service and the gateway as their
own processes), users created by the bootstrap operator, tokens from the token endpoint."""

from __future__ import annotations

import csv
import io
import uuid

import asyncpg
import pytest
from innopark_shared.testing import PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD

pytestmark = pytest.mark.e2e


def _park(**overrides) -> dict:
    body = {
        "name": "Park " + uuid.uuid4().hex[:6],
        "kind": "technopark",
        "country": "RU",
        "region": "Region " + uuid.uuid4().hex[:6],
        "specializations": ["it"],
    }
    body.update(overrides)
    return body


async def test_registry_through_the_gateway(platform):
    operator = await platform.login(PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD)
    region = "Татарстан " + uuid.uuid4().hex[:6]
    async with platform.client() as c:
        # Create, read, update with If-Match.
        r = await c.post(
            "/api/v1/parks",
            headers=operator,
            json=_park(
                name="Технополис «Химград»",
                kind="technopolis",
                region=region,
                city="Казань",
                latitude=55.83,
                longitude=49.06,
                total_area=120000,
                specializations=["chemistry"],
            ),
        )
        assert r.status_code == 201, r.text
        himgrad = r.json()
        assert r.headers["location"].endswith(f"/api/v1/parks/{himgrad['id']}")
        r = await c.post(
            "/api/v1/parks",
            headers=operator,
            json=_park(
                name="Technopolis Gousev",
                kind="technopolis",
                region=region,
                latitude=54.57,
                longitude=22.2,
                ownership="private",
            ),
        )
        gousev = r.json()

        read = await c.get(f"/api/v1/parks/{himgrad['id']}")
        assert read.status_code == 200 and read.headers["etag"]
        etag = read.headers["etag"]
        changed = await c.patch(
            f"/api/v1/parks/{himgrad['id']}",
            json={"founded_year": 2006},
            headers={**operator, "If-Match": etag},
        )
        assert changed.status_code == 200, changed.text
        stale = await c.patch(
            f"/api/v1/parks/{himgrad['id']}",
            json={"founded_year": 2007},
            headers={**operator, "If-Match": etag},
        )
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"

        # Access: the public reads and gets 401 on writes; a manager of A gets 403 on B.
        assert (await c.post("/api/v1/parks", json=_park())).status_code == 401
        assert (
            await c.patch(f"/api/v1/parks/{gousev['id']}", json={"city": "x"})
        ).status_code == 401
        manager = await platform.user(operator, "park_manager", park_id=himgrad["id"])
        own = await c.patch(
            f"/api/v1/parks/{himgrad['id']}", json={"phone": "+7 843 000"}, headers=manager
        )
        assert own.status_code == 200, own.text
        assert (
            await c.patch(f"/api/v1/parks/{gousev['id']}", json={"phone": "1"}, headers=manager)
        ).status_code == 403
        assert (
            await c.post(
                f"/api/v1/parks/{gousev['id']}/residents",
                headers=manager,
                json={"name": "X", "technologies": ["ai"]},
            )
        ).status_code == 403

        # Residents: a duplicate legal identifier is a 409; bad input a 422.
        number = str(uuid.uuid4().int)[:13]
        first = await c.post(
            f"/api/v1/parks/{himgrad['id']}/residents",
            headers=manager,
            json={
                "name": "ООО Полимер",
                "technologies": ["polymers"],
                "legal_country": "RU",
                "registration_number": number,
            },
        )
        assert first.status_code == 201, first.text
        again = await c.post(
            f"/api/v1/parks/{gousev['id']}/residents",
            headers=operator,
            json={
                "name": "Other",
                "technologies": ["x"],
                "legal_country": "RU",
                "registration_number": number,
            },
        )
        assert again.status_code == 409
        bad = await c.post(
            "/api/v1/parks",
            headers=operator,
            json=_park(latitude=123, longitude=0, total_area=-1, kind="castle"),
        )
        assert bad.status_code == 422
        assert {"latitude", "total_area", "kind"} <= {e["field"] for e in bad.json()["errors"]}
        assert (await c.get("/api/v1/parks", params={"accredited": "perhaps"})).status_code == 422

        # Search in both languages, with filters.
        for q in ("Химград", "Himgrad"):
            found = await c.get("/api/v1/parks", params={"q": q, "region": region})
            assert [p["id"] for p in found.json()["items"]] == [himgrad["id"]], q
        private = await c.get("/api/v1/parks", params={"region": region, "ownership": "private"})
        assert [p["id"] for p in private.json()["items"]] == [gousev["id"]]

        # CSV and GeoJSON.
        exported = await c.get(
            "/api/v1/parks", params={"region": region}, headers={"Accept": "text/csv"}
        )
        assert exported.status_code == 200 and exported.headers["content-type"].startswith(
            "text/csv"
        )
        names = [row["name"] for row in csv.DictReader(io.StringIO(exported.text))]
        assert sorted(names) == sorted(["Технополис «Химград»", "Technopolis Gousev"])
        geo = await c.get("/api/v1/parks", params={"region": region, "format": "geojson"})
        assert geo.headers["content-type"].startswith("application/geo+json")
        assert len(geo.json()["features"]) == 2

        # KPI reports filed for two parks change the association's totals.
        before = (await c.get("/api/v1/stats", params={"region": region, "year": 2015})).json()
        assert before["totals"]["jobs"] == 0
        for park, jobs, companies, area in (
            (himgrad, 12000, 500, 300000),
            (gousev, 7500, 340, 175000),
        ):
            r = await c.post(
                f"/api/v1/parks/{park['id']}/kpi-reports",
                headers=operator,
                json={
                    "year": 2015,
                    "quarter": 3,
                    "residents": companies,
                    "jobs": jobs,
                    "resident_revenue": 1,
                    "taxes_paid": 1,
                    "investments_attracted": 1,
                    "area_occupied": area,
                },
            )
            assert r.status_code == 201, r.text
        after = (await c.get("/api/v1/stats", params={"region": region, "year": 2015})).json()
        totals = after["totals"]
        assert (totals["residents"], totals["jobs"], float(totals["area_occupied"])) == (
            840,
            19500,
            475000.0,
        )


async def test_paging_past_1000_rows_through_the_gateway(platform):
    region = "Paging " + uuid.uuid4().hex[:6]
    conn = await asyncpg.connect(platform.database_url("registry"))
    try:
        rows = [
            (uuid.uuid4(), f"Bulk {i:05d}", "technopark", "RU", region, ["it"], 1, f"bulk {i:05d}")
            for i in range(1100)
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
    operator = await platform.login(PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD)
    seen: list[str] = []
    cursor = None
    async with platform.client() as c:
        while True:
            params = {"region": region, "limit": 200, **({"cursor": cursor} if cursor else {})}
            page = await c.get("/api/v1/parks", params=params)
            assert page.status_code == 200, page.text
            seen += [p["id"] for p in page.json()["items"]]
            if len(seen) == 400:  # inserts behind and ahead of the reader
                for name in ("Bulk 00000x", "Bulk 99999"):
                    r = await c.post(
                        "/api/v1/parks", headers=operator, json=_park(name=name, region=region)
                    )
                    assert r.status_code == 201
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == len(set(seen))
    assert {str(r[0]) for r in rows} <= set(seen)
