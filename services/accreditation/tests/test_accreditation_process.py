"""The accreditation process end to end against the real service: application, expert
assessment, decision, a signed certificate that verifies offline, and certificate events
read back from the broker."""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from innopark_shared.testing import wait_until

GRANTED = "org.innopark.accreditation.certificate.granted.v1"
RENEWED = "org.innopark.accreditation.certificate.renewed.v1"
SUSPENDED = "org.innopark.accreditation.certificate.suspended.v1"
REINSTATED = "org.innopark.accreditation.certificate.reinstated.v1"
REVOKED = "org.innopark.accreditation.certificate.revoked.v1"
EXPIRED = "org.innopark.accreditation.certificate.expired.v1"
AMENDED = "org.innopark.accreditation.certificate.amended.v1"


def verify_offline(document: dict, public_key_pem: str) -> bool:
    """What the README tells a verifier to do, with nothing but the public key."""
    key = load_pem_public_key(public_key_pem.encode())
    signatures = [document["signature"], document["status_signature"]]
    covered = {f for s in signatures for f in s["signed_fields"]}
    if set(document) - {"signature", "status_signature"} - covered:
        return False  # a field no signature vouches for
    for sig in signatures:
        if not set(sig["signed_fields"]) <= set(document):
            return False  # a signed field is missing
        content = {f: document[f] for f in sig["signed_fields"]}
        message = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        value = sig["value"]
        try:
            key.verify(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), message.encode())
        except (InvalidSignature, ValueError):
            return False
    return True


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


