"""Certificate alerts through the running services: a park's e-mail travels from the
registry to accreditation, the decision that grants the certificate is mailed to the park,
the sweep mails the park once when its certificate comes within 60 days of its end, and
the alert is flagged in the API to the park and the association."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from innopark_shared.testing import SmtpSink, wait_until

pytestmark = pytest.mark.timeout(240)


async def test_an_expiring_certificate_is_mailed_once_and_flagged(
    flow, start_service, tmp_path_factory
):
    sink = SmtpSink().start()
    try:
        key = tmp_path_factory.mktemp("alert-keys") / "certificates-ed25519.pem"
        accreditation = await start_service(
            "accreditation",
            EXPIRY_SWEEP_INTERVAL_SECONDS="0.3",
            CERTIFICATE_SIGNING_KEY_PATH=str(key),
            NOTIFICATION_POLL_INTERVAL_SECONDS="0.2",
            INNOPARK_PUBLIC_BASE_URL="https://parks.example",
            **sink.env,
        )
        flow = dataclasses.replace(flow, accreditation=accreditation)
        email = f"office-{uuid.uuid4().hex[:6]}@park.example"
        park = await flow.park(email=email)
        cert = await flow.certificate(park["id"])
        number = cert["number"]
        # The grant itself was mailed to the park, once, with its certificate.
        [decided] = await sink.wait_for(1, timeout=20, kind="application.granted")
        assert decided.recipients == [email]
        assert decided.subject.endswith(": granted")
        assert f"Certificate {number}, level " in decided.body
        assert f"https://parks.example/api/v1/certificates/{number}" in decided.body
        async with accreditation.client() as acc:
            alerts_url = "/api/v1/certificates/alerts"
            mine = flow.manager(park["id"])
            assert (await acc.get(alerts_url, headers=mine)).json()["items"] == []
            assert (await acc.get(alerts_url)).status_code == 401

            # The association corrects the validity: it now ends in 59 days.
            url = f"/api/v1/certificates/{number}"
            etag = (await acc.get(url)).headers["etag"]
            ends = (datetime.now(UTC).date() + timedelta(days=59)).isoformat()
            r = await acc.patch(
                url, json={"valid_until": ends}, headers={**flow.operator, "If-Match": etag}
            )
            assert r.status_code == 200, r.text

            [mail] = await sink.wait_for(1, timeout=20, kind="certificate.expiring")
            assert mail.recipients == [email]
            assert mail.subject == f"Certificate {number} expires on {ends}"
            assert f"https://parks.example/api/v1/certificates/{number}" in mail.body

            async def flagged() -> bool:
                items = (await acc.get(alerts_url, headers=mine)).json()["items"]
                return bool(items) and items[0]["notified_at"] is not None

            assert await wait_until(flagged, timeout=10)
            [alert] = (await acc.get(alerts_url, headers=mine)).json()["items"]
            assert (alert["number"], alert["alert"], alert["valid_until"]) == (
                number,
                "expiring",
                ends,
            )
            # Another park's manager does not see it; the association does.
            other = flow.manager(str(uuid.uuid4()))
            assert (await acc.get(alerts_url, headers=other)).json()["items"] == []
            everyone = (
                await acc.get(alerts_url, headers=flow.operator, params={"park_id": park["id"]})
            ).json()["items"]
            assert [a["number"] for a in everyone] == [number]
        # The sweep runs every 0.3 s: it mailed the park once, not on every pass.
        await asyncio.sleep(2)
        assert len(sink.received(kind="certificate.expiring")) == 1
        assert len(sink.received(kind="application.granted")) == 1
    finally:
        sink.stop()
