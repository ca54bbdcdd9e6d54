"""Accreditation test fixtures. Contract tier: the registry and accreditation run once per
session as real processes; `flow` drives an application through its life with real
(test-issued) tokens. Unit tier (`unit/`): `db_session` on accreditation's own migrated
database, each test rolled back."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from innopark_shared.contracts.accreditation import CERTIFICATES_TOPIC
from innopark_shared.contracts.gateway import UserCreatedV1
from innopark_shared.testing import Infra, RunningService, TokenIssuer, wait_until

# The services below run until the last test of this directory (unit/ included).
HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def service_name() -> str:
    return "accreditation"


@pytest_asyncio.fixture(scope="session")
async def registry(start_service) -> RunningService:
    return await start_service("registry", kept_for=HERE)


@pytest_asyncio.fixture(scope="session")
async def accreditation(start_service, tmp_path_factory) -> RunningService:
    key = tmp_path_factory.mktemp("keys") / "certificates-ed25519.pem"
    return await start_service(
        "accreditation",
        kept_for=HERE,
        EXPIRY_SWEEP_INTERVAL_SECONDS="0.3",
        CERTIFICATE_SIGNING_KEY_PATH=str(key),
    )


@dataclass
class CertificateEvents:
    """A real consumer of the certificate topic (its own group), collecting what arrives."""

    consumer: AIOKafkaConsumer
    seen: list[dict[str, Any]]

    async def _drain(self) -> None:
        batch = await self.consumer.getmany(timeout_ms=200)
        for records in batch.values():
            for r in records:
                headers = {k: v.decode() for k, v in r.headers or ()}
                self.seen.append(
                    {
                        "key": r.key.decode(),
                        "type": headers.get("ce_type"),
                        "source": headers.get("ce_source"),
                        "data": json.loads(r.value),
                    }
                )

    async def wait_for(self, event_type: str, **match: Any) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for e in self.seen:
                if e["type"] == event_type and all(e["data"].get(k) == v for k, v in match.items()):
                    return e
            return None

        async def arrived() -> bool:
            await self._drain()
            return find() is not None

        assert await wait_until(arrived, timeout=15), f"no {event_type} {match}; saw {self.seen}"
        return find()


@pytest_asyncio.fixture(scope="session")
async def certificate_events(infra, accreditation):
    consumer = AIOKafkaConsumer(
        CERTIFICATES_TOPIC,
        bootstrap_servers=infra.bootstrap_servers,
        group_id=f"accreditation-tests-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        yield CertificateEvents(consumer, [])
    finally:
        await consumer.stop()


@dataclass
class Flow:
    """Steps of the accreditation process as the users take them."""

    registry: RunningService
    accreditation: RunningService
    tokens: TokenIssuer
    infra: Infra

    async def expert_user(self, role: str = "expert", is_active: bool = True) -> str:
        """A user as the gateway announces it (a real UserCreatedV1 on the broker), once
        accreditation has it in its users read model; its id."""
        event = UserCreatedV1(
            user_id=uuid.uuid4(), role=role, is_active=is_active, occurred_at=datetime.now(UTC)
        )
        await self.infra.publish(event, source="/innopark/gateway")
        conn = await asyncpg.connect(self.accreditation.database_url.replace("+asyncpg", ""))
        try:

            async def known() -> bool:
                return bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM accreditation.known_users WHERE user_id = $1",
                        str(event.user_id),
                    )
                )

            assert await wait_until(known, timeout=15), "accreditation never learnt the user"
        finally:
            await conn.close()
        return str(event.user_id)

    @property
    def operator(self) -> dict[str, str]:
        return self.tokens.headers("operator")

    def manager(self, park_id: str) -> dict[str, str]:
        return self.tokens.headers("park_manager", park_id=park_id)

    def expert(self, expert_id: str) -> dict[str, str]:
        return self.tokens.headers("expert", subject=expert_id)

    async def park(self, name: str | None = None, **extra: Any) -> dict[str, Any]:
        """A park created in the registry, once accreditation has learnt of it."""
        body = {
            "name": name or f"Technopark {uuid.uuid4().hex[:8]}",
            "kind": "technopark",
            "country": "RU",
            "region": "St Petersburg",
            "specializations": ["it", "robotics"],
            **extra,
        }
        async with self.registry.client() as reg, self.accreditation.client() as acc:
            created = await reg.post("/api/v1/parks", json=body, headers=self.operator)
            assert created.status_code == 201, created.text
            park = created.json()

            async def known() -> bool:
                r = await acc.get(f"/api/v1/accreditation/parks/{park['id']}")
                return r.status_code == 200

            assert await wait_until(known, timeout=10)
        return park

    async def criteria(self, catalogue_id: str | None = None) -> list[dict[str, Any]]:
        async with self.accreditation.client() as acc:
            path = f"/api/v1/accreditation/catalogues/{catalogue_id or 'current'}"
            r = await acc.get(path, headers=self.operator)
            assert r.status_code == 200, r.text
            return [c for h in r.json()["headings"] for c in h["criteria"]]

    async def submitted_application(self, park_id: str) -> dict[str, Any]:
        criteria = await self.criteria()
        self_assessment = [
            {
                "criterion_id": c["id"],
                "score": c["scale_max"],
                "comment": "see evidence",
                "evidence": [{"title": "Annual report", "url": "https://example.org/report.pdf"}],
            }
            for c in criteria
        ]
        async with self.accreditation.client() as acc:
            r = await acc.post(
                "/api/v1/accreditation/applications",
                headers=self.manager(park_id),
                json={"summary": "We apply", "self_assessment": self_assessment},
            )
            assert r.status_code == 201, r.text
            app = r.json()
            r = await acc.post(
                f"/api/v1/accreditation/applications/{app['id']}/submit",
                headers=self.manager(park_id),
            )
            assert r.status_code == 200, r.text
            return r.json()

    async def reviewed_application(
        self, park_id: str, expert_id: str | None = None
    ) -> dict[str, Any]:
        """Submitted, one expert assigned, every criterion scored at the top of its scale."""
        app = await self.submitted_application(park_id)
        expert_id = expert_id or await self.expert_user()
        async with self.accreditation.client() as acc:
            r = await acc.post(
                f"/api/v1/accreditation/applications/{app['id']}/experts",
                json={"expert_id": expert_id},
                headers=self.operator,
            )
            assert r.status_code == 200, r.text
            criteria = await self.criteria(app["catalogue_id"])
            scores = [
                {"criterion_id": c["id"], "score": c["scale_max"], "comment": "fine"}
                for c in criteria
            ]
            r = await acc.put(
                f"/api/v1/accreditation/applications/{app['id']}/scores",
                json={"scores": scores},
                headers=self.expert(expert_id),
            )
            assert r.status_code == 200, r.text
            assert r.json()["complete"] is True
        return {**app, "expert_id": expert_id}

    async def certificate(self, park_id: str, level: str = "gold") -> dict[str, Any]:
        """A granted certificate for the park (through the whole process)."""
        app = await self.reviewed_application(park_id)
        async with self.accreditation.client() as acc:
            r = await acc.post(
                f"/api/v1/accreditation/applications/{app['id']}/decision",
                json={"outcome": "granted", "level": level, "reasons": "All criteria met"},
                headers=self.operator,
            )
            assert r.status_code == 200, r.text
            number = r.json()["decision"]["certificate_number"]
            r = await acc.get(f"/api/v1/certificates/{number}")
            assert r.status_code == 200, r.text
            return r.json()


@pytest_asyncio.fixture(scope="session")
async def flow(registry, accreditation, token_issuer, infra) -> Flow:
    return Flow(registry, accreditation, token_issuer, infra)
