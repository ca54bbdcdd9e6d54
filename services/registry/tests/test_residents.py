"""Residents: admission, unique legal identifiers, who may change what, departure, and
the events that describe it on the broker."""

from __future__ import annotations

import asyncio
import json
import uuid

from aiokafka import AIOKafkaConsumer
from innopark_shared.contracts.registry import RESIDENTS_TOPIC

from .conftest import park_body


async def _park(api, headers) -> dict:
    response = await api.post("/api/v1/parks", json=park_body(), headers=headers)
    assert response.status_code == 201
    return response.json()


async def test_admit_update_and_leave(api, token_issuer):
    op = token_issuer.headers("operator")
    park = await _park(api, op)
    number = str(uuid.uuid4().int)[:13]
    admitted = await api.post(
        f"/api/v1/parks/{park['id']}/residents",
        json={
            "name": "ООО Полимер",
            "technologies": ["polymer recycling"],
            "stage": "sme",
            "legal_country": "RU",
            "registration_number": f"{number[:4]} {number[4:]}",
            "patents_count": 3,
        },
        headers=op,
    )
    assert admitted.status_code == 201, admitted.text
    resident = admitted.json()
    assert resident["legal_id"] == f"RU:{number}"
    assert resident["status"] == "active"
    assert admitted.headers["location"] == f"/api/v1/residents/{resident['id']}"

    listed = await api.get(f"/api/v1/parks/{park['id']}/residents")
    assert [r["id"] for r in listed.json()["items"]] == [resident["id"]]
    found = await api.get("/api/v1/residents", params={"q": "Polimer", "park_id": park["id"]})
    assert [r["id"] for r in found.json()["items"]] == [resident["id"]]

    etag = (await api.get(f"/api/v1/residents/{resident['id']}")).headers["etag"]
    changed = await api.patch(
        f"/api/v1/residents/{resident['id']}",
        json={"employees": 40},
        headers={**op, "If-Match": etag},
    )
    assert changed.status_code == 200 and changed.json()["employees"] == 40
    stale = await api.patch(
        f"/api/v1/residents/{resident['id']}",
        json={"employees": 41},
        headers={**op, "If-Match": etag},
    )
    assert stale.status_code == 412

    left = await api.post(f"/api/v1/residents/{resident['id']}/leave", json={}, headers=op)
    assert left.status_code == 200 and left.json()["status"] == "left"
    again = await api.post(f"/api/v1/residents/{resident['id']}/leave", json={}, headers=op)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_duplicate_legal_identifier_is_a_409(api, token_issuer):
    op = token_issuer.headers("operator")
    park = await _park(api, op)
    number = str(uuid.uuid4().int)[:10]
    first = await api.post(
        f"/api/v1/parks/{park['id']}/residents",
        headers=op,
        json={
            "name": "First",
            "technologies": ["ai"],
            "legal_country": "RU",
            "registration_number": number,
        },
    )
    assert first.status_code == 201
    # The same identifier written differently is still the same company.
    spaced = f"{number[:3]}-{number[3:]}"
    second = await api.post(
        f"/api/v1/parks/{park['id']}/residents",
        headers=op,
        json={
            "name": "Second",
            "technologies": ["ai"],
            "legal_country": "RU",
            "registration_number": spaced,
        },
    )
    assert second.status_code == 409, second.text
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["legal_id"] == f"RU:{number}"

    bad = await api.post(
        f"/api/v1/parks/{park['id']}/residents",
        headers=op,
        json={"name": "No tech", "technologies": "ai"},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "technologies"
    negative = await api.post(
        f"/api/v1/parks/{park['id']}/residents",
        headers=op,
        json={"name": "Neg", "technologies": [], "employees": -1},
    )
    assert negative.status_code == 422


async def test_who_may_change_residents(api, token_issuer):
    op = token_issuer.headers("operator")
    park_a, park_b = await _park(api, op), await _park(api, op)
    manager_a = token_issuer.headers("park_manager", park_id=park_a["id"])

    mine = await api.post(
        f"/api/v1/parks/{park_a['id']}/residents",
        headers=manager_a,
        json={"name": "Mine", "technologies": ["ai"]},
    )
    assert mine.status_code == 201
    theirs = await api.post(
        f"/api/v1/parks/{park_b['id']}/residents",
        headers=op,
        json={"name": "Theirs", "technologies": ["ai"]},
    )
    theirs_id = theirs.json()["id"]

    assert (
        await api.post(
            f"/api/v1/parks/{park_b['id']}/residents",
            headers=manager_a,
            json={"name": "X", "technologies": []},
        )
    ).status_code == 403
    assert (
        await api.patch(f"/api/v1/residents/{theirs_id}", headers=manager_a, json={"employees": 1})
    ).status_code == 403
    assert (
        await api.post(f"/api/v1/residents/{theirs_id}/leave", headers=manager_a, json={})
    ).status_code == 403
    assert (
        await api.post(
            f"/api/v1/parks/{park_b['id']}/residents", json={"name": "X", "technologies": []}
        )
    ).status_code == 401
    assert (
        await api.patch(f"/api/v1/residents/{theirs_id}", json={"employees": 1})
    ).status_code == 401

    company = token_issuer.headers("resident", resident_id=theirs_id)
    own = await api.patch(
        f"/api/v1/residents/{theirs_id}",
        headers=company,
        json={"description": "We recycle plastics", "employees": 12},
    )
    assert own.status_code == 200 and own.json()["employees"] == 12
    assert (
        await api.patch(
            f"/api/v1/residents/{mine.json()['id']}", headers=company, json={"employees": 1}
        )
    ).status_code == 403
    # A company does not re-admit itself or change its legal identity.
    assert (
        await api.patch(
            f"/api/v1/residents/{theirs_id}",
            headers=company,
            json={"registration_number": "1", "legal_country": "RU"},
        )
    ).status_code == 403
    assert (
        await api.post(f"/api/v1/residents/{theirs_id}/leave", headers=company, json={})
    ).status_code == 403


async def test_admission_and_departure_are_published(api, registry, token_issuer):
    op = token_issuer.headers("operator")
    park = await _park(api, op)
    resident = (
        await api.post(
            f"/api/v1/parks/{park['id']}/residents",
            headers=op,
            json={"name": "Evented", "technologies": ["robotics"]},
        )
    ).json()
    await api.post(f"/api/v1/residents/{resident['id']}/leave", headers=op, json={})

    consumer = AIOKafkaConsumer(
        RESIDENTS_TOPIC,
        bootstrap_servers=registry.env["KAFKA_BOOTSTRAP_SERVERS"],
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[tuple[str, dict]] = []
    try:

        async def collect() -> None:
            while len(seen) < 2:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        if record.key == resident["id"].encode():
                            headers = dict(record.headers)
                            seen.append((headers["ce_type"].decode(), json.loads(record.value)))

        await asyncio.wait_for(collect(), timeout=15)
    finally:
        await consumer.stop()
    assert [t for t, _ in seen] == [
        "org.innopark.registry.resident.admitted.v1",
        "org.innopark.registry.resident.left.v1",
    ]
    assert seen[0][1]["park_id"] == park["id"] and seen[0][1]["technologies"] == ["robotics"]


async def test_residents_filters_and_csv_export(api, token_issuer):
    import csv
    import io

    op = token_issuer.headers("operator")
    park = await _park(api, op)
    for name, tech, stage in [
        ("Alpha", ["ai", "robotics"], "startup"),
        ("Beta", ["pharma"], "sme"),
        ("Gamma", ["ai"], "large"),
    ]:
        response = await api.post(
            f"/api/v1/parks/{park['id']}/residents",
            headers=op,
            json={"name": name, "technologies": tech, "stage": stage},
        )
        assert response.status_code == 201

    base = f"/api/v1/parks/{park['id']}/residents"
    ai = await api.get(base, params={"technology": "ai"})
    assert [r["name"] for r in ai.json()["items"]] == ["Alpha", "Gamma"]
    sme = await api.get("/api/v1/residents", params={"park_id": park["id"], "stage": "sme"})
    assert [r["name"] for r in sme.json()["items"]] == ["Beta"]
    assert (await api.get(base, params={"stage": "giant"})).status_code == 422

    exported = await api.get(base, headers={"Accept": "text/csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["name"], r["technologies"]) for r in rows] == [
        ("Alpha", "ai;robotics"),
        ("Beta", "pharma"),
        ("Gamma", "ai"),
    ]
    by_format = await api.get(base, params={"format": "csv", "technology": "pharma"})
    assert [r["name"] for r in csv.DictReader(io.StringIO(by_format.text))] == ["Beta"]
    assert (await api.get(f"/api/v1/parks/{uuid.uuid4()}/residents")).status_code == 404
