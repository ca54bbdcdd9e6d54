"""Catalogue versions: drafts by operators, published (immutable, the latest is current),
retired when a newer one is published. They flush, never commit."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.errors import InvalidTransition, NotFound
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import CatalogueVersion, Criterion
from .schemas import CatalogueCreate, CatalogueStatus


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A catalogue version with its criteria in their order."""

    version: CatalogueVersion
    criteria: list[Criterion]


def default_pass_score(scale_min: int, scale_max: int) -> int:
    """The middle of the scale, rounded up."""
    return -(-(scale_min + scale_max) // 2)


async def criteria_of(session: AsyncSession, catalogue_id: UUID) -> list[Criterion]:
    return (await criteria_by_catalogue(session, [catalogue_id]))[catalogue_id]


async def criteria_by_catalogue(
    session: AsyncSession, catalogue_ids: Iterable[UUID]
) -> dict[UUID, list[Criterion]]:
    ids = set(catalogue_ids)
    found: dict[UUID, list[Criterion]] = defaultdict(list)
    if ids:
        for c in await session.scalars(
            sa.select(Criterion)
            .where(Criterion.catalogue_id.in_(ids))
            .order_by(Criterion.catalogue_id, Criterion.position)
        ):
            found[c.catalogue_id].append(c)
    return found


async def current_catalogue(session: AsyncSession) -> CatalogueVersion | None:
    """The latest published version: the one new applications open under."""
    return await session.scalar(
        sa.select(CatalogueVersion)
        .where(CatalogueVersion.status == CatalogueStatus.PUBLISHED)
        .order_by(CatalogueVersion.number.desc())
        .limit(1)
    )


async def _with_criteria(session: AsyncSession, version: CatalogueVersion) -> Catalogue:
    return Catalogue(version, await criteria_of(session, version.id))


async def _visible_version(
    session: AsyncSession, catalogue_id: UUID, principal: Principal | None
) -> CatalogueVersion:
    version = await session.get(CatalogueVersion, catalogue_id)
    if version is None or (
        version.status == CatalogueStatus.DRAFT and not (principal and principal.is_operator)
    ):
        raise NotFound(f"Catalogue version {catalogue_id} not found")
    return version


async def create_catalogue(
    *, session: AsyncSession, principal: Principal, data: CatalogueCreate
) -> Catalogue:
    # One writer at a time picks the next number.
    await session.execute(
        sa.text("LOCK TABLE accreditation.catalogue_versions IN SHARE ROW EXCLUSIVE MODE")
    )
    highest = await session.scalar(sa.select(sa.func.max(CatalogueVersion.number)))
    number = (highest or 0) + 1
    version = CatalogueVersion(
        id=uuid.uuid4(),
        number=number,
        title=data.title,
        description=data.description,
        status=CatalogueStatus.DRAFT,
        levels=dict(data.levels),
        created_at=datetime.now(UTC),
    )
    session.add(version)
    await session.flush()
    position = 0
    for heading in data.headings:
        for c in heading.criteria:
            session.add(
                Criterion(
                    id=uuid.uuid4(),
                    catalogue_id=version.id,
                    heading=heading.title,
                    position=position,
                    code=c.code,
                    title=c.title,
                    description=c.description,
                    weight=c.weight,
                    scale_min=c.scale_min,
                    scale_max=c.scale_max,
                    mandatory=c.mandatory,
                    pass_score=c.pass_score
                    if c.pass_score is not None
                    else default_pass_score(c.scale_min, c.scale_max),
                )
            )
            position += 1
    await session.flush()
    return await _with_criteria(session, version)


async def get_catalogue(
    *, session: AsyncSession, principal: Principal | None, catalogue_id: UUID
) -> Catalogue:
    return await _with_criteria(session, await _visible_version(session, catalogue_id, principal))


async def get_current_catalogue(*, session: AsyncSession) -> Catalogue:
    version = await current_catalogue(session)
    if version is None:
        raise NotFound("No criteria catalogue is published")
    return await _with_criteria(session, version)


async def list_catalogues(
    *, session: AsyncSession, principal: Principal | None, limit: int, cursor: str | None
) -> Slice[Catalogue]:
    stmt = sa.select(CatalogueVersion)
    if not (principal and principal.is_operator):
        stmt = stmt.where(CatalogueVersion.status != CatalogueStatus.DRAFT)
    found = await paginate(
        session,
        stmt,
        order_by=[CatalogueVersion.number],
        cursor=cursor,
        limit=limit,
        descending=True,
    )
    criteria = await criteria_by_catalogue(session, [v.id for v in found.items])
    return Slice([Catalogue(v, criteria[v.id]) for v in found.items], found.next_cursor)


async def publish_catalogue(
    *, session: AsyncSession, principal: Principal, catalogue_id: UUID
) -> Catalogue:
    version = await _visible_version(session, catalogue_id, principal)
    if version.status != CatalogueStatus.DRAFT:
        raise InvalidTransition(
            f"Catalogue version {version.number} is {version.status}, not a draft"
        )
    # Applications already open keep the version they pinned; new ones take this one.
    for published in await session.scalars(
        sa.select(CatalogueVersion).where(CatalogueVersion.status == CatalogueStatus.PUBLISHED)
    ):
        published.status = CatalogueStatus.RETIRED
    version.status = CatalogueStatus.PUBLISHED
    version.published_at = datetime.now(UTC)
    await session.flush()
    return await _with_criteria(session, version)