async def test_apply_assess_grant_verify(flow, accreditation, certificate_events):
    park = await flow.park("Ingria Business Incubator")
    other_park = await flow.park()
    manager, stranger = flow.manager(park["id"]), flow.manager(other_park["id"])
    expert_id, outsider = await flow.expert_user(), await flow.expert_user()
    criteria = await flow.criteria()
    assert {c["code"] for c in criteria} >= {
        "infrastructure.specialised",
        "programmes.support",
        "services.sme",
        "infrastructure.occupancy",
        "residents.count",
    }

    async with accreditation.client() as acc:
        base = "/api/v1/accreditation/applications"
        # Only a manager of the park applies, only for a park the registry announced.
        r = await acc.post(base, json={"park_id": other_park["id"]}, headers=manager)
        problem(r, 404)
        r = await acc.post(base, json={}, headers=flow.manager(str(uuid.uuid4())))
        problem(r, 404)
        r = await acc.post(
            base, json={}, headers=flow.tokens.headers("resident", resident_id=uuid.uuid4())
        )
        problem(r, 403)

        r = await acc.post(base, json={"summary": "Ingria applies"}, headers=manager)
        assert r.status_code == 201, r.text
        app = r.json()
        assert r.headers["location"] == f"{base}/{app['id']}"
        assert app["status"] == "draft" and app["catalogue_number"] == 1
        etag = r.headers["etag"]

        # A second open application for the same park is a conflict.
        problem(await acc.post(base, json={}, headers=manager), 409)

        # Another park's manager neither reads nor changes it.
        problem(await acc.get(f"{base}/{app['id']}", headers=stranger), 404)
        problem(
            await acc.patch(f"{base}/{app['id']}", json={"summary": "x"}, headers=stranger), 404
        )
        problem(await acc.post(f"{base}/{app['id']}/submit", headers=stranger), 404)

        # Submitting without a full self-assessment names what is missing.
        body = problem(await acc.post(f"{base}/{app['id']}/submit", headers=manager), 422)
        assert body["errors"][0]["field"] == "self_assessment"

        self_assessment = [
            {
                "criterion_id": c["id"],
                "score": c["scale_max"] - 1,
                "comment": "our view",
                "evidence": [{"title": "Lab inventory", "url": "https://example.org/labs"}],
            }
            for c in criteria
        ]
        # A self-assessed score outside the scale is named.
        bad = copy.deepcopy(self_assessment)
        bad[2]["score"] = criteria[2]["scale_max"] + 1
        body = problem(
            await acc.patch(f"{base}/{app['id']}", json={"self_assessment": bad}, headers=manager),
            422,
        )
        assert body["errors"][0]["field"] == "self_assessment.2.score"
        # A stale If-Match is refused.
        r = await acc.patch(
            f"{base}/{app['id']}",
            json={"self_assessment": self_assessment},
            headers={**manager, "If-Match": '"stale"'},
        )
        problem(r, 412)
        r = await acc.patch(
            f"{base}/{app['id']}",
            json={"self_assessment": self_assessment},
            headers={**manager, "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        assert r.headers["etag"] != etag
        assert r.json()["self_assessment"][0]["evidence"][0]["title"] == "Lab inventory"

        # Deciding before the review is a state error.
        decision = {"outcome": "granted", "level": "gold", "reasons": "Strong park"}
        problem(
            await acc.post(f"{base}/{app['id']}/decision", json=decision, headers=flow.operator),
            409,
        )

        r = await acc.post(f"{base}/{app['id']}/submit", headers=manager)
        assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
        problem(
            await acc.post(f"{base}/{app['id']}/decision", json=decision, headers=flow.operator),
            409,
        )
        problem(
            await acc.patch(f"{base}/{app['id']}", json={"summary": "late"}, headers=manager), 409
        )

        # Experts are assigned by operators only; the first assignment opens the review.
        problem(
            await acc.post(
                f"{base}/{app['id']}/experts", json={"expert_id": expert_id}, headers=manager
            ),
            403,
        )
        r = await acc.post(
            f"{base}/{app['id']}/experts", json={"expert_id": expert_id}, headers=flow.operator
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "under_review" and r.json()["experts"] == [expert_id]

        # An expert sees only what is assigned to them.
        problem(await acc.get(f"{base}/{app['id']}", headers=flow.expert(outsider)), 404)
        listed = (await acc.get(base, headers=flow.expert(outsider))).json()
        assert all(a["id"] != app["id"] for a in listed["items"])
        listed = (await acc.get(base, headers=flow.expert(expert_id))).json()
        assert [a["id"] for a in listed["items"]] == [app["id"]]

        scores = [
            {"criterion_id": c["id"], "score": c["scale_max"], "comment": f"checked {c['code']}"}
            for c in criteria
        ]
        # An expert not assigned cannot score.
        problem(
            await acc.put(
                f"{base}/{app['id']}/scores", json={"scores": scores}, headers=flow.expert(outsider)
            ),
            404,
        )
        # Scoring outside the scale is a 422 naming the score.
        out_of_scale = copy.deepcopy(scores)
        out_of_scale[1]["score"] = criteria[1]["scale_max"] + 1
        body = problem(
            await acc.put(
                f"{base}/{app['id']}/scores",
                json={"scores": out_of_scale},
                headers=flow.expert(expert_id),
            ),
            422,
        )
        assert body["errors"][0]["field"] == "scores.1.score"
        out_of_scale[1]["score"] = criteria[1]["scale_min"] - 1
        problem(
            await acc.put(
                f"{base}/{app['id']}/scores",
                json={"scores": out_of_scale},
                headers=flow.expert(expert_id),
            ),
            422,
        )

        # A partial assessment is computed but not complete; a grant has to wait.
        mandatory = [c for c in criteria if c["mandatory"]]
        partial = [
            {"criterion_id": c["id"], "score": c["scale_min"], "comment": "missing"}
            for c in mandatory
        ]
        r = await acc.put(
            f"{base}/{app['id']}/scores", json={"scores": partial}, headers=flow.expert(expert_id)
        )
        assert r.status_code == 200, r.text
        assert r.json()["complete"] is False
        problem(
            await acc.post(f"{base}/{app['id']}/decision", json=decision, headers=flow.operator),
            409,
        )

        # Every criterion scored: the service computes total and mandatory check.
        r = await acc.put(
            f"{base}/{app['id']}/scores", json={"scores": scores}, headers=flow.expert(expert_id)
        )
        assert r.status_code == 200, r.text
        assessment = (await acc.get(f"{base}/{app['id']}/assessment", headers=flow.operator)).json()
        assert assessment["complete"] is True
        assert assessment["total"] == 100.0
        assert assessment["mandatory_met"] is True
        assert assessment["suggested_level"] == "gold"
        assert all(c["scores"][0]["comment"].startswith("checked") for c in assessment["criteria"])

        # Only operators decide; a level must belong to the scheme.
        problem(
            await acc.post(
                f"{base}/{app['id']}/decision", json=decision, headers=flow.expert(expert_id)
            ),
            403,
        )
        body = problem(
            await acc.post(
                f"{base}/{app['id']}/decision",
                json={**decision, "level": "platinum"},
                headers=flow.operator,
            ),
            422,
        )
        assert body["errors"][0]["field"] == "level"
        problem(
            await acc.post(
                f"{base}/{app['id']}/decision",
                json={"outcome": "granted", "reasons": "x"},
                headers=flow.operator,
            ),
            422,
        )

        r = await acc.post(f"{base}/{app['id']}/decision", json=decision, headers=flow.operator)
        assert r.status_code == 200, r.text
        decided = r.json()
        assert decided["status"] == "decided"
        assert (
            decided["decision"]["outcome"] == "granted" and decided["decision"]["level"] == "gold"
        )
        number = decided["decision"]["certificate_number"]
        assert re.fullmatch(rf"ATP-{datetime.now(UTC).year}-\d{{4,}}", number)
        # Deciding twice is a state error too.
        problem(
            await acc.post(f"{base}/{app['id']}/decision", json=decision, headers=flow.operator),
            409,
        )

        # Public verification, no token.
        r = await acc.get(f"/api/v1/certificates/{number}")
        assert r.status_code == 200, r.text
        cert = r.json()
        assert cert["status"] == "active" and cert["level"] == "gold"
        assert cert["park_id"] == park["id"] and cert["park_name"] == "Ingria Business Incubator"
        assert r.headers["etag"]
        problem(await acc.get("/api/v1/certificates/ATP-1999-9999"), 404)

        # The park is accredited, and listed among accredited parks.
        state = (await acc.get(f"/api/v1/accreditation/parks/{park['id']}")).json()
        assert state["status"] == "accredited" and state["certificate_number"] == number
        assert state["level"] == "gold" and state["valid_until"] == cert["valid_until"]
        accredited = await all_pages(acc, "/api/v1/accreditation/parks?accredited=true&limit=1")
        assert park["id"] in {p["park_id"] for p in accredited}
        assert other_park["id"] not in {p["park_id"] for p in accredited}
        active = await all_pages(acc, "/api/v1/certificates?status=active&limit=2")
        assert number in {c["number"] for c in active}

        # Offline verification with only the published public key.
        key = (await acc.get("/api/v1/certificates/public-key")).json()
        assert key["jwk"]["crv"] == "Ed25519" and key["key_id"] == cert["signature"]["kid"]
        assert verify_offline(cert, key["public_key_pem"])

    event = await certificate_events.wait_for(GRANTED, number=number)
    assert event["key"] == park["id"]
    assert event["source"] == "/innopark/accreditation"
    assert event["data"]["status"] == "active" and event["data"]["level"] == "gold"


async def all_pages(client, url: str) -> list[dict]:
    items, cursor = [], None
    while True:
        r = await client.get(url + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


async def test_tampering_with_any_field_breaks_offline_verification(flow, accreditation):
    park = await flow.park()
    cert = await flow.certificate(park["id"], level="silver")
    async with accreditation.client() as acc:
        key = (await acc.get("/api/v1/certificates/public-key")).json()["public_key_pem"]
    assert verify_offline(cert, key)
    fields = [f for f in cert if f not in ("signature", "status_signature")]
    assert {"number", "park_id", "park_name", "level", "issued_on", "valid_until", "status"} <= set(
        fields
    )
    for field in fields:
        forged = copy.deepcopy(cert)
        forged[field] = "forged" if forged[field] != "forged" else "forged!"
        assert not verify_offline(forged, key), f"tampered {field} still verifies"
        del forged[field]
        assert not verify_offline(forged, key), f"removed {field} still verifies"
    for sig in ("signature", "status_signature"):
        forged = copy.deepcopy(cert)
        forged[sig]["signed_fields"] = forged[sig]["signed_fields"][:-1]
        assert not verify_offline(forged, key)
        forged = copy.deepcopy(cert)
        forged[sig]["value"] = forged[sig]["value"][::-1]
        assert not verify_offline(forged, key)
    # A different key does not verify it either.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert not verify_offline(cert, other)


async def test_past_expiry_date_expires_on_its_own(flow, accreditation, certificate_events):
    park = await flow.park()
    cert = await flow.certificate(park["id"])
    number = cert["number"]
    async with accreditation.client() as acc:
        url = f"/api/v1/certificates/{number}"
        etag = (await acc.get(url)).headers["etag"]
        yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
        problem(
            await acc.patch(url, json={"valid_until": yesterday}, headers=flow.manager(park["id"])),
            403,
        )
        problem(
            await acc.patch(
                url, json={"valid_until": yesterday}, headers={**flow.operator, "If-Match": '"old"'}
            ),
            412,
        )
        # Issued today, it cannot end yesterday: a 422 naming the field.
        refused = problem(
            await acc.patch(
                url, json={"valid_until": yesterday}, headers={**flow.operator, "If-Match": etag}
            ),
            422,
        )
        assert [e["field"] for e in refused["errors"]] == ["valid_until"]
        # Issued a month ago (as if), it may be corrected to have ended yesterday.
        db = await asyncpg.connect(accreditation.database_url.replace("+asyncpg", ""))
        try:
            await db.execute(
                "UPDATE accreditation.certificates SET issued_on = issued_on - 30"
                " WHERE number = $1",
                number,
            )
        finally:
            await db.close()
        r = await acc.patch(
            url, json={"valid_until": yesterday}, headers={**flow.operator, "If-Match": etag}
        )
        assert r.status_code == 200, r.text

        # Nobody acts: the sweep expires it.
        async def expired() -> bool:
            return (await acc.get(url)).json()["status"] == "expired"

        assert await wait_until(expired, timeout=10)
        doc = (await acc.get(url)).json()
        assert doc["valid_until"] == yesterday and doc["status_reason"]
        key = (await acc.get("/api/v1/certificates/public-key")).json()["public_key_pem"]
        assert verify_offline(doc, key)  # re-signed with the corrected validity
        state = (await acc.get(f"/api/v1/accreditation/parks/{park['id']}")).json()
        assert state["status"] == "expired"
        accredited = await all_pages(acc, "/api/v1/accreditation/parks?accredited=true")
        assert park["id"] not in {p["park_id"] for p in accredited}
        # An expired certificate cannot be suspended or reported on.
        problem(await acc.post(f"{url}/suspend", json={"reason": "x"}, headers=flow.operator), 409)
    amended = await certificate_events.wait_for(AMENDED, number=number)
    assert amended["data"]["valid_until"] == yesterday and amended["data"]["status"] == "active"
    event = await certificate_events.wait_for(EXPIRED, number=number)
    assert event["key"] == park["id"] and event["data"]["status"] == "expired"


async def test_suspend_reinstate_monitor_revoke_and_renew(flow, accreditation, certificate_events):
    park = await flow.park()
    manager = flow.manager(park["id"])
    first = await flow.certificate(park["id"], level="bronze")
    number = first["number"]
    url = f"/api/v1/certificates/{number}"
    async with accreditation.client() as acc:
        problem(await acc.post(f"{url}/suspend", json={}, headers=flow.operator), 422)
        r = await acc.post(
            f"{url}/suspend", json={"reason": "Monitoring report overdue"}, headers=flow.operator
        )
        assert r.status_code == 200 and r.json()["status"] == "suspended", r.text
        assert r.json()["status_reason"] == "Monitoring report overdue"
        assert (await acc.get(f"/api/v1/accreditation/parks/{park['id']}")).json()[
            "status"
        ] == "suspended"
        # Reports are filed while active only.
        report = {
            "year": datetime.now(UTC).year,
            "residents": 60,
            "occupancy_percent": 87.5,
            "programmes": 4,
            "summary": "IT, medicine, robotics, composite materials",
        }
        problem(await acc.post(f"{url}/monitoring-reports", json=report, headers=manager), 409)
        r = await acc.post(
            f"{url}/reinstate", json={"reason": "Report received"}, headers=flow.operator
        )
        assert r.status_code == 200 and r.json()["status"] == "active", r.text
        problem(await acc.post(f"{url}/reinstate", json={}, headers=flow.operator), 409)

        # The annual monitoring report, by the park's manager only, once a year.
        problem(
            await acc.post(
                f"{url}/monitoring-reports", json=report, headers=flow.manager(str(uuid.uuid4()))
            ),
            404,
        )
        problem(
            await acc.post(
                f"{url}/monitoring-reports",
                json={**report, "occupancy_percent": 120},
                headers=manager,
            ),
            422,
        )
        # Five years ahead is outside the validity so far: a 422 naming the year.
        ahead = problem(
            await acc.post(
                f"{url}/monitoring-reports",
                json={**report, "year": report["year"] + 5},
                headers=manager,
            ),
            422,
        )
        assert [e["field"] for e in ahead["errors"]] == ["year"]
        r = await acc.post(f"{url}/monitoring-reports", json=report, headers=manager)
        assert r.status_code == 201, r.text
        assert r.headers["location"].startswith(f"{url}/monitoring-reports/")
        filed = await acc.get(r.headers["location"], headers=manager)
        assert filed.status_code == 200 and filed.json()["residents"] == 60, filed.text
        problem(await acc.get(r.headers["location"], headers=flow.manager(str(uuid.uuid4()))), 404)
        problem(await acc.post(f"{url}/monitoring-reports", json=report, headers=manager), 409)
        reports = (await acc.get(f"{url}/monitoring-reports", headers=flow.operator)).json()
        assert [x["year"] for x in reports["items"]] == [report["year"]]
        problem(
            await acc.get(f"{url}/monitoring-reports", headers=flow.manager(str(uuid.uuid4()))), 404
        )

    # Re-accreditation renews: a new certificate supersedes the live one.
    second = await flow.certificate(park["id"], level="gold")
    assert second["number"] != number and second["previous_number"] == number
    async with accreditation.client() as acc:
        old = (await acc.get(url)).json()
        assert old["status"] == "expired" and second["number"] in old["status_reason"]
        state = (await acc.get(f"/api/v1/accreditation/parks/{park['id']}")).json()
        assert state["status"] == "accredited" and state["certificate_number"] == second["number"]

        # Revocation: the certificate still answers publicly, showing its status.
        new_url = f"/api/v1/certificates/{second['number']}"
        r = await acc.post(
            f"{new_url}/revoke", json={"reason": "False evidence"}, headers=flow.operator
        )
        assert r.status_code == 200, r.text
        doc = (await acc.get(new_url)).json()
        assert doc["status"] == "revoked" and doc["status_reason"] == "False evidence"
        key = (await acc.get("/api/v1/certificates/public-key")).json()["public_key_pem"]
        assert verify_offline(doc, key)
        assert (await acc.get(f"/api/v1/accreditation/parks/{park['id']}")).json()[
            "status"
        ] == "revoked"
        problem(await acc.post(f"{new_url}/reinstate", json={}, headers=flow.operator), 409)
        history = (await acc.get(f"{url}/history", headers=flow.operator)).json()["items"]
        assert [(h["from_status"], h["to_status"]) for h in history] == [
            (None, "active"),
            ("active", "suspended"),
            ("suspended", "active"),
            ("active", "expired"),
        ]
        assert history[1]["reason"] == "Monitoring report overdue"
        problem(await acc.get(f"{url}/history", headers=manager), 403)

    await certificate_events.wait_for(SUSPENDED, number=number)
    await certificate_events.wait_for(REINSTATED, number=number)
    renewed = await certificate_events.wait_for(RENEWED, number=second["number"])
    assert renewed["data"]["previous_certificate_id"] == first["certificate_id"]
    revoked = await certificate_events.wait_for(REVOKED, number=second["number"])
    assert revoked["data"]["reason"] == "False evidence" and revoked["key"] == park["id"]


async def test_refused_and_conditional_decisions_issue_no_certificate(flow, accreditation):
    async with accreditation.client() as acc:
        for outcome, extra in (
            ("refused", {}),
            ("conditional", {"conditions": "Open a prototyping lab"}),
        ):
            park = await flow.park()
            app = await flow.reviewed_application(park["id"])
            url = f"/api/v1/accreditation/applications/{app['id']}/decision"
            if outcome == "conditional":
                problem(
                    await acc.post(
                        url, json={"outcome": outcome, "reasons": "x"}, headers=flow.operator
                    ),
                    422,
                )
            r = await acc.post(
                url, json={"outcome": outcome, "reasons": "Not yet", **extra}, headers=flow.operator
            )
            assert r.status_code == 200, r.text
            assert r.json()["decision"]["outcome"] == outcome
            assert r.json()["decision"]["certificate_number"] is None
            state = (await acc.get(f"/api/v1/accreditation/parks/{park['id']}")).json()
            assert state["status"] == "not_accredited"
            # The park sees its assessment once decided, and may apply again.
            r = await acc.get(
                f"/api/v1/accreditation/applications/{app['id']}/assessment",
                headers=flow.manager(park["id"]),
            )
            assert r.status_code == 200 and r.json()["complete"] is True
            r = await acc.post(
                "/api/v1/accreditation/applications", json={}, headers=flow.manager(park["id"])
            )
            assert r.status_code == 201, r.text


async def test_mandatory_criteria_block_a_grant(flow, accreditation):
    park = await flow.park()
    app = await flow.submitted_application(park["id"])
    expert_id = await flow.expert_user()
    criteria = await flow.criteria(app["catalogue_id"])
    base = f"/api/v1/accreditation/applications/{app['id']}"
    async with accreditation.client() as acc:
        await acc.post(f"{base}/experts", json={"expert_id": expert_id}, headers=flow.operator)
        scores = [
            {"criterion_id": c["id"], "score": c["scale_min"] if c["mandatory"] else c["scale_max"]}
            for c in criteria
        ]
        r = await acc.put(f"{base}/scores", json={"scores": scores}, headers=flow.expert(expert_id))
        assert r.status_code == 200, r.text
        assessment = (await acc.get(f"{base}/assessment", headers=flow.operator)).json()
        assert assessment["complete"] is True and assessment["mandatory_met"] is False
        assert assessment["suggested_level"] is None
        assert 0 < assessment["total"] < 100
        body = problem(
            await acc.post(
                f"{base}/decision",
                json={"outcome": "granted", "level": "bronze", "reasons": "x"},
                headers=flow.operator,
            ),
            409,
        )
        assert set(body["unmet"]) == {c["code"] for c in criteria if c["mandatory"]}


async def test_catalogue_versions_pin_applications(flow, accreditation):
    park = await flow.park()
    async with accreditation.client() as acc:
        r = await acc.post(
            "/api/v1/accreditation/applications", json={}, headers=flow.manager(park["id"])
        )
        assert r.status_code == 201, r.text
        pinned = r.json()
        current = (await acc.get("/api/v1/accreditation/catalogues/current")).json()
        assert pinned["catalogue_id"] == current["id"]

        base = "/api/v1/accreditation/catalogues"
        criterion = {
            "code": "infrastructure.labs",
            "title": "Specialised infrastructure",
            "weight": 3,
            "scale_min": 0,
            "scale_max": 10,
            "mandatory": True,
            "pass_score": 6,
        }
        catalogue = {
            "title": "Criteria 2027",
            "levels": {"gold": 85, "silver": 70, "bronze": 55},
            "headings": [
                {"title": "Infrastructure", "criteria": [criterion]},
                {
                    "title": "Programmes",
                    "criteria": [{**criterion, "code": "programmes.count", "mandatory": False}],
                },
            ],
        }
        problem(await acc.post(base, json=catalogue, headers=flow.manager(park["id"])), 403)
        bad = copy.deepcopy(catalogue)
        bad["headings"][0]["criteria"][0]["scale_max"] = 0
        body = problem(await acc.post(base, json=bad, headers=flow.operator), 422)
        assert body["errors"][0]["field"].startswith("headings.0.criteria.0")
        r = await acc.post(base, json=catalogue, headers=flow.operator)
        assert r.status_code == 201, r.text
        draft = r.json()
        assert draft["status"] == "draft" and r.headers["location"] == f"{base}/{draft['id']}"
        assert r.headers["etag"]
        # Drafts are the operators' business.
        problem(await acc.get(f"{base}/{draft['id']}"), 404)
        r = await acc.post(f"{base}/{draft['id']}/publish", headers=flow.operator)
        assert r.status_code == 200 and r.json()["status"] == "published", r.text
        problem(await acc.post(f"{base}/{draft['id']}/publish", headers=flow.operator), 409)
        assert (await acc.get(f"{base}/current")).json()["id"] == draft["id"]
        versions = (await acc.get(base)).json()["items"]
        assert {v["id"]: v["status"] for v in versions}[current["id"]] == "retired"

        # The open application keeps its version; a new one takes the new version.
        again = (
            await acc.get(
                f"/api/v1/accreditation/applications/{pinned['id']}",
                headers=flow.manager(park["id"]),
            )
        ).json()
        assert again["catalogue_id"] == current["id"]
        other = await flow.park()
        r = await acc.post(
            "/api/v1/accreditation/applications", json={}, headers=flow.manager(other["id"])
        )
        assert r.json()["catalogue_id"] == draft["id"]
        # Scores follow the pinned version's scales (0..10 here).
        third = await flow.park()
        new_app = await flow.reviewed_application(third["id"])
        assert new_app["catalogue_id"] == draft["id"]


async def test_bad_input_is_a_422_problem_never_a_500(flow, accreditation):
    async with accreditation.client() as acc:
        for url in (
            "/api/v1/certificates?cursor=not-a-cursor",
            "/api/v1/certificates?cursor=WyJ4IiwieSJd",  # a list, but not of this collection
            "/api/v1/certificates?limit=0",
            "/api/v1/certificates?limit=201",
            "/api/v1/certificates?status=glowing",
            "/api/v1/accreditation/parks?accredited=perhaps",
            "/api/v1/accreditation/catalogues/not-a-uuid",
        ):
            body = problem(await acc.get(url), 422)
            assert body["errors"], url
        r = await acc.post(
            "/api/v1/accreditation/applications",
            headers=flow.manager(str(uuid.uuid4())),
            json={"self_assessment": [{"criterion_id": "x", "score": "high"}]},
        )
        fields = {e["field"] for e in problem(r, 422)["errors"]}
        assert fields == {"self_assessment.0.criterion_id", "self_assessment.0.score"}
        r = await acc.post(
            "/api/v1/accreditation/applications",
            headers=flow.manager(str(uuid.uuid4())),
            json={"unknown": 1},
        )
        assert problem(r, 422)["errors"][0]["field"] == "unknown"


async def test_unassigned_expert_loses_access_and_scores(flow, accreditation):
    park = await flow.park()
    app = await flow.reviewed_application(park["id"])
    base = f"/api/v1/accreditation/applications/{app['id']}"
    async with accreditation.client() as acc:
        before = (await acc.get(f"{base}/assessment", headers=flow.operator)).json()
        assert before["complete"] is True
        r = await acc.delete(f"{base}/experts/{app['expert_id']}", headers=flow.operator)
        assert r.status_code == 204, r.text
        problem(await acc.get(base, headers=flow.expert(app["expert_id"])), 404)
        after = (await acc.get(f"{base}/assessment", headers=flow.operator)).json()
        assert after["complete"] is False and after["total"] is None and after["experts"] == []
        problem(await acc.delete(f"{base}/experts/{app['expert_id']}", headers=flow.operator), 404)


async def test_the_readme_snippet_verifies_offline(flow, accreditation, tmp_path):
    """The README's copy-paste snippet, run as-is in a fresh interpreter with only the saved
    certificate and the saved public key."""
    import subprocess
    import sys
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## Verifying a certificate offline") :]
    snippet = section[section.index("```python\n") + len("```python\n") :]
    snippet = snippet[: snippet.index("```")]
    script = Path(__file__).parents[1] / "verify_certificate.py"
    assert script.read_text() == snippet, "the README shows verify_certificate.py as it is"

    park = await flow.park()
    cert = await flow.certificate(park["id"])
    async with accreditation.client() as acc:
        key = (await acc.get("/api/v1/certificates/public-key")).json()
    (tmp_path / "public-key.json").write_text(json.dumps(key))

    def run(document: dict) -> str:
        (tmp_path / "certificate.json").write_text(json.dumps(document))
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run(cert).startswith("valid active")
    assert run({**cert, "valid_until": "2099-12-31"}).startswith("FORGED")
    assert run({**cert, "status": "active", "status_reason": "reinstated"}).startswith("FORGED")


async def test_only_an_active_expert_user_can_be_assigned(flow, accreditation):
    """Any UUID used to be accepted as an expert, who then never scored and blocked the
    grant: now only a user the gateway announced as an active expert."""
    park = await flow.park()
    app = await flow.submitted_application(park["id"])
    partner_user = await flow.expert_user(role="partner")
    disabled = await flow.expert_user(is_active=False)
    url = f"/api/v1/accreditation/applications/{app['id']}/experts"
    async with accreditation.client() as acc:
        for expert_id, kind in (
            (str(uuid.uuid4()), "unknown"),
            (partner_user, "not_expert"),
            (disabled, "disabled"),
        ):
            r = await acc.post(url, json={"expert_id": expert_id}, headers=flow.operator)
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["field"] == "expert_id"
            assert r.json()["errors"][0]["type"] == kind
        # Refusals leave the application as it was: still submitted, nobody assigned.
        r = await acc.get(f"/api/v1/accreditation/applications/{app['id']}", headers=flow.operator)
        assert r.json()["status"] == "submitted" and r.json()["experts"] == []
        expert_id = await flow.expert_user()
        r = await acc.post(url, json={"expert_id": expert_id}, headers=flow.operator)
        assert r.status_code == 200 and r.json()["experts"] == [expert_id]
