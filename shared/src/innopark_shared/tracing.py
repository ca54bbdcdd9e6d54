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

from fastapi.telemetry import TelemetryConfig
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
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


# Span names keep to these (any other token a client sends is named "HTTP", as OTel does).
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
# Liveness, readiness and metrics scrapes make no spans (only these paths at the root).
PROBE_PATHS = frozenset({"/livez", "/readyz", "/metrics"})
# The request headers a caller's trace context comes in (ASGI names them in bytes).
_CONTEXT_HEADERS = tuple(name.encode() for name in TRACE_HEADERS)


class ServerSpanMiddleware:
    """One server span per HTTP request, as OpenTelemetry's HTTP semantic conventions
    name it: `GET /api/v1/parks/{park_id}`, kind SERVER, the caller's `traceparent` its
    parent, current while the request is served; `http.request.method`, `url.path`,
    `url.query` (secrets redacted as in logs), `url.scheme`, `client.address`,
    `http.route`, `http.response.status_code`; an error status on a 5xx answer or an
    exception, which is recorded. Probes and metrics scrapes make none.

    It replaces opentelemetry-instrumentation-fastapi (py-spy: 42 % of the gateway's CPU
    on a proxied request, 10 % of a service's read): that builds the attributes of both
    the old and the new conventions, parses and redacts the full URL, and names the span
    by trying every route before routing. Here the span is named from the route the
    router matched, once it has (when the answer starts; the span ends with the answer),
    or beforehand by `app.state.span_details(scope) -> (name, attributes) | None` where a
    part knows cheaply (the gateway: its proxied prefixes)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        known_method = method in HTTP_METHODS
        known = getattr(scope["app"].state, "span_details", None)
        found = known(scope) if known is not None else None
        name, attributes = found or (method if known_method else "HTTP", {})
        attributes = {
            **attributes,
            "http.request.method": method if known_method else "_OTHER",
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        if query := scope.get("query_string"):
            attributes["url.query"] = redact("?" + query.decode("latin-1"))[1:]
        if client := scope.get("client"):
            attributes["client.address"] = client[0]
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
            if key in _CONTEXT_HEADERS
        }
        with tracer().start_as_current_span(
            name,
            context=propagate.extract(carrier) if carrier else None,
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            started = False

            def answered(status: int) -> None:
                nonlocal started
                started = True
                if not span.is_recording():
                    return
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    span.update_name(f"{method if known_method else 'HTTP'} {route}")
                    span.set_attribute("http.route", route)

            async def send_traced(message: Any) -> None:
                if message["type"] == "http.response.start":
                    answered(message["status"])
                await send(message)

            try:
                await self.app(scope, receive, send_traced)
            except Exception:
                if not started:  # the server's error middleware, outside, answers 500
                    answered(500)
                raise  # recorded on the span as it leaves it


# FastAPI's own telemetry, off: `FastAPI(telemetry=NATIVE_TELEMETRY_OFF)` for an app
# given `instrument_app`, whose spans it would otherwise repeat.
NATIVE_TELEMETRY_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


def instrument_app(app: Any) -> None:
    """A server span per request (see `ServerSpanMiddleware`), around everything the
    app's own middleware does. The app is made with `telemetry=NATIVE_TELEMETRY_OFF`."""
    app.add_middleware(ServerSpanMiddleware)


__all__ = [
    "HTTP_METHODS",
    "NATIVE_TELEMETRY_OFF",
    "ServerSpanMiddleware",
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
