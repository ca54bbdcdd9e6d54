"""Partner webhooks against a real HTTP receiver: Standard Webhooks signatures, retries
with backoff, disabling with a visible reason, manual redelivery, and a persisted queue
that survives a restart of the service."""

from __future__ import annotations

import asyncio
import re
import sys
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from innopark_orders.webhooks.schemas import WebhookEndpointCreate
from innopark_orders.webhooks.targets import check_target, check_url_syntax
from innopark_shared.devrun.embedded import free_port
from innopark_shared.errors import Unprocessable
from innopark_shared.testing import wait_ready, wait_until


async def _endpoint(client, partner, url, **extra):
    created = await client.post("/api/v1/webhooks", headers=partner, json={"url": url, **extra})
    assert created.status_code == 201, created.text
    return created.json()


async def _deliveries(client, partner, endpoint_id):
    got = await client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=partner)
    assert got.status_code == 200, got.text
    return got.json()["items"]


async def test_signed_deliveries_log_and_redelivery(client, actors, receiver, h):
    _, partner = await actors.partner("Webhook Corp")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    endpoint = await _endpoint(client, {**partner, **key}, receiver.url)
    replay = await client.post(
        "/api/v1/webhooks", headers={**partner, **key}, json={"url": receiver.url}
    )
    assert replay.json()["id"] == endpoint["id"]
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    shown = await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=partner)
    assert "secret" not in shown.json()
    only_proposals = await _endpoint(
        client, partner, receiver.url + "?only=proposals", event_types=["proposal.received"]
    )

    order = await actors.published_order(partner)
    resident = uuid.uuid4()
    # The proposal's request comes within a trace of the caller's.
    trace_id = uuid.uuid4().hex
    proposal = await client.post(
        f"/api/v1/orders/{order['id']}/proposals",
        headers={**actors.resident(resident), "traceparent": f"00-{trace_id}-{'1' * 16}-01"},
        json={"summary": "We can"},
    )
    assert proposal.status_code == 201

    async def all_arrived() -> bool:
        # 3 to the first endpoint, 1 to the filtered one (same webhook-id: one message)
        return len(receiver.messages()) == 4

    assert await wait_until(all_arrived, timeout=10), receiver.messages()
    messages = receiver.messages()
    types = sorted(m["body"]["type"] for m in messages)
    assert types == ["order.published", "order.submitted", "proposal.received", "proposal.received"]
    for message in messages:
        assert h.verify_signature(secret, message) or h.verify_signature(
            only_proposals["secret"], message
        )
        assert message["id"].startswith("msg_")
    published = next(m for m in messages if m["body"]["type"] == "order.published")
    assert h.verify_signature(secret, published)
    assert not h.verify_signature(only_proposals["secret"], published)
    assert published["body"]["data"]["order_id"] == order["id"]
    assert published["body"]["data"]["status"] == "published"

    # The receiver has answered; the outcome is recorded right after.
    async def recorded() -> bool:
        log = await _deliveries(client, partner, endpoint["id"])
        return all(d["status"] == "succeeded" for d in log)

    assert await wait_until(recorded, timeout=5)
    log = await _deliveries(client, partner, endpoint["id"])
    assert sorted(d["event_type"] for d in log) == [
        "order.published",
        "order.submitted",
        "proposal.received",
    ]
    assert all(d["status"] == "succeeded" and d["attempts"] == 1 for d in log)
    assert all(d["attempt_log"][0]["status_code"] == 200 for d in log)
    # Each delivery is a client span whose context the partner receives, and is counted.
    assert all(
        re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", m["traceparent"] or "")
        for m in messages
    ), [m["traceparent"] for m in messages]
    # ... in the trace of the change it announces: the proposal's messages in the caller's.
    received = [m for m in messages if m["body"]["type"] == "proposal.received"]
    assert [m["traceparent"].split("-")[1] for m in received] == [trace_id, trace_id]
    scraped = (await client.get("/metrics")).text
    delivered = re.search(
        r'^innopark_webhook_deliveries_total\{outcome="delivered"\} (\S+)$', scraped, re.M
    )
    assert delivered and float(delivered.group(1)) >= 4, scraped

    first = log[-1]
    again = await client.post(
        f"/api/v1/webhooks/{endpoint['id']}/deliveries/{first['id']}/redeliver", headers=partner
    )
    assert again.status_code == 202, again.text

    async def redelivered() -> bool:
        return sum(1 for m in receiver.messages() if m["id"] == first["message_id"]) == 2

    assert await wait_until(redelivered, timeout=10)


