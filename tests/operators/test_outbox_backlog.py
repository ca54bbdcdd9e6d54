"""The outbox backlog on a service's /metrics: it grows while the broker is down and is
back to zero once the broker returns and the relay has published everything."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path

import pytest
from innopark_shared.devrun.embedded import EmbeddedBroker, free_port
from innopark_shared.testing import TokenIssuer, wait_until

pytestmark = pytest.mark.timeout(180)


def gauge(text: str, name: str) -> float | None:
    match = re.search(rf'^{name}{{service="registry"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


async def test_backlog_grows_while_the_broker_is_down_and_drains_after(
    start_service, token_issuer: TokenIssuer
) -> None:
    port = free_port()
    log = open(Path(tempfile.mkdtemp(prefix="innopark-broker-")) / "broker.log", "wb")
    broker = EmbeddedBroker(port=port)
    await broker.start(stdout=log.fileno())
    try:
        registry = await start_service("registry", KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers)
        operator = token_issuer.headers("operator")
        async with registry.client() as client:

            async def scrape() -> str:
                answer = await client.get("/metrics")
                assert answer.status_code == 200
                return answer.text

            async def drained() -> bool:
                return gauge(await scrape(), "innopark_outbox_backlog") == 0

            assert await wait_until(drained, timeout=30)
            await broker.stop()

            backlog = []
            for _ in range(3):
                body = {
                    "name": f"Park {uuid.uuid4().hex[:8]}",
                    "kind": "technopark",
                    "country": "RU",
                    "region": "Tatarstan",
                    "specializations": ["it"],
                }
                created = await client.post("/api/v1/parks", json=body, headers=operator)
                assert created.status_code == 201, created.text
                backlog.append(gauge(await scrape(), "innopark_outbox_backlog"))
            assert backlog == [1, 2, 3]
            oldest = gauge(await scrape(), "innopark_outbox_oldest_unpublished_age_seconds")
            assert oldest is not None and oldest > 0

            async def failing() -> bool:
                return gauge(await scrape(), "innopark_outbox_relay_failing") == 1

            assert await wait_until(failing, timeout=45, interval=0.5)
            assert gauge(await scrape(), "innopark_outbox_backlog") == 3

            broker = EmbeddedBroker(port=port)
            await broker.start(stdout=log.fileno())
            assert await wait_until(drained, timeout=60, interval=0.5), await scrape()
            text = await scrape()
            assert gauge(text, "innopark_outbox_oldest_unpublished_age_seconds") == 0
    finally:
        await broker.stop()
        log.close()
