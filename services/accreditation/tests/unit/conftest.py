"""Unit-tier fixtures: the domain functions called in process on `db_session`, with a
catalogue whose numbers are easy to follow and parks the read model knows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from innopark_accreditation.applications import assessment
from innopark_accreditation.applications import service as applications
from innopark_accreditation.applications.schemas import (
    ApplicationCreate,
    DecisionCreate,
    ScoresSubmit,
)
from innopark_accreditation.catalogue import service as catalogues
from innopark_accreditation.catalogue.schemas import CatalogueCreate
from innopark_accreditation.certificates.signing import CertificateSigner
from innopark_accreditation.models import Application, Certificate, known_parks, known_users
from innopark_shared.auth import Principal, Role
from innopark_shared.contracts import ParkCreatedV1
from innopark_shared.readmodels.parks import apply_park_snapshot
from sqlalchemy.ext.asyncio import AsyncSession

OPERATOR = Principal(subject="operator-1", role=Role.OPERATOR)
LEVELS = {"gold": 85, "silver": 70, "bronze": 55}

# weight, scale, mandatory, pass score (None: the default, the middle rounded up)
CRITERIA = {
    "infra": (3.0, 0, 5, True, 3),
    "occupancy": (1.0, 0, 10, False, None),
    "programmes": (2.0, 2, 5, True, None),  # default pass score: ceil((2 + 5) / 2) = 4
}


def expert(name: str) -> Principal:
    return Principal(subject=name, role=Role.EXPERT)


def manager(park_id: uuid.UUID) -> Principal:
    return Principal(subject=f"manager-{park_id}", role=Role.PARK_MANAGER, park_id=park_id)


@dataclass
class World:
    """Steps of the process as the users take them, straight through the domain code."""

    session: AsyncSession
    signer: CertificateSigner
    catalogue: catalogues.Catalogue

    operator = OPERATOR
    expert = staticmethod(expert)
    manager = staticmethod(manager)

    def criterion(self, code: str) -> Any:
        return next(c for c in self.catalogue.criteria if c.code == code)

    async def park(self, name: str | None = None) -> uuid.UUID:
        park_id = uuid.uuid4()
        event = ParkCreatedV1(
            park_id=park_id,
            name=name or f"Technopark {park_id.hex[:6]}",
            kind="technopark",
            country="RU",
            region="Tatarstan",
            created_at=datetime.now(UTC),
        )
        await apply_park_snapshot(self.session, known_parks, event, event.created_at)
        return park_id

    def self_assessment(self, score: str = "max") -> list[dict[str, Any]]:
        return [
            {"criterion_id": str(c.id), "score": c.scale_max if score == "max" else c.scale_min}
            for c in self.catalogue.criteria
        ]

    async def draft(self, park_id: uuid.UUID, /, **body: Any) -> Application:
        data = ApplicationCreate.model_validate({"self_assessment": self.self_assessment(), **body})
        return await applications.create_application(
            session=self.session, principal=manager(park_id), data=data
        )

    async def submitted(self, park_id: uuid.UUID) -> Application:
        app = await self.draft(park_id)
        return await applications.submit_application(
            session=self.session, principal=manager(park_id), application_id=app.id
        )

    async def under_review(self, park_id: uuid.UUID, *experts: str) -> Application:
        app = await self.submitted(park_id)
        for name in experts or ("expert-a",):
            app = await assessment.assign_expert(
                session=self.session, principal=OPERATOR, application_id=app.id, expert_id=name
            )
        return app

    async def score(self, app: Application, expert_id: str, scores: dict[str, int]):
        data = ScoresSubmit.model_validate(
            {
                "scores": [
                    {"criterion_id": str(self.criterion(code).id), "score": score}
                    for code, score in scores.items()
                ]
            }
        )
        return await assessment.submit_scores(
            session=self.session, principal=expert(expert_id), application_id=app.id, data=data
        )

    async def top_scores(self, app: Application, expert_id: str = "expert-a"):
        return await self.score(
            app, expert_id, {c.code: c.scale_max for c in self.catalogue.criteria}
        )

    async def decide(self, app: Application, **decision: Any) -> Application:
        return await assessment.decide_application(
            session=self.session,
            principal=OPERATOR,
            application_id=app.id,
            data=DecisionCreate.model_validate({"reasons": "Reviewed", **decision}),
            signer=self.signer,
            issuer="Association of Technological Parks in High-tech Area",
            prefix="ATP",
            validity_years=3,
        )

    async def certificate(self, park_id: uuid.UUID | None = None, level: str = "gold"):
        """A certificate granted through the whole process."""
        park_id = park_id or await self.park()
        app = await self.under_review(park_id)
        await self.top_scores(app)
        app = await self.decide(app, outcome="granted", level=level)
        return await self.session.get(Certificate, app.certificate_id)


@pytest.fixture(scope="session")
def signer() -> CertificateSigner:
    return CertificateSigner(Ed25519PrivateKey.generate())


@pytest_asyncio.fixture
async def world(db_session: AsyncSession, signer: CertificateSigner) -> World:
    """A published catalogue of CRITERIA (the seeded one retired, in this test only)."""
    body = {
        "title": "Unit-test criteria",
        "levels": LEVELS,
        "headings": [
            {
                "title": "All",
                "criteria": [
                    {
                        "code": code,
                        "title": code.title(),
                        "weight": weight,
                        "scale_min": lo,
                        "scale_max": hi,
                        "mandatory": mandatory,
                        **({"pass_score": pass_score} if pass_score is not None else {}),
                    }
                    for code, (weight, lo, hi, mandatory, pass_score) in CRITERIA.items()
                ],
            }
        ],
    }
    draft = await catalogues.create_catalogue(
        session=db_session, principal=OPERATOR, data=CatalogueCreate.model_validate(body)
    )
    published = await catalogues.publish_catalogue(
        session=db_session, principal=OPERATOR, catalogue_id=draft.version.id
    )
    # The experts the tests assign, as the gateway's user events would have described them.
    await db_session.execute(
        sa.insert(known_users),
        [
            {"user_id": name, "role": "expert", "is_active": True, "source_time": datetime.now(UTC)}
            for name in ("expert-a", "expert-b", "expert-c")
        ],
    )
    return World(db_session, signer, published)
