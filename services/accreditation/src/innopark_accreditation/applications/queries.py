"""What an application shows of other tables (experts, park name, catalogue number,
certificate number), fetched in one query per table for a whole page of applications."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Application, CatalogueVersion, Certificate, ExpertAssignment, known_parks


@dataclass(frozen=True, slots=True)
class ApplicationFacts:
    park_name: str
    catalogue_number: int
    certificate_number: str | None
    experts: list[str] = field(default_factory=list)


async def experts_of(session: AsyncSession, application_id: UUID) -> list[str]:
    """The assigned experts in the order they were assigned."""
    return (await experts_by_application(session, [application_id]))[application_id]


async def experts_by_application(
    session: AsyncSession, application_ids: Iterable[UUID]
) -> dict[UUID, list[str]]:
    experts: dict[UUID, list[str]] = defaultdict(list)
    ids = set(application_ids)
    if ids:
        for application_id, expert_id in await session.execute(
            sa.select(ExpertAssignment.application_id, ExpertAssignment.expert_id)
            .where(ExpertAssignment.application_id.in_(ids))
            .order_by(ExpertAssignment.assigned_at, ExpertAssignment.expert_id)
        ):
            experts[application_id].append(expert_id)
    return experts


async def application_facts(
    session: AsyncSession, apps: list[Application]
) -> dict[UUID, ApplicationFacts]:
    if not apps:
        return {}
    experts = await experts_by_application(session, [a.id for a in apps])
    park_names: dict[UUID, str] = dict(
        (
            await session.execute(
                sa.select(known_parks.c.park_id, known_parks.c.name).where(
                    known_parks.c.park_id.in_({a.park_id for a in apps})
                )
            )
        ).all()
    )
    catalogue_numbers: dict[UUID, int] = dict(
        (
            await session.execute(
                sa.select(CatalogueVersion.id, CatalogueVersion.number).where(
                    CatalogueVersion.id.in_({a.catalogue_id for a in apps})
                )
            )
        ).all()
    )
    certificate_ids = {a.certificate_id for a in apps if a.certificate_id}
    numbers: dict[UUID, str] = (
        dict(
            (
                await session.execute(
                    sa.select(Certificate.id, Certificate.number).where(
                        Certificate.id.in_(certificate_ids)
                    )
                )
            ).all()
        )
        if certificate_ids
        else {}
    )
    return {
        a.id: ApplicationFacts(
            park_name=park_names.get(a.park_id, ""),
            catalogue_number=catalogue_numbers[a.catalogue_id],
            certificate_number=numbers.get(a.certificate_id) if a.certificate_id else None,
            experts=list(experts.get(a.id, [])),
        )
        for a in apps
    }