async def test_gone_endpoint_is_disabled_with_reason(client, actors, receiver, h):
    receiver.status = 410
    _, partner = await actors.partner("Gone Corp")
    endpoint = await _endpoint(client, partner, receiver.url)
    await actors.published_order(partner)

    async def disabled() -> bool:
        got = (await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=partner)).json()
        return got["enabled"] is False

    assert await wait_until(disabled, timeout=10)
    got = (await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=partner)).json()
    assert "410" in got["disabled_reason"]
    sent = len(receiver.messages())
    await h.settle(1.0)
    assert len(receiver.messages()) == sent  # nothing more is sent to a disabled endpoint
    refused = await client.post(
        f"/api/v1/webhooks/{endpoint['id']}/deliveries/"
        f"{(await _deliveries(client, partner, endpoint['id']))[0]['id']}/redeliver",
        headers=partner,
    )
    assert refused.status_code == 409


async def test_a_redirect_is_a_failed_delivery_never_followed(client, actors, receiver, h):
    """SSRF by redirect: a public receiver answering 307 to an internal address. The
    delivery records the 3xx as a failure and the internal address is never reached."""
    redirects_sent: list[str] = []

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", receiver.url)  # "the internal service"
            self.send_header("Content-Length", "0")
            self.end_headers()
            redirects_sent.append(self.path)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, partner = await actors.partner("Redirect Corp")
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        endpoint = await _endpoint(client, partner, url)
        await actors.published_order(partner)

        async def attempted() -> bool:
            log = await _deliveries(client, partner, endpoint["id"])
            return len(log) == 2 and all(d["attempts"] >= 1 for d in log)

        assert await wait_until(attempted, timeout=10)
        await h.settle(0.5)
        log = await _deliveries(client, partner, endpoint["id"])
        assert all(d["status"] != "succeeded" for d in log)
        assert {a["status_code"] for d in log for a in d["attempt_log"]} == {307}
        assert redirects_sent and receiver.messages() == []  # redirected, never followed
    finally:
        server.shutdown()
        server.server_close()


async def test_failing_endpoint_retries_then_is_disabled_and_can_be_reenabled(
    client, actors, receiver, h
):
    receiver.status = 500
    _, partner = await actors.partner("Flaky Corp")
    endpoint = await _endpoint(client, partner, receiver.url)
    order = await actors.published_order(partner)

    async def disabled() -> bool:
        got = (await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=partner)).json()
        return got["enabled"] is False

    assert await wait_until(disabled, timeout=15)
    got = await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=partner)
    assert "4 consecutive failed deliveries" in got.json()["disabled_reason"]
    assert "HTTP 500" in got.json()["disabled_reason"]
    log = await _deliveries(client, partner, endpoint["id"])
    # An attempt already in flight when the endpoint was disabled may still be recorded.
    assert sum(d["attempts"] for d in log) >= 4
    assert got.json()["consecutive_failures"] == 4
    retried = [d for d in log if d["attempts"] > 1]
    assert retried, "a failed delivery is retried"
    times = [a["at"] for a in retried[0]["attempt_log"]]
    assert times == sorted(times)
    assert all(a["status_code"] == 500 for d in log for a in d["attempt_log"])

    # The partner fixes its receiver and re-enables the endpoint: the queue drains.
    receiver.status = 200
    enabled = await client.patch(
        f"/api/v1/webhooks/{endpoint['id']}", headers=partner, json={"enabled": True}
    )
    assert enabled.status_code == 200 and enabled.json()["disabled_reason"] is None

    async def drained() -> bool:
        return {m["body"]["type"] for m in receiver.delivered().values()} == {
            "order.submitted",
            "order.published",
        }

    assert await wait_until(drained, timeout=10)
    assert all(h.verify_signature(endpoint["secret"], m) for m in receiver.delivered().values())
    assert order["id"] in {m["body"]["data"]["order_id"] for m in receiver.delivered().values()}


