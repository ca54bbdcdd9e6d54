"""Issue 5's demonstration through the gateway with real users: the platform as the dev
runner starts it (embedded PostgreSQL and broker, every service and the gateway as their
own processes), users created by the bootstrap operator, tokens from the token endpoint."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from innopark_shared.testing import wait_until

pytestmark = pytest.mark.e2e


def verifies(document: dict, public_key_pem: str) -> bool:
    key = load_pem_public_key(public_key_pem.encode())
    signatures = [document["signature"], document["status_signature"]]
    if (
        set(document)
        - {"signature", "status_signature"}
        - {f for s in signatures for f in s["signed_fields"]}
    ):
        return False
    for sig in signatures:
        if not set(sig["signed_fields"]) <= set(document):
            return False
        message = json.dumps(
            {f: document[f] for f in sig["signed_fields"]},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        try:
            key.verify(
                base64.urlsafe_b64decode(sig["value"] + "=" * (-len(sig["value"]) % 4)),
                message.encode(),
            )
        except (InvalidSignature, ValueError):
            return False
    return True


async def test_manager_applies_expert_scores_operator_grants_anyone_verifies(platform):
    operator = await platform.login()
    async with platform.client() as c:
        r = await c.post(
            "/api/v1/parks",
            headers=operator,
            json={
                "name": "Technopolis Gousev",
                "kind": "technopolis",
                "country": "RU",
                "region": "Kaliningrad",
                "specializations": ["radio-electronics"],
            },
        )
        assert r.status_code == 201, r.text
        park = r.json()

        async def known() -> bool:
            return (await c.get(f"/api/v1/accreditation/parks/{park['id']}")).status_code == 200

        assert await wait_until(known, timeout=10)

    _, manager = await platform.create_user(operator, "park_manager", park_id=park["id"])
    expert_id, expert = await platform.create_user(operator, "expert")
    _, other_expert = await platform.create_user(operator, "expert")
    async with platform.client() as c:
        r = await c.post(
            "/api/v1/parks",
            headers=operator,
            json={
                "name": "Technopark Other",
                "kind": "technopark",
                "country": "RU",
                "region": "Perm",
            },
        )
        assert r.status_code == 201, r.text
    # Bindings must exist: the gateway learns the park from the registry's events.
    _, stranger = await platform.create_user(operator, "park_manager", park_id=r.json()["id"])

    async with platform.client() as c:
        current = (await c.get("/api/v1/accreditation/catalogues/current")).json()
        criteria = [x for h in current["headings"] for x in h["criteria"]]
        r = await c.post(
            "/api/v1/accreditation/applications",
            headers=manager,
            json={
                "summary": "Fully private technopolis with a radio-electronics cluster",
                "self_assessment": [
                    {
                        "criterion_id": x["id"],
                        "score": x["scale_max"],
                        "evidence": [{"title": "Lab complex", "url": "https://example.org/lab"}],
                    }
                    for x in criteria
                ],
            },
        )
        assert r.status_code == 201, r.text
        app_url = r.headers["location"]
        assert app_url.startswith("/api/v1/accreditation/applications/")
        assert (await c.get(app_url, headers=stranger)).status_code == 404
        r = await c.post(f"{app_url}/submit", headers=manager)
        assert r.status_code == 200 and r.json()["status"] == "submitted", r.text

        # Only an active expert user can be assigned: accreditation learns of the new user
        # from the gateway's events, a moment after it was created.
        async def assigned() -> bool:
            nonlocal r
            r = await c.post(f"{app_url}/experts", headers=operator, json={"expert_id": expert_id})
            return r.status_code != 422

        assert await wait_until(assigned, timeout=15, interval=0.2)
        assert r.status_code == 200 and r.json()["status"] == "under_review", r.text

        scores = [
            {"criterion_id": x["id"], "score": x["scale_max"], "comment": "verified on site"}
            for x in criteria
        ]
        r = await c.put(f"{app_url}/scores", headers=other_expert, json={"scores": scores})
        assert r.status_code == 404, r.text
        r = await c.put(
            f"{app_url}/scores",
            headers=expert,
            json={"scores": [{**scores[0], "score": criteria[0]["scale_max"] + 1}]},
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scores.0.score", r.text
        r = await c.put(f"{app_url}/scores", headers=expert, json={"scores": scores})
        assert r.status_code == 200 and r.json()["complete"] is True, r.text

        r = await c.post(
            f"{app_url}/decision",
            headers=operator,
            json={"outcome": "granted", "level": "gold", "reasons": "All criteria met"},
        )
        assert r.status_code == 200, r.text
        number = r.json()["decision"]["certificate_number"]

        # Public verification through the gateway, no token; offline with the public key.
        r = await c.get(f"/api/v1/certificates/{number}")
        assert r.status_code == 200, r.text
        cert = r.json()
        assert cert["status"] == "active" and cert["park_name"] == "Technopolis Gousev"
        key = (await c.get("/api/v1/certificates/public-key")).json()["public_key_pem"]
        assert verifies(cert, key)
        assert not verifies({**cert, "level": "platinum"}, key)
        accredited = (await c.get("/api/v1/accreditation/parks?accredited=true&limit=200")).json()
        assert park["id"] in {p["park_id"] for p in accredited["items"]}

        # The registry shows the park as accredited, and its search finds it.
        async def registry_shows(status: str) -> bool:
            shown = (await c.get(f"/api/v1/parks/{park['id']}")).json()["accreditation"]
            return shown["status"] == status and shown["certificate_number"] == number

        assert await wait_until(lambda: registry_shows("active"), timeout=10)
        found = (await c.get("/api/v1/parks?accredited=true&limit=200")).json()
        assert park["id"] in {p["id"] for p in found["items"]}

        # An expiry date in the past: the certificate expires without anyone acting. (A
        # validity must end after the issue: the certificate is backdated a month first.)
        db = await asyncpg.connect(platform.database_url("accreditation"))
        try:
            await db.execute(
                "UPDATE accreditation.certificates SET issued_on = issued_on - 30"
                " WHERE number = $1",
                number,
            )
        finally:
            await db.close()
        etag = (await c.get(f"/api/v1/certificates/{number}")).headers["etag"]
        yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
        r = await c.patch(
            f"/api/v1/certificates/{number}",
            headers={**operator, "If-Match": etag},
            json={"valid_until": yesterday},
        )
        assert r.status_code == 200, r.text

        async def expired() -> bool:
            return (await c.get(f"/api/v1/certificates/{number}")).json()["status"] == "expired"

        assert await wait_until(expired, timeout=10)
        state = (await c.get(f"/api/v1/accreditation/parks/{park['id']}")).json()
        assert state["status"] == "expired"
        # ...and the registry follows.
        assert await wait_until(lambda: registry_shows("expired"), timeout=10)
        found = (await c.get("/api/v1/parks?accredited=true&limit=200")).json()
        assert park["id"] not in {p["id"] for p in found["items"]}
