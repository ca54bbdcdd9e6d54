"""Prometheus metrics at `/metrics`: request counts and latency, the process (CPU, memory,
open files, GC), and the messaging figures an operator watches — read-model lag, outbox
backlog and the age of its oldest event, dead letters by topic (DESIGN.md §2: the lag is
a measured, exported number).

Each app has its own registry (`app.state.metrics_registry`), so several apps in one
process (tests) do not collide. Messaging figures are read from the relay and consumer
when scraped, not kept twice; the outbox backlog is counted in the database at scrape
time (one indexed query), so it stays true while the relay is stuck on an outage.
`serve_metrics` serves the same registry on an internal port of its own (the gateway,
whose public port must not expose it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from wsgiref.simple_server import WSGIServer

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class MessagingCollector(Collector):
    """Outbox and consumer figures of one app, read at scrape time."""

    def __init__(self, app: FastAPI, service: str) -> None:
        self.app = app
        self.service = service

    def collect(self) -> Iterator[Any]:
        state = self.app.state
        labels = [self.service]
        relay = getattr(state, "relay", None)
        if relay is not None:
            published = CounterMetricFamily(
                "innopark_outbox_published", "Events the relay published", labels=["service"]
            )
            published.add_metric(labels, relay.published)
            yield published
            failing = GaugeMetricFamily(
                "innopark_outbox_relay_failing",
                "1 while the relay cannot publish (broker or database outage)",
                labels=["service"],
            )
            failing.add_metric(labels, 1.0 if relay.last_error else 0.0)
            yield failing
            replayed = CounterMetricFamily(
                "innopark_outbox_replayed",
                "Retained events republished to a broker that lost them",
                labels=["service"],
            )
            replayed.add_metric(labels, relay.replayed)
            yield replayed
            resets = CounterMetricFamily(
                "innopark_outbox_broker_resets",
                "Times the broker came back without events it had acknowledged",
                labels=["service"],
            )
            resets.add_metric(labels, relay.broker_resets)
            yield resets
            backlog = GaugeMetricFamily(
                "innopark_outbox_backlog",
                "Events written to the outbox and not yet published",
                labels=["service"],
            )
            oldest = GaugeMetricFamily(
                "innopark_outbox_oldest_unpublished_age_seconds",
                "Age of the oldest unpublished outbox event (0 when there is none)",
                labels=["service"],
            )
            if relay.backlog is not None:  # unknown while the database is down
                backlog.add_metric(labels, relay.backlog)
                oldest.add_metric(labels, relay.oldest_unpublished_age_seconds or 0.0)
            yield backlog
            yield oldest
        consumer = getattr(state, "consumer", None)
        if consumer is not None:
            for name, doc, value in (
                ("innopark_consumer_processed", "Events applied", consumer.processed),
                ("innopark_consumer_duplicates", "Redeliveries ignored", consumer.duplicates),
                (
                    "innopark_consumer_dead_lettered",
                    "Events sent to the DLT",
                    consumer.dead_lettered,
                ),
            ):
                family = CounterMetricFamily(name, doc, labels=["service"])
                family.add_metric(labels, value)
                yield family
            lag = GaugeMetricFamily(
                "innopark_consumer_lag_seconds",
                "Age of the last applied event when it was applied (read-model lag)",
                labels=["service"],
            )
            if consumer.last_event_lag_seconds is not None:
                lag.add_metric(labels, consumer.last_event_lag_seconds)
            yield lag
            assigned = GaugeMetricFamily(
                "innopark_consumer_assigned_partitions", "Partitions assigned", labels=["service"]
            )
            assigned.add_metric(labels, consumer.assigned_partitions())
            yield assigned
            unknown = CounterMetricFamily(
                "innopark_consumer_unknown_events",
                "Events of a type this service does not handle, skipped by policy",
                labels=["service", "type"],
            )
            for event_type, count in sorted(consumer.unknown_types.items()):
                unknown.add_metric([*labels, event_type], count)
            yield unknown
            dead = GaugeMetricFamily(
                "innopark_dead_letters",
                "Pending dead letters recorded in this service's schema, by topic",
                labels=["service", "topic"],
            )
            for topic, count in sorted(consumer.dead_letters_by_topic.items()):
                dead.add_metric([*labels, topic], count)
            yield dead
            outage = GaugeMetricFamily(
                "innopark_consumer_waiting_out_outage",
                "1 while the consumer retries a transient failure (database or broker down)",
                labels=["service"],
            )
            outage.add_metric(labels, 1.0 if consumer.waiting_out_outage else 0.0)
            yield outage
        sender = getattr(state, "notifications", None)  # innopark_shared.notifications
        if sender is not None:
            for name, doc, value in (
                ("innopark_notifications_sent", "E-mails the SMTP server accepted", sender.sent),
                (
                    "innopark_notifications_failed_attempts",
                    "Sending attempts that failed (retried, or given up)",
                    sender.failed_attempts,
                ),
                (
                    "innopark_notifications_given_up",
                    "Notifications marked failed (refused for good, or attempts used up)",
                    sender.gave_up,
                ),
            ):
                family = CounterMetricFamily(name, doc, labels=["service"])
                family.add_metric(labels, value)
                yield family
            pending = GaugeMetricFamily(
                "innopark_notifications_pending",
                "Notifications not sent yet (all of them while SMTP_HOST is unset)",
                labels=["service"],
            )
            pending.add_metric(labels, sender.pending)
            yield pending


class RequestMetricsMiddleware:
    """Counts requests and times them, labelled by route template (never the raw path,
    whose ids would make a series per object)."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "other"
            method = scope["method"]
            self.requests.labels(method, template, f"{status // 100}xx").inc()
            self.latency.labels(method, template).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, service: str) -> None:
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    # The process's own figures (CPU seconds, resident memory, open fds, start time, GC).
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    requests = Counter(
        "innopark_http_requests",
        "HTTP requests served",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "innopark_http_request_duration_seconds",
        "Time to serve a request",
        ["method", "route"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )
    registry.register(MessagingCollector(app, service))
    app.add_middleware(RequestMetricsMiddleware, requests=requests, latency=latency)

    router = APIRouter(tags=["health"])

    @router.get("/metrics", summary="Prometheus metrics (for the scraper inside the cluster)")
    async def metrics(request: Request) -> Response:
        await refresh(request.app)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)


async def refresh(app: FastAPI) -> None:
    """Figures read from the database when scraped (bounded: a scrape never hangs)."""
    relay = getattr(app.state, "relay", None)
    if relay is not None:
        try:
            await asyncio.wait_for(relay.measure_backlog(), timeout=2)
        except TimeoutError:
            relay.backlog = relay.oldest_unpublished_age_seconds = None


def counter(app: FastAPI, name: str, documentation: str, labels: Sequence[str]) -> Counter:
    """A counter of `app`'s registry (created on first use): for figures a part adds."""
    existing = getattr(app.state, "extra_metrics", None)
    if existing is None:
        existing = app.state.extra_metrics = {}
    if name not in existing:
        existing[name] = Counter(
            name, documentation, list(labels), registry=app.state.metrics_registry
        )
    return existing[name]


def serve_metrics(app: FastAPI, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Serve `app`'s registry at http://host:port/metrics (a thread; `.shutdown()` the
    server to stop). Collectors are read when scraped, as on the app's own route."""
    return start_http_server(port, addr=host, registry=app.state.metrics_registry)
