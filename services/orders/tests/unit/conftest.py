"""The unit tier: service functions called in-process on `db_session` (one migrated
database, each test in a transaction rolled back after it), with principals built the
way token verification builds them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from innopark_orders.config import OrdersSettings
from innopark_orders.models import Order, Partner, known_parks
from innopark_orders.orders import service as order_service
from innopark_orders.orders import transitions
from innopark_orders.orders.schemas import OrderCreate
from innopark_orders.partners import service as partner_service
from innopark_orders.partners.schemas import PartnerCreate
from innopark_orders.residents import apply_resident_snapshot
from innopark_shared.auth import Principal, Role
from innopark_shared.contracts.registry import ParkCreatedV1, ResidentAdmittedV1
from innopark_shared.readmodels.parks import apply_park_snapshot
from sqlalchemy.ext.asyncio import AsyncSession


def in_days(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


@dataclass
class World:
    """Builds what a test needs through the service's own functions."""

    session: AsyncSession
    settings: OrdersSettings
    operator: Principal = Principal(subject="operator-1", role=Role.OPERATOR)

    async def partner(
        self, name: str = "Siemens Energy", country: str = "DE", **extra: Any
    ) -> Principal:
        """A registered partner corporation, as one of its users."""
        created = await partner_service.create_partner(
            session=self.session,
            data=PartnerCreate(
                name=name,
                country=country,
                contact_name=extra.pop("contact_name", "Head of Open Innovation"),
                contact_email=extra.pop("contact_email", "bd@partner.example"),
                **extra,
            ),
        )
        return Principal(subject=f"user-of-{created.id}", role=Role.PARTNER, partner_id=created.id)

    async def partner_row(self, principal: Principal) -> Partner:
        partner = await self.session.get(Partner, principal.partner_id)
        assert partner is not None
        return partner

    async def draft(self, partner: Principal, **overrides: Any) -> Order:
        fields: dict[str, Any] = {
            "title": "Low-tonnage chemistry for polymer recycling",
            "description": "A catalyst process that recycles mixed plastic waste into "
            "polymer feedstock at pilot scale.",
            "technology_tags": ["polymer recycling", "catalysis"],
            "deadline": in_days(30),
            "trl": 5,
            "cooperation_types": ["licence"],
            "budget_min": "100000",
            "budget_max": "250000",
            "currency": "EUR",
        }
        fields.update(overrides)
        return await order_service.create_order(
            session=self.session, principal=partner, data=OrderCreate(**fields)
        )

    async def submitted(self, partner: Principal, **overrides: Any) -> Order:
        order = await self.draft(partner, **overrides)
        return await transitions.submit_order(
            session=self.session, principal=partner, order_id=order.id
        )

    async def published(self, partner: Principal, **overrides: Any) -> Order:
        order = await self.submitted(partner, **overrides)
        return await transitions.publish_order(
            session=self.session,
            principal=self.operator,
            order_id=order.id,
            settings=self.settings,
        )

    def resident(self, resident_id: uuid.UUID | None = None) -> Principal:
        resident_id = resident_id or uuid.uuid4()
        return Principal(
            subject=f"user-of-{resident_id}",
            role=Role.RESIDENT,
            resident_id=resident_id,
            email=f"user-{resident_id.hex[:8]}@resident.example",
        )

    def park_manager(self, park_id: uuid.UUID | None = None) -> Principal:
        park_id = park_id or uuid.uuid4()
        return Principal(subject=f"manager-of-{park_id}", role=Role.PARK_MANAGER, park_id=park_id)

    # -- the read model, fed as the registry's events feed it --------------------------

    @staticmethod
    def park_created(
        park_id: uuid.UUID, name: str, *, at: datetime, specializations: list[str] | None = None
    ) -> ParkCreatedV1:
        """The registry's event for a park in Tatarstan created at `at`."""
        return ParkCreatedV1(
            park_id=park_id,
            name=name,
            kind="technopark",
            country="RU",
            region="Tatarstan",
            specializations=specializations or [],
            created_at=at,
        )

    async def park(self, name: str, specializations: list[str]) -> uuid.UUID:
        park_id = uuid.uuid4()
        now = datetime.now(UTC)
        event = self.park_created(park_id, name, at=now, specializations=specializations)
        await apply_park_snapshot(self.session, known_parks, event, now)
        return park_id

    async def known_resident(
        self,
        park_id: uuid.UUID,
        name: str,
        technologies: list[str],
        description: str = "",
        email: str | None = None,
    ) -> uuid.UUID:
        resident_id = uuid.uuid4()
        event = ResidentAdmittedV1(
            resident_id=resident_id,
            park_id=park_id,
            name=name,
            technologies=technologies,
            sectors=[],
            description=description,
            contact_email=email or f"{resident_id.hex[:8]}@resident.example",
        )
        await apply_resident_snapshot(self.session, event, datetime.now(UTC))
        return resident_id


@pytest.fixture
def settings() -> OrdersSettings:
    return OrdersSettings(database_url="postgresql://unused/unused")


@pytest.fixture
def world(db_session: AsyncSession, settings: OrdersSettings) -> World:
    return World(db_session, settings)
