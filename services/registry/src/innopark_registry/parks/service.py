"""Park operations: create, change, remove. They flush, never commit: the caller owns the
transaction. Object-level access is decided here, from the caller's Principal; the other
aggregates use `get_park`, `authorize_park_change` and `check_park_ref` from here."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.contracts.registry import ParkCreatedV1, ParkRemovedV1, ParkUpdatedV1
from innopark_shared.errors import Forbidden, InvalidTransition, NotFound, Unprocessable
from innopark_shared.http import check_if_match
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Agreement, Cluster, Park, Resident, outbox
from ..text import search_body, search_names
from .schemas import ParkCreate, ParkUpdate

# Park fields only the association changes (a park manager gets 403 on them).
PARK_OPERATOR_FIELDS = frozenset({"membership_status", "member_since", "kind", "parent_id"})


def _index_texts(park: Park) -> None:
    park.search_names = search_names([park.name, park.name_en, park.legal_name])
    park.search_body = search_body(park.description, park.specializations, park.city, park.region)


def park_state(park: Park, cls: type[ParkCreatedV1] = ParkCreatedV1) -> ParkCreatedV1:
    """The park's full state as an event (`ParkCreatedV1` or `ParkUpdatedV1`)."""
    extra = {"updated_at": park.updated_at} if cls is ParkUpdatedV1 else {}
    return cls(
        park_id=park.id,
        name=park.name,
        kind=park.kind,
        country=park.country,
        region=park.region,
        specializations=list(park.specializations),
        created_at=park.created_at,
        name_en=park.name_en,
        city=park.city,
        parent_id=park.parent_id,
        description=park.description,
        membership_status=park.membership_status,
        email=park.email,
        **extra,
    )


# Row locks that keep a removal and a new reference to the park from crossing: a removal
# locks the park FOR UPDATE, and whatever attaches itself to a park (a resident, a
# cluster, an agreement, a KPI report) locks it FOR KEY SHARE, which park edits do not
# wait for. Whichever comes second sees the other's outcome: a 409 or a 404.
PARK_LOCKS = {"update": {}, "reference": {"read": True, "key_share": True}}


async def _live_park(session: AsyncSession, park_id: UUID, lock: str | None) -> Park | None:
    if lock is None:
        park = await session.get(Park, park_id)
    else:
        park = await session.get(
            Park, park_id, with_for_update=PARK_LOCKS[lock], populate_existing=True
        )
    return None if park is None or park.removed_at is not None else park


async def get_park(*, session: AsyncSession, park_id: UUID, lock: str | None = None) -> Park:
    """The live park (404 otherwise); `lock="reference"` when attaching something to it."""
    park = await _live_park(session, park_id, lock)
    if park is None:
        raise NotFound(f"Park {park_id} not found")
    return park


def authorize_park_change(principal: Principal, park_id: UUID) -> None:
    """The association, or the manager of this park."""
    if principal.is_operator or principal.manages_park(park_id):
        return
    raise Forbidden("Only the association or this park's manager may change it")


async def check_park_ref(session: AsyncSession, park_id: UUID | None, field: str) -> None:
    """A body's reference to a park names a live one (a 422 naming `field` otherwise)."""
    if park_id is None:
        return
    if await _live_park(session, park_id, "reference") is None:
        raise Unprocessable.for_field(field, "no such park")


async def check_parent(
    session: AsyncSession, parent_id: UUID | None, park_id: UUID | None = None
) -> None:
    """The parent exists and the link makes no cycle (a park inside itself, however deep)."""
    if parent_id is None:
        return
    if parent_id == park_id:
        raise Unprocessable.for_field("parent_id", "a park cannot be its own parent")
    parent = await session.get(Park, parent_id)
    if parent is None or parent.removed_at is not None:
        raise Unprocessable.for_field("parent_id", "no such park")
    # Walk up to refuse cycles (parents are shallow: a centre inside a technopark).
    seen = {parent_id}
    while parent is not None and parent.parent_id is not None:
        if parent.parent_id == park_id or parent.parent_id in seen:
            raise Unprocessable.for_field("parent_id", "the parent link would make a cycle")
        seen.add(parent.parent_id)
        parent = await session.get(Park, parent.parent_id)


