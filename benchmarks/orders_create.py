"""Order creation throughput: partners' systems posting technology orders (each with an
Idempotency-Key, as they should) at a fixed concurrency; prints orders/s and latency
percentiles, and exits non-zero on any answer but 201.

    python benchmarks/orders_create.py                       # self-contained
    python benchmarks/orders_create.py --orders 2000 --concurrency 32
    python benchmarks/orders_create.py --base-url http://127.0.0.1:8000 \
        --username admin@example.org --password ...          # through the gateway

Self-contained (the default, as `make bench` runs it): an embedded PostgreSQL and broker
in a temporary folder, the orders service as its own process (migrated, like the dev
runner does it), and a local JWKS for the tokens. Through the gateway, the operator's
credentials create a partner corporation and a partner user, whose token posts the orders;
start the platform with RATE_LIMIT_PER_MINUTE=0, or the gateway's per-client limit (600/min
by default) answers most of them 429, which is what it is for.
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


async def _token(http: aiohttp.ClientSession, base_url: str, username: str, password: str) -> str:
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
    return body["access_token"]


async def partner_headers_via_gateway(base_url: str, username: str, password: str) -> dict:
    async with aiohttp.ClientSession() as http:
        operator = {"Authorization": f"Bearer {await _token(http, base_url, username, password)}"}
        async with http.post(
            f"{base_url}/api/v1/partners",
            headers=operator,
            json={"name": f"Bench AG {uuid.uuid4().hex[:6]}", "country": "DE"},
        ) as answer:
            if answer.status != 201:
                raise SystemExit(f"partner creation failed: {answer.status} {await answer.text()}")
            partner_id = (await answer.json())["id"]
        email = f"bench-{uuid.uuid4().hex[:8]}@partner.example"
        secret = uuid.uuid4().hex
        body = {"email": email, "password": secret, "role": "partner", "partner_id": partner_id}
        # The partner reaches the gateway's read model (bindings must exist) in a moment.
        for _ in range(75):
            async with http.post(f"{base_url}/api/v1/users", headers=operator, json=body) as answer:
                status, text = answer.status, await answer.text()
            if status != 422:
                break
            await asyncio.sleep(0.2)
        if status != 201:
            raise SystemExit(f"user creation failed: {status} {text}")
        return {"Authorization": f"Bearer {await _token(http, base_url, email, secret)}"}


@contextlib.asynccontextmanager
async def local_orders_service() -> AsyncIterator[tuple[str, dict]]:
    """The orders service on its own embedded servers; yields its URL and a partner's
    headers (the partner created by an operator first)."""
    from innopark_shared.testing import local_service

    async with local_service("orders") as (url, issuer):
        operator = {"Authorization": f"Bearer {issuer.token('operator')}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{url}/api/v1/partners",
                headers=operator,
                json={"name": "Bench AG", "country": "DE"},
            ) as answer,
        ):
            partner_id = (await answer.json())["id"]
        yield url, {"Authorization": f"Bearer {issuer.token('partner', partner_id=partner_id)}"}


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def create_orders(base_url: str, partner: dict, *, orders: int, concurrency: int) -> bool:
    deadline = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(orders):
        queue.put_nowait(i)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        base_url=base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as http:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = {
                    "title": f"Technology order {i}: composite materials for drones",
                    "description": "Lightweight composite airframe parts with certified "
                    "fatigue testing; licence or joint R&D.",
                    "technology_tags": ["composite materials", "drones", "additive manufacturing"],
                    "deadline": deadline,
                    "trl": 6,
                    "cooperation_types": ["licence", "joint_rnd"],
                    "budget_min": "50000",
                    "budget_max": "150000",
                    "currency": "EUR",
                }
                headers = {**partner, "Idempotency-Key": str(uuid.uuid4())}
                started = time.perf_counter()
                async with http.post("/api/v1/orders", json=body, headers=headers) as answer:
                    await answer.read()
                    statuses[answer.status] += 1
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    print(
        f"{orders} orders at concurrency {concurrency} in {elapsed:.2f}s: "
        f"{orders / elapsed:.0f} orders/s"
    )
    print(
        f"latency p50 {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 95):.1f} "
        f"ms, p99 {percentile(latencies, 99):.1f} ms; statuses {dict(statuses)}"
    )
    return set(statuses) == {201}


async def run(args: argparse.Namespace) -> bool:
    if args.base_url:
        partner = await partner_headers_via_gateway(args.base_url, args.username, args.password)
        return await create_orders(
            args.base_url, partner, orders=args.orders, concurrency=args.concurrency
        )
    async with local_orders_service() as (url, partner):
        return await create_orders(url, partner, orders=args.orders, concurrency=args.concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("INNOPARK_BASE_URL"))
    parser.add_argument("--username", default=os.environ.get("BOOTSTRAP_ADMIN_EMAIL"))
    parser.add_argument("--password", default=os.environ.get("BOOTSTRAP_ADMIN_PASSWORD"))
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    ok = asyncio.run(run(parser.parse_args()))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
