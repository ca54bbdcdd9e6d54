"""Burst benchmark: 1,000 concurrent registrations at an event with 100 seats.

Prints throughput, latency percentiles, the 5xx count and the confirmed / waitlisted
counts; exits non-zero unless exactly `seats` are confirmed, the rest waitlisted, and no
answer was a 5xx.

    python benchmarks/events_registration_burst.py                 # self-contained
    python benchmarks/events_registration_burst.py --base-url http://127.0.0.1:8000 \
        --username admin@example.org --password ...                # through the gateway

Self-contained (the default, as `make bench` runs it): an embedded PostgreSQL and broker
in a temporary folder, the events service as its own process (migrated, like the dev
runner does it), and a local JWKS for an operator token. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp


async def operator_headers_from_gateway(base_url: str, username: str, password: str) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base_url}/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": username,
                "password": password,
            },
        ) as answer:
            body = await answer.json(content_type=None)
            if answer.status != 200:
                raise SystemExit(f"token request failed: {answer.status} {body}")
    return {"Authorization": f"Bearer {body['access_token']}"}


@contextlib.asynccontextmanager
async def local_events_service() -> AsyncIterator[tuple[str, dict]]:
    """The events service on its own embedded servers; yields its URL and operator headers."""
    from innopark_shared.testing import local_service

    async with local_service("events") as (url, issuer):
        yield url, {"Authorization": f"Bearer {issuer.token('operator')}"}


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def burst(
    base_url: str, operator: dict, *, requests: int, seats: int, concurrency: int
) -> bool:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        base_url=base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as http:
        start = datetime.now(UTC) + timedelta(days=14)
        async with http.post(
            "/api/v1/events",
            headers=operator,
            json={
                "title": f"Benchmark forum {uuid.uuid4().hex[:6]}",
                "type": "forum",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=6)).isoformat(),
                "timezone": "Europe/Moscow",
                "capacity": seats,
            },
        ) as answer:
            if answer.status != 201:
                raise SystemExit(f"create event: {answer.status} {await answer.text()}")
            event_id = (await answer.json())["id"]
        async with http.post(f"/api/v1/events/{event_id}/publish", headers=operator) as answer:
            if answer.status != 200:
                raise SystemExit(f"publish event: {answer.status} {await answer.text()}")

        url = f"/api/v1/events/{event_id}/registrations"
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []
        codes: Counter[int] = Counter()
        statuses: Counter[str] = Counter()

        async def register(i: int) -> None:
            async with gate:
                t0 = time.perf_counter()
                try:
                    async with http.post(
                        url,
                        json={
                            "full_name": f"Delegate {i}",
                            "email": f"delegate{i}@bench.example",
                        },
                    ) as answer:
                        body = await answer.json(content_type=None)
                        codes[answer.status] += 1
                        if answer.status == 201:
                            statuses[body["status"]] += 1
                except aiohttp.ClientError:
                    codes[0] += 1  # connection-level failure
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(register(i) for i in range(requests)))
        elapsed = time.perf_counter() - t0

        async with http.get(f"/api/v1/events/{event_id}/seats") as answer:
            seats_now = await answer.json()

    ms = sorted(x * 1000 for x in latencies)
    server_errors = sum(n for code, n in codes.items() if code >= 500 or code == 0)
    print(f"events registration burst against {base_url}")
    print(f"  requests        {requests} (concurrency {concurrency}), seats {seats}")
    print(f"  elapsed         {elapsed:.2f} s")
    print(f"  throughput      {requests / elapsed:.1f} req/s")
    print(
        f"  latency ms      p50 {percentile(ms, 50):.1f}  p90 {percentile(ms, 90):.1f}  "
        f"p95 {percentile(ms, 95):.1f}  p99 {percentile(ms, 99):.1f}  max {ms[-1]:.1f}  "
        f"mean {statistics.fmean(ms):.1f}"
    )
    print(f"  status codes    {dict(sorted(codes.items()))}")
    print(f"  5xx             {server_errors}")
    print(
        f"  answers         confirmed {statuses['confirmed']}  waitlisted {statuses['waitlisted']}"
    )
    print(
        f"  service counts  confirmed {seats_now['confirmed']}  "
        f"waitlisted {seats_now['waitlisted']}"
    )
    ok = (
        server_errors == 0
        and seats_now["confirmed"] == min(seats, requests)
        and seats_now["waitlisted"] == max(0, requests - seats)
        and statuses["confirmed"] == seats_now["confirmed"]
    )
    print("  result          " + ("OK" if ok else "FAILED"))
    return ok


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("EVENTS_BENCH_BASE_URL"),
        help="gateway or events URL; default: run everything locally",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("EVENTS_BENCH_TOKEN"),
        help="an operator's bearer token (with --base-url)",
    )
    parser.add_argument("--username", default=os.environ.get("BOOTSTRAP_ADMIN_EMAIL"))
    parser.add_argument("--password", default=os.environ.get("BOOTSTRAP_ADMIN_PASSWORD"))
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1000,
        help="requests in flight at once (default: all of them)",
    )
    args = parser.parse_args()

    options = {"requests": args.requests, "seats": args.seats, "concurrency": args.concurrency}
    if args.base_url:
        base = args.base_url.rstrip("/")
        if args.token:
            operator = {"Authorization": f"Bearer {args.token}"}
        elif args.username and args.password:
            operator = await operator_headers_from_gateway(base, args.username, args.password)
        else:
            parser.error("--base-url needs --token or --username/--password")
        return 0 if await burst(base, operator, **options) else 1
    async with local_events_service() as (base, operator):
        return 0 if await burst(base, operator, **options) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
