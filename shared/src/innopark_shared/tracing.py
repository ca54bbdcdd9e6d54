"""Traces (OpenTelemetry): one trace from the gateway through a service, its outbox, Kafka
and every consumer, carried as W3C `traceparent` in HTTP and Kafka headers.

Every process gets an SDK tracer provider, so spans (and the trace id in log lines) exist
whether or not they are exported; an OTLP/HTTP exporter is added when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set (off by default). The outbox row keeps the trace
context of the transaction that wrote it, so the relay's publish span (possibly much
later, in another replica) joins the request's trace, and the consumer's span joins it in
turn from the record headers.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation import fastapi as otel_fastapi
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .logs import redact

log = logging.getLogger(__name__)

TRACER_NAME = "innopark"
# The W3C Trace Context fields the propagator reads and writes.
TRACE_HEADERS = ("traceparent", "tracestate")

_provider: TracerProvider | None = None
_exporting_to: set[str] = set()


def configure_tracing(
    service_name: str,
    *,
    otlp_endpoint: str | None = None,
    processors: Iterable[SpanProcessor] = (),
) -> TracerProvider:
    """Install the process's tracer provider (once; later calls only add exporters).

    `otlp_endpoint` is the collector's base URL (`http://otel-collector:4318`); spans go
    to `<endpoint>/v1/traces` in batches. `processors` lets a test add its own."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        trace.set_tracer_provider(_provider)
    if otlp_endpoint and otlp_endpoint not in _exporting_to:
        exporter: SpanExporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
        _provider.add_span_processor(BatchSpanProcessor(exporter))
        _exporting_to.add(otlp_endpoint)
        log.info("exporting traces to %s", otlp_endpoint)
    for processor in processors:
        _provider.add_span_processor(processor)
    return _provider


def shutdown_tracing() -> None:
    """Flush spans still queued for export (at process exit)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


@functools.cache
def tracer() -> trace.Tracer:
    """The process's tracer, made once: `get_tracer` builds a new one on every call, 3 %
    of a consumer's CPU at two spans per event. (Made before `configure_tracing`, it is
    OpenTelemetry's proxy, which turns to the provider once there is one.)"""
    return trace.get_tracer(TRACER_NAME)


def current_headers(context: Context | None = None) -> dict[str, str]:
    """The W3C trace context of `context` (default: the current one), as header fields."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return {k: v for k, v in carrier.items() if k in TRACE_HEADERS}


def context_from(headers: Mapping[str, str] | Iterable[tuple[str, bytes]] | None) -> Context:
    """The trace context carried by `headers`: a mapping (an outbox row's) or Kafka's
    (name, bytes) pairs. An empty context when there is none."""
    if not headers:
        return Context()
    if isinstance(headers, Mapping):
        carrier = {str(k).lower(): str(v) for k, v in headers.items()}
    else:
        carrier = {
            k.lower(): v.decode("latin-1")
            for k, v in headers
            if k.lower() in TRACE_HEADERS and v is not None
        }
    return propagate.extract(carrier)


def kafka_headers(span: Span) -> list[tuple[str, bytes]]:
    """`span`'s trace context as Kafka record headers."""
    return [(k, v.encode()) for k, v in current_headers(trace.set_span_in_context(span)).items()]


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, hex, for log lines; None outside a trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def record_failure(span: Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


# Span attributes that may hold the query string; secrets in it are redacted as in logs.
URL_ATTRIBUTES = ("http.url", "url.full", "http.target")


def _redact_request(span: Span, scope: dict[str, Any]) -> None:
    if not scope.get("query_string") or not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, redact(value))
    query = attributes.get("url.query")
    if isinstance(query, str):
        span.set_attribute("url.query", redact("?" + query)[1:])


# The instrumentation names a server span after the route that matches, found by trying
# every route of the app in turn before the request is routed, on every request: 13 % of
# the gateway's CPU on a proxied request (which matches none of its routes), 4 % of a
# service's single read. The span starts named by its method alone, and is renamed by
# `_NameSpanAfterRouting` once the router has matched (the router puts the route in the
# scope). A part may set `app.state.span_details(scope) -> (name, attributes) | None` to
# name what it knows before routing (the gateway: its proxied prefixes).
def _span_details(scope: Any) -> tuple[str, dict[str, str]]:
    known = getattr(scope["app"].state, "span_details", None)
    found = known(scope) if known is not None else None
    if found is not None:
        return found
    method = scope.get("method", "")
    return (method if method in HTTP_METHODS else "HTTP"), {}


# Span names keep to these (any other token a client sends is named "HTTP", as OTel does).
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


class _NameSpanAfterRouting:
    """Names the current server span after the route the router matched, when the
    answer starts (the span ends with the answer): `GET /api/v1/parks/{park_id}`, with
    `http.route`. A request no route matched keeps its method alone."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_after_naming(message: Any) -> None:
            if message["type"] == "http.response.start":
                route = getattr(scope.get("route"), "path", None)
                span = trace.get_current_span()
                if route is not None and span.is_recording():
                    method = scope["method"]
                    span.update_name(f"{method if method in HTTP_METHODS else 'HTTP'} {route}")
                    span.set_attribute("http.route", route)
            await send(message)

        await self.app(scope, receive, send_after_naming)


def instrument_app(app: Any) -> None:
    """A server span per request (the `traceparent` a caller sent is its parent); probes
    and metrics scrapes are left out, secrets in query strings redacted."""
    # Looked up by name when the app builds its middleware stack (its first request).
    otel_fastapi._get_default_span_details = _span_details
    app.add_middleware(_NameSpanAfterRouting)  # inside the span the instrumentation opens
    # Matched (re.search) against the full URL: only these paths at the root.
    probes = ",".join(rf"://[^/]+/{path}(\?|$)" for path in ("livez", "readyz", "metrics"))
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=probes,
        exclude_spans=["receive", "send"],
        server_request_hook=_redact_request,
    )


__all__ = [
    "HTTP_METHODS",
    "SpanKind",
    "configure_tracing",
    "context_from",
    "current_headers",
    "current_ids",
    "instrument_app",
    "kafka_headers",
    "record_failure",
    "shutdown_tracing",
    "tracer",
]
