"""/metrics of a real service process: request series by route template, and the
messaging figures (read-model lag, processed events) after an event went through."""

import uuid

from innopark_shared.testing import wait_until

PARK = {
    "name": "Technopolis Gousev",
    "kind": "technopolis",
    "country": "RU",
    "region": "Kaliningrad",
    "specializations": ["radio-electronics"],
}


def _value(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_export_requests_and_consumer_lag(start_service, token_issuer):
    registry = await start_service("registry")
    events = await start_service("events")
    async with registry.client() as reg, events.client() as ev:
        created = await reg.post(
            "/api/v1/parks", json=PARK, headers=token_issuer.headers("operator")
        )
        assert created.status_code == 201, created.text
        await reg.get(f"/api/v1/parks/{created.json()['id']}")
        await reg.get(f"/api/v1/parks/{uuid.uuid4()}")

        text = (await reg.get("/metrics")).text
        assert 'route="/api/v1/parks/{park_id}"' in text  # a template, not the raw path
        assert str(uuid.uuid4())[:8] not in text
        assert _value(text, "innopark_outbox_published_total") is not None

        async def applied() -> bool:
            body = (await ev.get("/metrics")).text
            return (_value(body, "innopark_consumer_processed_total") or 0) >= 1

        assert await wait_until(applied, timeout=10)

        # The lag is the age of the last event applied: once the consumer has caught up
        # with whatever earlier tests left on the shared broker, it is that fresh park's.
        async def caught_up() -> bool:
            lag = _value((await ev.get("/metrics")).text, "innopark_consumer_lag_seconds")
            return lag is not None and 0 <= lag < 60

        assert await wait_until(caught_up, timeout=60)
        body = (await ev.get("/metrics")).text
        assert _value(body, "innopark_consumer_assigned_partitions") >= 1