async def test_queue_survives_a_restart(start_service, token_issuer, receiver, h):
    """The receiver answers 500 for a while; the service is restarted in between, with an
    attempt in flight; every event still arrives, signed, once the receiver recovers, and
    every attempt the receiver saw is in the delivery log."""
    service = await start_service(
        "orders",
        SERVICE_NAME="orders-restart-test",  # its own consumer group
        WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
        WEBHOOK_RETRY_SCHEDULE="[0, 0.3, 0.6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
        WEBHOOK_DISABLE_AFTER_FAILURES="1000",
        WEBHOOK_POLL_INTERVAL_SECONDS="0.1",
    )
    operator = token_issuer.headers("operator")
    receiver.status = 500
    async with service.client() as client:
        made = await client.post(
            "/api/v1/partners", headers=operator, json={"name": "Restart AG", "country": "DE"}
        )
        partner = token_issuer.headers("partner", partner_id=made.json()["id"])
        endpoint = await _endpoint(client, partner, receiver.url)
        order_ids = []
        for _ in range(2):
            created = await client.post("/api/v1/orders", headers=partner, json=h.order_body())
            order_ids.append(created.json()["id"])
            assert (
                await client.post(f"/api/v1/orders/{order_ids[-1]}/submit", headers=partner)
            ).status_code == 200
            assert (
                await client.post(f"/api/v1/orders/{order_ids[-1]}/publish", headers=operator)
            ).status_code == 200
        log = await _deliveries(client, partner, endpoint["id"])
        expected = {d["message_id"] for d in log}
        assert len(expected) == 4

        async def failing() -> bool:
            return {m["id"] for m in receiver.messages()} == expected

        assert await wait_until(failing, timeout=10)  # every message tried, and refused

        # The restart comes with an attempt in flight: the receiver holds its answers.
        receiver.delay = 1.0

        async def answering() -> bool:
            return receiver.answering > 0

        assert await wait_until(answering, timeout=10)

    # Restart the service against the same database (on a fresh port: the old one may
    # not be free again at once on a busy machine).
    service.process.terminate()
    await asyncio.wait_for(service.process.wait(), timeout=20)
    port = free_port()
    service.env = {**service.env, "PORT": str(port)}
    service.url = f"http://127.0.0.1:{port}"
    with open(service.log_path, "ab") as log_file:
        service.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "innopark_orders",
            "serve",
            env=service.env,
            stdout=log_file,
            stderr=log_file,
        )
    await wait_ready(service.url, service.process)

    receiver.status, receiver.delay = 200, 0.0

    async def all_delivered() -> bool:
        return set(receiver.delivered()) == expected

    assert await wait_until(all_delivered, timeout=40), receiver.messages()
    for message in receiver.delivered().values():
        assert h.verify_signature(endpoint["secret"], message)
    async with service.client() as client:

        async def recorded() -> bool:
            log = await _deliveries(client, partner, endpoint["id"])
            return {d["status"] for d in log} == {"succeeded"}

        assert await wait_until(recorded, timeout=5)
        log = await _deliveries(client, partner, endpoint["id"])
        # Every attempt the receiver saw is counted, the one in flight at the restart
        # too (a shutdown lets it finish and record), and each was refused before it
        # was delivered.
        seen = Counter(m["id"] for m in receiver.messages())
        assert {d["message_id"]: d["attempts"] for d in log} == dict(seen)
        assert min(seen.values()) >= 2
        assert {m["body"]["data"]["order_id"] for m in receiver.delivered().values()} == set(
            order_ids
        )


def test_private_targets_are_refused_by_default():
    for url in (
        "http://127.0.0.1/x",
        "http://localhost:8080/",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.0.5/",
    ):
        with pytest.raises(Unprocessable) as refused:
            check_url_syntax(str(WebhookEndpointCreate(url=url).url), allow_private=False)
        assert refused.value.extensions["errors"][0]["field"] == "url"
    check_url_syntax("https://hooks.partner.example/innopark", allow_private=False)
    check_url_syntax("http://127.0.0.1/x", allow_private=True)


async def test_names_resolving_to_private_addresses_are_refused_at_delivery():
    with pytest.raises(PermissionError):
        await check_target("http://localhost:9/", allow_private=False)
    await check_target("http://localhost:9/", allow_private=True)
