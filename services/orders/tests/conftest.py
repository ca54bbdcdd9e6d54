"""Fixtures of the orders tests: the service as a real process (once per session), a real
webhook receiver, and a feed of registry events produced to the real broker."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from innopark_shared.contracts.registry import (
    PARKS_TOPIC,
    RESIDENTS_TOPIC,
    ParkCreatedV1,
    ResidentAdmittedV1,
)
from innopark_shared.kafka import Envelope, ensure_topics, make_producer
from innopark_shared.settings import ServiceSettings
from innopark_shared.testing import wait_until

# The services below run until the last test of this directory (unit/ included).
HERE = Path(__file__).parent

# Short retry delays so the tests see retries happen; private targets allowed because
# the test receiver listens on 127.0.0.1.
ORDERS_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOK_RETRY_SCHEDULE": "[0, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]",
    "WEBHOOK_DISABLE_AFTER_FAILURES": "4",
    "WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
    "EXPIRY_SWEEP_INTERVAL_SECONDS": "0.5",
}


def future(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**(delta or {"days": 30}))).isoformat()


def order_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Low-tonnage chemistry for polymer recycling",
        "description": "We look for a catalyst process that recycles mixed plastic waste "
        "into polymer feedstock at pilot scale.",
        "technology_tags": ["polymer recycling", "catalysis"],
        "deadline": future(),
        "trl": 5,
        "cooperation_types": ["licence", "joint_rnd"],
        "ip_terms": "Licence with field-of-use restriction",
        "budget_min": "100000",
        "budget_max": "250000",
        "currency": "EUR",
        "languages": ["en", "ru"],
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="session")
def service_name() -> str:
    """The service whose migrated database the unit tier's `db_session` opens."""
    return "orders"


@pytest_asyncio.fixture(scope="session")
async def orders(start_service):
    service = await start_service("orders", kept_for=HERE, **ORDERS_ENV)
    yield service
    # The service's log, for a failed run's post-mortem.
    Path("/tmp/innopark-orders-test.log").write_text(service.log())


@pytest_asyncio.fixture(scope="session")
async def client(orders) -> AsyncIterator[httpx.AsyncClient]:
    async with orders.client() as c:
        yield c


@dataclass
class Registry:
    """Publishes the registry's events to the real broker, as the registry would."""

    bootstrap_servers: str
    producer: Any = None

    async def send(self, event: Any) -> None:
        envelope = Envelope(
            id=str(uuid.uuid4()),
            type=event.event_type,
            source="/innopark/registry",
            time=datetime.now(UTC),
        )
        await self.producer.send_and_wait(
            event.topic,
            value=event.model_dump_json().encode(),
            key=event.key.encode(),
            headers=envelope.headers(),
        )

    async def park(self, name: str, specializations: list[str]) -> uuid.UUID:
        park_id = uuid.uuid4()
        await self.send(
            ParkCreatedV1(
                park_id=park_id,
                name=name,
                kind="technopark",
                country="RU",
                region="Tatarstan",
                specializations=specializations,
                created_at=datetime.now(UTC),
            )
        )
        return park_id

    async def resident(
        self,
        park_id: uuid.UUID,
        name: str,
        technologies: list[str],
        description: str = "",
        email: str | None = None,
    ) -> uuid.UUID:
        resident_id = uuid.uuid4()
        await self.send(
            ResidentAdmittedV1(
                resident_id=resident_id,
                park_id=park_id,
                name=name,
                technologies=technologies,
                sectors=[],
                description=description,
                contact_email=email or f"{resident_id.hex[:8]}@resident.example",
            )
        )
        return resident_id


@pytest_asyncio.fixture(scope="session")
async def registry(infra) -> AsyncIterator[Registry]:
    settings = ServiceSettings(
        database_url="postgresql://unused/unused",
        service_name="test-registry",
        kafka_bootstrap_servers=infra.bootstrap_servers,
    )
    await ensure_topics(settings, [PARKS_TOPIC, RESIDENTS_TOPIC])
    producer = make_producer(settings)
    await producer.start()
    try:
        yield Registry(infra.bootstrap_servers, producer)
    finally:
        await producer.stop()


