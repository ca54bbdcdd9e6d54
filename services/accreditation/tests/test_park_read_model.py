"""Accreditation learns parks from the registry's events (both services as real processes)."""

import uuid

from innopark_shared.testing import wait_until

PARK = {
    "name": "Technopolis Himgrad",
    "kind": "technopolis",
    "country": "RU",
    "region": "Tatarstan",
    "specializations": ["chemistry", "polymers"],
}


async def test_park_created_in_registry_reaches_accreditation(
    registry, accreditation, token_issuer
):
    operator = token_issuer.headers("operator")

    async with registry.client() as reg, accreditation.client() as acc:
        unknown = await acc.get(f"/api/v1/accreditation/parks/{uuid.uuid4()}")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"

        created = await reg.post("/api/v1/parks", json=PARK, headers=operator)
        assert created.status_code == 201, created.text
        park_id = created.json()["id"]

        async def visible() -> bool:
            return (await acc.get(f"/api/v1/accreditation/parks/{park_id}")).status_code == 200

        assert await wait_until(visible, timeout=5)
        body = (await acc.get(f"/api/v1/accreditation/parks/{park_id}")).json()
        assert body == {
            "park_id": park_id,
            "park_name": PARK["name"],
            "status": "not_accredited",
            "certificate_number": None,
            "level": None,
            "valid_until": None,
        }
