"""One trace from the gateway through the registry, its outbox relay and Kafka to the
accreditation consumer, exported by real processes to a real (tiny) OTLP/HTTP receiver;
the log lines that name it; and the gateway's metrics on its internal port only."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from innopark_shared.devrun.embedded import free_port
from innopark_shared.testing import RunningService, TokenIssuer, wait_until

# Services of this module run until its last test.
HERE = Path(__file__)

pytestmark = pytest.mark.timeout(240)

EXPORT_QUICKLY = {"OTEL_BSP_SCHEDULE_DELAY": "100", "LOG_FORMAT": "json"}


@dataclass
class Traced:
    gateway: RunningService
    registry: RunningService
    accreditation: RunningService
    metrics_url: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def traced(start_service, otlp_receiver, tmp_path_factory) -> AsyncIterator[Traced]:
    otel = {**EXPORT_QUICKLY, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url}
    registry = await start_service("registry", kept_for=HERE, **otel)
    accreditation = await start_service("accreditation", kept_for=HERE, **otel, LOG_LEVEL="DEBUG")
    metrics_port = free_port()
    keys = tmp_path_factory.mktemp("gateway-keys")
    gateway = await start_service(
        "gateway",
        kept_for=HERE,
        **otel,
        REGISTRY_URL=registry.url,
        ACCREDITATION_URL=accreditation.url,
        JWT_PRIVATE_KEY_PATH=str(Path(keys) / "jwt.pem"),
        RATE_LIMIT_PER_MINUTE="0",
        METRICS_HOST="127.0.0.1",
        METRICS_PORT=str(metrics_port),
    )
    yield Traced(gateway, registry, accreditation, f"http://127.0.0.1:{metrics_port}/metrics")


def park_body() -> dict[str, object]:
    return {
        "name": f"Technopolis {uuid.uuid4().hex[:8]}",
        "kind": "technopolis",
        "country": "RU",
        "region": "Tatarstan",
        "specializations": ["chemistry"],
    }


async def test_one_trace_spans_gateway_registry_relay_and_consumer(
    traced: Traced, otlp_receiver, token_issuer: TokenIssuer
) -> None:
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    headers = {
        **token_issuer.headers("operator"),
        "traceparent": f"00-{trace_id}-{caller_span}-01",
    }
    async with traced.gateway.client() as client:
        created = await client.post("/api/v1/parks", json=park_body(), headers=headers)
    assert created.status_code == 201, created.text
    park_id = created.json()["id"]

    def kinds() -> set[tuple[str, str]]:
        return {(s.service, s.kind) for s in otlp_receiver.trace(trace_id)}

    wanted = {
        ("gateway", "SERVER"),
        ("gateway", "CLIENT"),
        ("registry", "SERVER"),
        ("registry", "PRODUCER"),
        ("accreditation", "CONSUMER"),
    }

    async def complete() -> bool:
        return wanted <= kinds()

    assert await wait_until(complete, timeout=60, interval=0.2), (
        f"spans of trace {trace_id}: {sorted(kinds())}"
    )
    spans = otlp_receiver.trace(trace_id)
    by_id = {s.span_id: s for s in spans}

    def one(service: str, kind: str, name_prefix: str = ""):
        found = [
            s
            for s in spans
            if (s.service, s.kind) == (service, kind) and s.name.startswith(name_prefix)
        ]
        assert found, (service, kind, name_prefix, spans)
        return found[0]

    gateway_server = one("gateway", "SERVER")
    assert gateway_server.parent_span_id == caller_span  # the caller's trace continues
    # Named from the proxy's route table, not by trying every gateway route.
    assert gateway_server.name == "POST /api/v1/parks"
    assert gateway_server.attributes["http.route"] == "/api/v1/parks"
    gateway_client = one("gateway", "CLIENT")
    assert by_id[gateway_client.parent_span_id] is gateway_server
    registry_server = one("registry", "SERVER")
    assert registry_server.parent_span_id == gateway_client.span_id

    # The write: the outbox row recorded inside the request's span...
    write = one("registry", "INTERNAL", "outbox org.innopark.registry.park.created")
    ancestor = by_id.get(write.parent_span_id)
    while ancestor is not None and ancestor is not registry_server:
        ancestor = by_id.get(ancestor.parent_span_id)
    assert ancestor is registry_server
    # ...published later by the relay as a child of that write...
    publish = one("registry", "PRODUCER")
    assert publish.parent_span_id == write.span_id
    assert publish.attributes["messaging.destination.name"].startswith("innopark.registry")
    event_id = publish.attributes["messaging.message.id"]
    assert event_id == write.attributes["messaging.message.id"]
    # ...and consumed by accreditation from the record's traceparent.
    consume = next(
        s
        for s in spans
        if s.service == "accreditation"
        and s.kind == "CONSUMER"
        and s.attributes.get("messaging.message.id") == event_id
    )
    assert consume.parent_span_id == publish.span_id

    # ...and applied by its handler: the handle span is the event's child or, when the
    # event was applied in a batch with later ones, the batch's handle span (in the last
    # event's trace) links to it. It may come in a later export than the consumer span.
    def applying() -> list:
        with otlp_receiver.lock:
            everything = list(otlp_receiver.spans)
        return [
            s
            for s in everything
            if (s.service, s.kind) == ("accreditation", "INTERNAL")
            and s.name.startswith("handle org.innopark.registry.park.created")
            and (s.parent_span_id == consume.span_id or consume.span_id in s.links)
        ]

    async def handled() -> bool:
        return bool(applying())

    assert await wait_until(handled, timeout=30, interval=0.2), f"no handler span for {event_id}"

    # The logs say the same: JSON lines with the request id and trace id, and the
    # consumer's lines name the event.
    async def logged() -> bool:
        return event_id in traced.accreditation.log()

    assert await wait_until(logged, timeout=10)
    registry_lines = [
        json.loads(line) for line in traced.registry.log().splitlines() if line.startswith("{")
    ]
    request_id = created.headers["x-request-id"]
    assert any(
        line.get("trace_id") == trace_id and line.get("request_id") == request_id
        for line in registry_lines
    ), registry_lines[-20:]
    consumer_lines = [
        json.loads(line)
        for line in traced.accreditation.log().splitlines()
        if line.startswith("{") and event_id in line
    ]
    assert consumer_lines
    assert all(line["event_type"].endswith("park.created.v1") for line in consumer_lines)
    assert any(line.get("trace_id") == trace_id for line in consumer_lines)
    assert park_id


async def test_gateway_metrics_are_on_the_internal_port_only(traced: Traced, token_issuer) -> None:
    async with traced.gateway.client() as client:
        assert (await client.get("/metrics")).status_code == 404
        listed = await client.get("/api/v1/parks", headers=token_issuer.headers("operator"))
        assert listed.status_code == 200
    async with httpx.AsyncClient(timeout=5) as client:
        scraped = await client.get(traced.metrics_url)
    assert scraped.status_code == 200
    text = scraped.text
    assert "process_resident_memory_bytes" in text  # the process collector
    assert 'innopark_gateway_upstream_requests_total{status="2xx",upstream="registry"}' in text
    assert "innopark_gateway_upstream_duration_seconds_bucket" in text


async def test_services_export_process_metrics(traced: Traced) -> None:
    async with traced.registry.client() as client:
        text = (await client.get("/metrics")).text
    for name in ("process_cpu_seconds_total", "process_open_fds", "python_gc_collections_total"):
        assert name in text
    assert 'innopark_outbox_backlog{service="registry"}' in text