def check_consistency(park: Park) -> None:
    if (park.latitude is None) != (park.longitude is None):
        raise Unprocessable.for_field("latitude", "latitude and longitude go together")
    if (
        park.total_area is not None
        and park.occupied_area is not None
        and park.occupied_area > park.total_area
    ):
        raise Unprocessable.for_field("occupied_area", "occupied_area cannot exceed total_area")


async def create_park(*, session: AsyncSession, data: ParkCreate) -> Park:
    await check_parent(session, data.parent_id)
    park = Park(**data.model_dump(mode="python"))
    check_consistency(park)
    _index_texts(park)
    session.add(park)
    await session.flush()
    await outbox.add(session, park_state(park))
    return park


async def update_park(
    *,
    session: AsyncSession,
    principal: Principal,
    park_id: UUID,
    data: ParkUpdate,
    if_match: str | None,
) -> Park:
    park = await get_park(session=session, park_id=park_id)
    authorize_park_change(principal, park_id)
    changes = data.changes()
    if not principal.is_operator and (restricted := PARK_OPERATOR_FIELDS & changes.keys()):
        raise Forbidden(f"Only the association changes {', '.join(sorted(restricted))}")
    check_if_match(if_match, park.id, park.version)
    if "parent_id" in changes:
        await check_parent(session, changes["parent_id"], park.id)
    for field, value in changes.items():
        setattr(park, field, value)
    check_consistency(park)
    _index_texts(park)
    await session.flush()  # a lost race surfaces here: StaleDataError, answered 409
    await outbox.add(session, park_state(park, ParkUpdatedV1))
    return park


async def _still_linked(session: AsyncSession, park_id: UUID) -> dict[str, list[str]]:
    """What still ties the park to the registry: parks inside it, its active residents,
    clusters it coordinates or belongs to, and agreements it is a party to."""
    member = Cluster.members.contains([{"park_id": str(park_id)}])
    queries = {
        "parks": sa.select(Park.id).where(Park.parent_id == park_id, Park.removed_at.is_(None)),
        "residents": sa.select(Resident.id).where(
            Resident.park_id == park_id, Resident.status == "active"
        ),
        "clusters": sa.select(Cluster.id).where(
            sa.or_(Cluster.coordinator_park_id == park_id, member)
        ),
        "agreements": sa.select(Agreement.id).where(
            sa.literal(park_id).op("=")(sa.any_(Agreement.park_ids))
        ),
    }
    linked = {}
    for name, query in queries.items():
        ids = (await session.scalars(query.limit(50))).all()
        if ids:
            linked[name] = [str(i) for i in ids]
    return linked


async def remove_park(*, session: AsyncSession, park_id: UUID, if_match: str | None) -> Park:
    """Remove a park that nothing refers to any more. A park with parks inside it, active
    residents, clusters or agreements is refused with a 409 naming them (up to 50 of
    each): the operator records the departures and changes those first, so every change
    is its own event, not a silent cascade."""
    park = await get_park(session=session, park_id=park_id, lock="update")
    check_if_match(if_match, park.id, park.version)
    linked = await _still_linked(session, park_id)
    if linked:
        raise InvalidTransition(
            "The park still has "
            + ", ".join(
                f"{len(ids)}{'+' if len(ids) == 50 else ''} {name}" for name, ids in linked.items()
            )
            + ": record the departures and change those first",
            linked=linked,
        )
    park.removed_at = datetime.now(UTC)
    await session.flush()
    await outbox.add(session, ParkRemovedV1(park_id=park.id, removed_at=park.removed_at))
    return park
