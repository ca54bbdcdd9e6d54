"""In-process checks of the tracing set-up, with an in-memory exporter."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from innopark_shared.tracing import (
    NATIVE_TELEMETRY_OFF,
    configure_tracing,
    context_from,
    current_headers,
    instrument_app,
)
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode


async def test_probes_and_scrapes_make_no_spans_and_a_caller_trace_continues() -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("unit", processors=[SimpleSpanProcessor(exporter)])
    app = FastAPI(telemetry=NATIVE_TELEMETRY_OFF)  # as create_service_app makes them

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {}

    @app.get("/api/v1/metrics")
    async def not_a_probe() -> dict[str, str]:
        return current_headers()

    instrument_app(app)
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        await client.get("/livez")
        await client.get("/livez?verbose=1")
        answer = await client.get("/api/v1/metrics", headers={"traceparent": caller})
    # (Other in-process apps of the session may make spans of their own meanwhile.)
    served = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert [s.name for s in served] == ["GET /api/v1/metrics"]
    [span] = served
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert span.parent is not None and format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    # Inside the handler the current context is the server span, in the same trace.
    assert answer.json()["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


async def test_secrets_in_query_strings_never_reach_a_span() -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("unit", processors=[SimpleSpanProcessor(exporter)])
    app = FastAPI(telemetry=NATIVE_TELEMETRY_OFF)  # as create_service_app makes them

    @app.get("/api/v1/things")
    async def things() -> dict[str, str]:
        return {}

    instrument_app(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        await client.get("/api/v1/things?limit=5&access_token=s3cr3t-value&q=x")
    [span] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    text = repr(dict(span.attributes or {}))
    assert "s3cr3t-value" not in text
    assert "limit=5" in text and "[redacted]" in text


def test_kafka_and_row_headers_carry_the_same_context() -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    from_row = trace.get_current_span(context_from({"traceparent": parent})).get_span_context()
    from_kafka = trace.get_current_span(
        context_from([("ce_id", b"x"), ("traceparent", parent.encode())])
    ).get_span_context()
    assert from_row == from_kafka
    assert format(from_row.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert not trace.get_current_span(context_from(None)).get_span_context().is_valid


async def test_a_failing_request_leaves_an_error_span_with_the_exception() -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("unit", processors=[SimpleSpanProcessor(exporter)])
    app = FastAPI(telemetry=NATIVE_TELEMETRY_OFF)

    @app.get("/api/v1/broken/{thing}")
    async def broken(thing: str) -> dict[str, str]:
        raise RuntimeError("the handler broke")

    instrument_app(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://test",
    ) as client:
        answer = await client.get("/api/v1/broken/x")
    assert answer.status_code == 500
    [span] = [
        s
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.SERVER and s.attributes.get("url.path") == "/api/v1/broken/x"
    ]
    assert span.name == "GET /api/v1/broken/{thing}"
    assert span.attributes["http.route"] == "/api/v1/broken/{thing}"
    assert span.status.status_code is StatusCode.ERROR
    assert [e.attributes["exception.type"] for e in span.events] == ["RuntimeError"]


async def test_a_stream_broken_after_its_answer_began_keeps_its_status() -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("unit", processors=[SimpleSpanProcessor(exporter)])
    app = FastAPI(telemetry=NATIVE_TELEMETRY_OFF)

    @app.get("/api/v1/export")
    async def export() -> StreamingResponse:
        async def rows():
            yield b"first row\n"
            raise RuntimeError("the export broke")

        return StreamingResponse(rows(), media_type="text/csv")

    instrument_app(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://test",
    ) as client:
        await client.get("/api/v1/export")
    [span] = [
        s
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.SERVER and s.attributes.get("url.path") == "/api/v1/export"
    ]
    # The client was told 200 and then lost the stream: the span says both, not a 500.
    assert span.attributes["http.response.status_code"] == 200
    assert span.status.status_code is StatusCode.ERROR
    assert [e.attributes["exception.type"] for e in span.events] == ["RuntimeError"]