async def consumed(client: httpx.AsyncClient) -> int:
    checks = (await client.get("/readyz")).json().get("checks", {})
    consumer = checks.get("consumer") or {}
    return (consumer.get("processed") or 0) + (consumer.get("duplicates") or 0)


@pytest.fixture
def wait_consumed(client) -> Callable[[int, int], Any]:
    async def wait(before: int, count: int) -> None:
        async def done() -> bool:
            return await consumed(client) >= before + count

        assert await wait_until(done, timeout=20), "orders did not consume the registry events"

    return wait


@pytest.fixture
def consumed_now(client):
    return lambda: consumed(client)


@dataclass
class Actors:
    """Callers with tokens minted the way the gateway mints them."""

    client: httpx.AsyncClient
    token_issuer: Any

    @property
    def operator(self) -> dict[str, str]:
        return self.token_issuer.headers("operator")

    async def partner(
        self, name: str = "Partner", country: str = "DE", email: str = "bd@partner.example"
    ) -> tuple[str, dict[str, str]]:
        created = await self.client.post(
            "/api/v1/partners",
            headers=self.operator,
            json={
                "name": f"{name} {uuid.uuid4().hex[:6]}",
                "country": country,
                "contact_name": "Head of Open Innovation",
                "contact_email": email,
            },
        )
        assert created.status_code == 201, created.text
        partner_id = created.json()["id"]
        return partner_id, self.token_issuer.headers("partner", partner_id=partner_id)

    def resident(self, resident_id: Any) -> dict[str, str]:
        return self.token_issuer.headers(
            "resident", resident_id=resident_id, email=f"user-{resident_id}@resident.example"
        )

    def park_manager(self, park_id: Any) -> dict[str, str]:
        return self.token_issuer.headers("park_manager", park_id=park_id)

    async def published_order(self, partner: dict[str, str], **overrides: Any) -> dict[str, Any]:
        created = await self.client.post(
            "/api/v1/orders", json=order_body(**overrides), headers=partner
        )
        assert created.status_code == 201, created.text
        order_id = created.json()["id"]
        assert (
            await self.client.post(f"/api/v1/orders/{order_id}/submit", headers=partner)
        ).status_code == 200
        published = await self.client.post(
            f"/api/v1/orders/{order_id}/publish", headers=self.operator
        )
        assert published.status_code == 200, published.text
        return published.json()


@pytest.fixture
def actors(client, token_issuer) -> Actors:
    return Actors(client, token_issuer)


# -- a real webhook receiver ------------------------------------------------------------


@dataclass
class Receiver:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0  # seconds each answer is held back (a slow receiver)
    answering: int = 0  # requests received and not yet answered
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.received)

    def delivered(self) -> dict[str, dict[str, Any]]:
        """Successfully answered messages by webhook-id."""
        return {m["id"]: m for m in self.messages() if m["answered"] < 300}


def verify_signature(secret: str, message: dict[str, Any]) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message['id']}.{message['timestamp']}.".encode() + message["raw"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig == f"v1,{expected}" for sig in message["signature"].split(" "))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.status
            with state.lock:
                state.received.append(
                    {
                        "id": self.headers.get("webhook-id"),
                        "timestamp": self.headers.get("webhook-timestamp"),
                        "signature": self.headers.get("webhook-signature", ""),
                        "raw": raw,
                        "body": json.loads(raw),
                        "answered": status,
                        "traceparent": self.headers.get("traceparent"),
                    }
                )
                state.answering += 1
            try:
                time.sleep(state.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            finally:
                with state.lock:
                    state.answering -= 1

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


async def settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


@pytest.fixture
def h():
    """Plain helpers (tests import nothing from conftest under --import-mode=importlib)."""

    class Helpers:
        pass

    helpers = Helpers()
    helpers.future = future
    helpers.order_body = order_body
    helpers.verify_signature = verify_signature
    helpers.settle = settle
    return helpers
