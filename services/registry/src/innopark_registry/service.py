"""Registry domain operations. They flush, never commit: the caller owns the transaction.
Object-level access is decided here, from the caller's Principal."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.contracts.accreditation import _CertificateState
from innopark_shared.contracts.registry import (
    AgreementPartyV1,
    AgreementRecordedV1,
    AgreementUpdatedV1,
    ClusterCreatedV1,
    ClusterMemberV1,
    ClusterUpdatedV1,
    KpiReportFiledV1,
    ParkCreatedV1,
    ParkRemovedV1,
    ParkUpdatedV1,
    ResidentAdmittedV1,
    ResidentLeftV1,
    ResidentUpdatedV1,
)
from innopark_shared.errors import Conflict, Forbidden, InvalidTransition, NotFound, Unprocessable
from innopark_shared.http import check_if_match
from innopark_shared.pagination import decode_cursor, encode_cursor
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .events import publish
from .models import Agreement, Cluster, KpiReport, Park, Resident
from .schemas import (
    RESIDENT_ADMIN_FIELDS,
    AgreementCreate,
    AgreementUpdate,
    ClusterCreate,
    ClusterUpdate,
    KpiReportCreate,
    ParkCreate,
    ParkFilters,
    ParkSort,
    ParkUpdate,
    ResidentCreate,
    ResidentFilters,
    ResidentLeave,
    ResidentUpdate,
    StatsGroupBy,
)
from .text import like_pattern, search_body, search_names, transliterations

# Park fields only the association changes (a park manager gets 403 on them).
PARK_OPERATOR_FIELDS = frozenset({"membership_status", "member_since", "kind", "parent_id"})


def _field_error(field: str, message: str) -> Unprocessable:
    return Unprocessable(
        f"Invalid input: {field}",
        errors=[
            {"field": field, "location": ["body", field], "message": message, "type": "value_error"}
        ],
    )


def _now() -> datetime:
    return datetime.now(UTC)


# -- full-text search -------------------------------------------------------------------


async def plan_search_with_its_words(session: AsyncSession) -> None:
    """Plan this transaction's queries for their actual parameters. A cached generic plan
    cannot see how rare the searched words are and scans the whole table; with the query
    words folded in, the planner uses the GIN index and the search stays flat as data grow."""
    await session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))


def tsquery(q: str) -> sa.ColumnElement[Any]:
    """Stemmed query (Russian stemmer for Cyrillic words, English for Latin ones) OR'ed
    with the query's transliterations matched against the names' exact spellings."""
    query = sa.func.websearch_to_tsquery(sa.literal_column("'russian'::regconfig"), q)
    for spelled in transliterations(q):
        query = query.op("||")(
            sa.func.websearch_to_tsquery(sa.literal_column("'simple'::regconfig"), spelled)
        )
    return query


# -- parks ------------------------------------------------------------------------------


def _park_names(park: Park) -> None:
    park.search_names = search_names([park.name, park.name_en, park.legal_name])
    park.search_body = search_body(park.description, park.specializations, park.city, park.region)


def _park_event(park: Park, cls: type[ParkCreatedV1] = ParkCreatedV1) -> ParkCreatedV1:
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
        **extra,
    )


async def _check_parent(
    session: AsyncSession, parent_id: UUID | None, park_id: UUID | None = None
) -> None:
    if parent_id is None:
        return
    if parent_id == park_id:
        raise _field_error("parent_id", "a park cannot be its own parent")
    parent = await session.get(Park, parent_id)
    if parent is None or parent.removed_at is not None:
        raise _field_error("parent_id", "no such park")
    # Walk up to refuse cycles (parents are shallow: a centre inside a technopark).
    seen = {parent_id}
    while parent is not None and parent.parent_id is not None:
        if parent.parent_id == park_id or parent.parent_id in seen:
            raise _field_error("parent_id", "the parent link would make a cycle")
        seen.add(parent.parent_id)
        parent = await session.get(Park, parent.parent_id)


def _check_park_consistency(park: Park) -> None:
    if (park.latitude is None) != (park.longitude is None):
        raise _field_error("latitude", "latitude and longitude go together")
    if (
        park.total_area is not None
        and park.occupied_area is not None
        and park.occupied_area > park.total_area
    ):
        raise _field_error("occupied_area", "occupied_area cannot exceed total_area")


async def create_park(*, session: AsyncSession, data: ParkCreate) -> Park:
    await _check_parent(session, data.parent_id)
    park = Park(**data.model_dump(mode="python"))
    _park_names(park)
    session.add(park)
    await session.flush()
    await session.refresh(park)
    await publish(session, _park_event(park))
    return park


async def get_park(*, session: AsyncSession, park_id: UUID) -> Park:
    park = await session.get(Park, park_id)
    if park is None or park.removed_at is not None:
        raise NotFound(f"Park {park_id} not found")
    return park


def _authorize_park_change(principal: Principal, park_id: UUID) -> None:
    if principal.is_operator or principal.manages_park(park_id):
        return
    raise Forbidden("Only the association or this park's manager may change it")


async def update_park(
    *,
    session: AsyncSession,
    principal: Principal,
    park_id: UUID,
    data: ParkUpdate,
    if_match: str | None,
) -> Park:
    park = await get_park(session=session, park_id=park_id)
    _authorize_park_change(principal, park_id)
    changes = data.model_dump(mode="python", exclude_unset=True)
    if not principal.is_operator and (restricted := PARK_OPERATOR_FIELDS & changes.keys()):
        raise Forbidden(f"Only the association changes {', '.join(sorted(restricted))}")
    check_if_match(if_match, park.id, park.version)
    if "parent_id" in changes:
        await _check_parent(session, changes["parent_id"], park.id)
    for field, value in changes.items():
        setattr(park, field, value)
    _check_park_consistency(park)
    _park_names(park)
    await session.flush()
    await session.refresh(park)
    await publish(session, _park_event(park, ParkUpdatedV1))
    return park


async def remove_park(*, session: AsyncSession, park_id: UUID, if_match: str | None) -> Park:
    park = await get_park(session=session, park_id=park_id)
    check_if_match(if_match, park.id, park.version)
    children = await session.scalar(
        sa.select(sa.func.count()).where(Park.parent_id == park_id, Park.removed_at.is_(None))
    )
    if children:
        raise InvalidTransition("Remove or move the parks inside this one first")
    park.removed_at = _now()
    await session.flush()
    await publish(session, ParkRemovedV1(park_id=park.id, removed_at=park.removed_at))
    return park


def _accredited_clause() -> sa.ColumnElement[bool]:
    return sa.and_(
        Park.accreditation_status == "active",
        sa.or_(
            Park.accreditation_valid_until.is_(None),
            Park.accreditation_valid_until >= sa.func.current_date(),
        ),
    )


def park_conditions(filters: ParkFilters) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [Park.removed_at.is_(None)]
    if filters.q:
        where.append(Park.search_vector.op("@@")(tsquery(filters.q)))
    if filters.kind:
        where.append(Park.kind.in_([k.value for k in filters.kind]))
    if filters.region:
        where.append(Park.region == filters.region)
    if filters.country:
        where.append(Park.country == filters.country)
    if filters.city:
        where.append(Park.city == filters.city)
    if filters.specialization:
        # Any of the asked specialisations (GIN-indexed overlap).
        where.append(
            Park.specializations.op("&&")(
                sa.cast(filters.specialization, Park.specializations.type)
            )
        )
    if filters.accredited is not None:
        clause = _accredited_clause()
        where.append(clause if filters.accredited else sa.not_(sa.func.coalesce(clause, False)))
    if filters.membership_status:
        where.append(Park.membership_status == filters.membership_status.value)
    if filters.ownership:
        where.append(Park.ownership == filters.ownership.value)
    if filters.parent_id:
        where.append(Park.parent_id == filters.parent_id)
    return where


def _sort_of(filters: ParkFilters, sort: ParkSort | None) -> ParkSort:
    if sort is None:
        return ParkSort.RELEVANCE if filters.q else ParkSort.NAME
    if sort is ParkSort.RELEVANCE and not filters.q:
        raise Unprocessable(
            "Sorting by relevance needs a search query",
            errors=[
                {
                    "field": "sort",
                    "location": ["query", "sort"],
                    "message": "relevance needs q",
                    "type": "value_error",
                }
            ],
        )
    return sort


async def list_parks(
    *,
    session: AsyncSession,
    filters: ParkFilters,
    sort: ParkSort | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Park], str | None]:
    sort = _sort_of(filters, sort)
    where = park_conditions(filters)
    if filters.q:
        await plan_search_with_its_words(session)
    rank = sa.func.ts_rank(Park.search_vector, tsquery(filters.q)) if filters.q else None
    stmt = sa.select(Park)
    if sort is ParkSort.RELEVANCE:
        assert rank is not None
        stmt = stmt.add_columns(rank.label("rank")).order_by(rank.desc(), Park.id)
        if cursor:
            r, last_id = decode_cursor(cursor, 2)
            r = sa.cast(_as(float, r), sa.REAL)
            where.append(sa.or_(rank < r, sa.and_(rank == r, Park.id > _as(UUID, last_id))))
    else:
        column = Park.name if sort in (ParkSort.NAME, ParkSort.NAME_DESC) else Park.created_at
        descending = sort in (ParkSort.NAME_DESC, ParkSort.CREATED_DESC)
        if cursor:
            value, last_id = decode_cursor(cursor, 2)
            value = _as(datetime, value) if column is Park.created_at else _as(str, value)
            key, bound = (
                sa.tuple_(column, Park.id),
                sa.tuple_(sa.literal(value), sa.literal(_as(UUID, last_id))),
            )
            where.append(key < bound if descending else key > bound)
        stmt = stmt.order_by(
            *((column.desc(), Park.id.desc()) if descending else (column, Park.id))
        )
    rows = (await session.execute(stmt.where(*where).limit(limit + 1))).all()
    parks = [row[0] for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        if sort is ParkSort.RELEVANCE:
            next_cursor = encode_cursor(float(last.rank), str(last[0].id))
        elif sort in (ParkSort.NAME, ParkSort.NAME_DESC):
            next_cursor = encode_cursor(last[0].name, str(last[0].id))
        else:
            next_cursor = encode_cursor(last[0].created_at.isoformat(), str(last[0].id))
    return parks, next_cursor


def _as(kind: type, value: Any) -> Any:
    """A cursor part as the type its column needs (a forged cursor is a 422, not a 500)."""
    try:
        if kind is UUID:
            return UUID(str(value))
        if kind is datetime:
            return datetime.fromisoformat(str(value))
        if kind is float:
            number = float(value)
            if math.isfinite(number):
                return number
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            if -(2**62) < value < 2**62:
                return value
        if kind is str and isinstance(value, str):
            return value
    except (TypeError, ValueError):
        pass
    raise Unprocessable(
        "The cursor is not valid for this listing",
        errors=[
            {
                "field": "cursor",
                "location": ["query", "cursor"],
                "message": "invalid cursor",
                "type": "value_error",
            }
        ],
    )


async def stream_parks(
    *, session: AsyncSession, filters: ParkFilters, chunk: int = 500
) -> AsyncIterator[Park]:
    """Every matching park in name order, fetched in chunks by a server-side cursor."""
    stmt = (
        sa.select(Park)
        .where(*park_conditions(filters))
        .order_by(Park.name, Park.id)
        .execution_options(yield_per=chunk)
    )
    result = await session.stream_scalars(stmt)
    async for park in result:
        yield park


async def suggest_parks(*, session: AsyncSession, q: str, limit: int) -> list[Park]:
    """Autocomplete: names (and transliterations) containing what was typed, best first."""
    typed = q.strip().lower()
    spellings = [typed, *transliterations(typed)]
    match = sa.or_(*[Park.search_names.ilike(like_pattern(s)) for s in spellings])
    score = (
        sa.func.greatest(*[sa.func.word_similarity(s, Park.search_names) for s in spellings])
        if len(spellings) > 1
        else sa.func.word_similarity(typed, Park.search_names)
    )
    stmt = (
        sa.select(Park)
        .where(Park.removed_at.is_(None), match)
        .order_by(score.desc(), Park.name, Park.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def park_changes(
    *, session: AsyncSession, since: str | None, limit: int
) -> tuple[list[Park], str]:
    after = _as(int, decode_cursor(since, 1)[0]) if since else 0
    stmt = sa.select(Park).where(Park.change_seq > after).order_by(Park.change_seq).limit(limit)
    parks = list((await session.scalars(stmt)).all())
    return parks, encode_cursor(parks[-1].change_seq if parks else after)


# -- accreditation (from certificate events) --------------------------------------------


async def apply_certificate(*, session: AsyncSession, event: _CertificateState) -> None:
    """Show the park's current certificate. A park has one current certificate; an event
    about another one replaces it only if it is active (a renewal) or the current one is
    not. Older events of the same certificate never overwrite newer ones."""
    park = await session.get(Park, event.park_id, with_for_update=True)
    if park is None:
        return  # a park this registry does not know (removed long ago, or another registry)
    same = park.accreditation_certificate_id == event.certificate_id
    if same and park.accreditation_changed_at and event.occurred_at < park.accreditation_changed_at:
        return
    if not same and park.accreditation_certificate_id is not None:
        if event.status != "active" and park.accreditation_status == "active":
            return
        if (
            park.accreditation_changed_at
            and event.occurred_at < park.accreditation_changed_at
            and event.status != "active"
        ):
            return
    park.accreditation_certificate_id = event.certificate_id
    park.accreditation_status = event.status
    park.accreditation_certificate_number = event.number
    park.accreditation_level = event.level
    park.accreditation_issued_on = event.issued_on
    park.accreditation_valid_until = event.valid_until
    park.accreditation_changed_at = event.occurred_at
    await session.flush()


# -- residents --------------------------------------------------------------------------


def canonical_legal_id(country: str, number: str) -> str:
    digits = re.sub(r"[\s.\-/]", "", number).upper()
    return f"{country.upper()}:{digits}"


def _resident_names(resident: Resident) -> None:
    resident.search_names = search_names([resident.name, resident.name_en])
    resident.search_body = search_body(
        resident.description, resident.technologies, resident.sectors
    )
    if resident.legal_country and resident.registration_number:
        resident.legal_id = canonical_legal_id(resident.legal_country, resident.registration_number)
    else:
        resident.legal_id = None


def _resident_event(
    resident: Resident, cls: type[ResidentAdmittedV1] = ResidentAdmittedV1
) -> ResidentAdmittedV1:
    return cls(
        resident_id=resident.id,
        park_id=resident.park_id,
        name=resident.name,
        legal_id=resident.legal_id,
        technologies=list(resident.technologies),
        sectors=list(resident.sectors),
        stage=resident.stage,
        description=resident.description,
        contact_email=resident.contact_email,
        admitted_on=resident.admitted_on,
    )


async def _flush_unique_legal_id(session: AsyncSession, resident: Resident) -> None:
    if resident.legal_id:
        with session.no_autoflush:
            taken = await session.scalar(
                sa.select(Resident.id).where(
                    Resident.legal_id == resident.legal_id, Resident.id != resident.id
                )
            )
        if taken:
            raise Conflict(
                f"A resident with legal identifier {resident.legal_id} exists",
                legal_id=resident.legal_id,
                resident_id=str(taken),
            )
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent admission with the same identifier
        raise Conflict(
            f"A resident with legal identifier {resident.legal_id} exists",
            legal_id=resident.legal_id,
        ) from exc


async def admit_resident(
    *, session: AsyncSession, principal: Principal, park_id: UUID, data: ResidentCreate
) -> Resident:
    park = await get_park(session=session, park_id=park_id)
    _authorize_park_change(principal, park.id)
    values = data.model_dump(mode="python")
    values["admitted_on"] = values["admitted_on"] or date.today()
    resident = Resident(id=uuid4(), park_id=park.id, status="active", **values)
    _resident_names(resident)
    session.add(resident)
    await _flush_unique_legal_id(session, resident)
    await session.refresh(resident)
    await publish(session, _resident_event(resident))
    return resident


async def get_resident(*, session: AsyncSession, resident_id: UUID) -> Resident:
    resident = await session.get(Resident, resident_id)
    if resident is None:
        raise NotFound(f"Resident {resident_id} not found")
    return resident


async def update_resident(
    *,
    session: AsyncSession,
    principal: Principal,
    resident_id: UUID,
    data: ResidentUpdate,
    if_match: str | None,
) -> Resident:
    resident = await get_resident(session=session, resident_id=resident_id)
    changes = data.model_dump(mode="python", exclude_unset=True)
    if principal.role is Role.RESIDENT:
        if principal.resident_id != resident.id:
            raise Forbidden("A resident edits only its own company profile")
        if restricted := RESIDENT_ADMIN_FIELDS & changes.keys():
            raise Forbidden(
                f"Only the park or the association changes {', '.join(sorted(restricted))}"
            )
    else:
        _authorize_park_change(principal, resident.park_id)
    check_if_match(if_match, resident.id, resident.version)
    for field, value in changes.items():
        setattr(resident, field, value)
    if (resident.legal_country is None) != (resident.registration_number is None):
        raise _field_error(
            "registration_number", "legal_country and registration_number go together"
        )
    _resident_names(resident)
    await _flush_unique_legal_id(session, resident)
    await session.refresh(resident)
    await publish(session, _resident_event(resident, ResidentUpdatedV1))
    return resident


async def resident_leaves(
    *,
    session: AsyncSession,
    principal: Principal,
    resident_id: UUID,
    data: ResidentLeave,
    if_match: str | None,
) -> Resident:
    resident = await get_resident(session=session, resident_id=resident_id)
    _authorize_park_change(principal, resident.park_id)
    check_if_match(if_match, resident.id, resident.version)
    if resident.status != "active":
        raise InvalidTransition("The resident has already left")
    left_on = data.left_on or date.today()
    if left_on < resident.admitted_on:
        raise _field_error("left_on", "a resident cannot leave before it was admitted")
    resident.status, resident.left_on = "left", left_on
    await session.flush()
    await session.refresh(resident)
    await publish(
        session, ResidentLeftV1(resident_id=resident.id, park_id=resident.park_id, left_on=left_on)
    )
    return resident


def resident_conditions(filters: ResidentFilters) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if filters.park_id:
        where.append(Resident.park_id == filters.park_id)
    if filters.q:
        where.append(Resident.search_vector.op("@@")(tsquery(filters.q)))
    if filters.technology:
        where.append(
            Resident.technologies.op("&&")(sa.cast(filters.technology, Resident.technologies.type))
        )
    if filters.stage:
        where.append(Resident.stage == filters.stage.value)
    if filters.status:
        where.append(Resident.status == filters.status.value)
    return where


async def list_residents(
    *, session: AsyncSession, filters: ResidentFilters, limit: int, cursor: str | None
) -> tuple[list[Resident], str | None]:
    if filters.park_id:
        await get_park(session=session, park_id=filters.park_id)
    if filters.q:
        await plan_search_with_its_words(session)
    where = resident_conditions(filters)
    if cursor:
        name, last_id = decode_cursor(cursor, 2)
        where.append(
            sa.tuple_(Resident.name, Resident.id)
            > sa.tuple_(sa.literal(_as(str, name)), sa.literal(_as(UUID, last_id)))
        )
    rows = list(
        (
            await session.scalars(
                sa.select(Resident)
                .where(*where)
                .order_by(Resident.name, Resident.id)
                .limit(limit + 1)
            )
        ).all()
    )
    next_cursor = (
        encode_cursor(rows[limit - 1].name, str(rows[limit - 1].id)) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor


async def stream_residents(
    *, session: AsyncSession, filters: ResidentFilters, chunk: int = 500
) -> AsyncIterator[Resident]:
    stmt = (
        sa.select(Resident)
        .where(*resident_conditions(filters))
        .order_by(Resident.name, Resident.id)
        .execution_options(yield_per=chunk)
    )
    async for resident in await session.stream_scalars(stmt):
        yield resident


# -- clusters ---------------------------------------------------------------------------


async def _check_park_ref(session: AsyncSession, park_id: UUID | None, field: str) -> None:
    if park_id is None:
        return
    park = await session.get(Park, park_id)
    if park is None or park.removed_at is not None:
        raise _field_error(field, "no such park")


def _cluster_event(cluster: Cluster, cls: type[ClusterCreatedV1]) -> ClusterCreatedV1:
    return cls(
        cluster_id=cluster.id,
        name=cluster.name,
        name_en=cluster.name_en,
        country=cluster.country,
        region=cluster.region,
        description=cluster.description,
        coordinator_park_id=cluster.coordinator_park_id,
        specializations=list(cluster.specializations),
        members=[ClusterMemberV1.model_validate(m) for m in cluster.members],
        occurred_at=_now(),
    )


async def create_cluster(*, session: AsyncSession, data: ClusterCreate) -> Cluster:
    await _check_park_ref(session, data.coordinator_park_id, "coordinator_park_id")
    values = data.model_dump(mode="python")
    values["members"] = [m.model_dump(mode="json") for m in data.members]
    cluster = Cluster(**values)
    session.add(cluster)
    await session.flush()
    await session.refresh(cluster)
    await publish(session, _cluster_event(cluster, ClusterCreatedV1))
    return cluster


async def get_cluster(*, session: AsyncSession, cluster_id: UUID) -> Cluster:
    cluster = await session.get(Cluster, cluster_id)
    if cluster is None:
        raise NotFound(f"Cluster {cluster_id} not found")
    return cluster


async def update_cluster(
    *,
    session: AsyncSession,
    principal: Principal,
    cluster_id: UUID,
    data: ClusterUpdate,
    if_match: str | None,
) -> Cluster:
    cluster = await get_cluster(session=session, cluster_id=cluster_id)
    if not principal.is_operator and not (
        cluster.coordinator_park_id and principal.manages_park(cluster.coordinator_park_id)
    ):
        raise Forbidden(
            "Only the association or the coordinating park's manager may change a cluster"
        )
    changes = data.model_dump(mode="python", exclude_unset=True)
    if "coordinator_park_id" in changes and not principal.is_operator:
        raise Forbidden("Only the association changes the coordinating park")
    check_if_match(if_match, cluster.id, cluster.version)
    if "coordinator_park_id" in changes:
        await _check_park_ref(session, changes["coordinator_park_id"], "coordinator_park_id")
    if "members" in changes:
        changes["members"] = [m.model_dump(mode="json") for m in data.members or []]
    for field, value in changes.items():
        setattr(cluster, field, value)
    await session.flush()
    await session.refresh(cluster)
    await publish(session, _cluster_event(cluster, ClusterUpdatedV1))
    return cluster


async def list_clusters(
    *,
    session: AsyncSession,
    region: str | None,
    park_id: UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Cluster], str | None]:
    where: list[sa.ColumnElement[bool]] = []
    if region:
        where.append(Cluster.region == region)
    if park_id:
        where.append(
            sa.or_(
                Cluster.coordinator_park_id == park_id,
                Cluster.members.op("@>")(
                    sa.cast([{"park_id": str(park_id)}], Cluster.members.type)
                ),
            )
        )
    if cursor:
        name, last_id = decode_cursor(cursor, 2)
        where.append(
            sa.tuple_(Cluster.name, Cluster.id)
            > sa.tuple_(sa.literal(_as(str, name)), sa.literal(_as(UUID, last_id)))
        )
    rows = list(
        (
            await session.scalars(
                sa.select(Cluster).where(*where).order_by(Cluster.name, Cluster.id).limit(limit + 1)
            )
        ).all()
    )
    next_cursor = (
        encode_cursor(rows[limit - 1].name, str(rows[limit - 1].id)) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor


# -- cooperation agreements -------------------------------------------------------------


def _agreement_event(agreement: Agreement, cls: type[AgreementRecordedV1]) -> AgreementRecordedV1:
    return cls(
        agreement_id=agreement.id,
        title=agreement.title,
        parties=[AgreementPartyV1.model_validate(p) for p in agreement.parties],
        signed_on=agreement.signed_on,
        signed_at=agreement.signed_at,
        scope=agreement.scope,
        occurred_at=_now(),
    )


async def _set_parties(session: AsyncSession, agreement: Agreement, parties: list[Any]) -> None:
    for i, party in enumerate(parties):
        await _check_park_ref(session, party.park_id, f"parties.{i}.park_id")
    agreement.parties = [p.model_dump(mode="json") for p in parties]
    agreement.park_ids = [p.park_id for p in parties if p.park_id]


async def record_agreement(*, session: AsyncSession, data: AgreementCreate) -> Agreement:
    agreement = Agreement(
        title=data.title, signed_on=data.signed_on, signed_at=data.signed_at, scope=data.scope
    )
    await _set_parties(session, agreement, data.parties)
    session.add(agreement)
    await session.flush()
    await session.refresh(agreement)
    await publish(session, _agreement_event(agreement, AgreementRecordedV1))
    return agreement


async def get_agreement(*, session: AsyncSession, agreement_id: UUID) -> Agreement:
    agreement = await session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound(f"Agreement {agreement_id} not found")
    return agreement


async def update_agreement(
    *, session: AsyncSession, agreement_id: UUID, data: AgreementUpdate, if_match: str | None
) -> Agreement:
    agreement = await get_agreement(session=session, agreement_id=agreement_id)
    check_if_match(if_match, agreement.id, agreement.version)
    changes = data.model_dump(mode="python", exclude_unset=True)
    if "parties" in changes:
        await _set_parties(session, agreement, data.parties or [])
        changes.pop("parties")
    for field, value in changes.items():
        setattr(agreement, field, value)
    await session.flush()
    await session.refresh(agreement)
    await publish(session, _agreement_event(agreement, AgreementUpdatedV1))
    return agreement


async def list_agreements(
    *, session: AsyncSession, park_id: UUID | None, limit: int, cursor: str | None
) -> tuple[list[Agreement], str | None]:
    where: list[sa.ColumnElement[bool]] = []
    if park_id:
        where.append(Agreement.park_ids.op("@>")(sa.cast([park_id], Agreement.park_ids.type)))
    if cursor:
        created, last_id = decode_cursor(cursor, 2)
        where.append(
            sa.tuple_(Agreement.created_at, Agreement.id)
            < sa.tuple_(sa.literal(_as(datetime, created)), sa.literal(_as(UUID, last_id)))
        )
    rows = list(
        (
            await session.scalars(
                sa.select(Agreement)
                .where(*where)
                .order_by(Agreement.created_at.desc(), Agreement.id.desc())
                .limit(limit + 1)
            )
        ).all()
    )
    next_cursor = (
        encode_cursor(rows[limit - 1].created_at.isoformat(), str(rows[limit - 1].id))
        if len(rows) > limit
        else None
    )
    return rows[:limit], next_cursor


# -- KPI reports and statistics ---------------------------------------------------------


async def file_kpi_report(
    *, session: AsyncSession, principal: Principal, park_id: UUID, data: KpiReportCreate
) -> tuple[KpiReport, bool]:
    """File (or refile) a park's report for a period; returns it and whether it is new."""
    park = await get_park(session=session, park_id=park_id)
    _authorize_park_change(principal, park.id)
    period = sa.func.coalesce(KpiReport.quarter, 0) == (data.quarter or 0)
    report = await session.scalar(
        sa.select(KpiReport)
        .where(KpiReport.park_id == park.id, KpiReport.year == data.year, period)
        .with_for_update()
    )
    created = report is None
    if report is None:
        report = KpiReport(park_id=park.id, **data.model_dump(mode="python"))
        session.add(report)
    else:
        for field, value in data.model_dump(mode="python").items():
            setattr(report, field, value)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("A report for this period was filed at the same time; retry") from exc
    await session.refresh(report)
    await publish(
        session,
        KpiReportFiledV1(
            report_id=report.id,
            park_id=report.park_id,
            year=report.year,
            quarter=report.quarter,
            residents=report.residents,
            jobs=report.jobs,
            resident_revenue=float(report.resident_revenue),
            taxes_paid=float(report.taxes_paid),
            investments_attracted=float(report.investments_attracted),
            area_occupied=float(report.area_occupied),
            currency=report.currency,
            occurred_at=_now(),
        ),
    )
    return report, created


async def list_kpi_reports(
    *, session: AsyncSession, principal: Principal, park_id: UUID, limit: int, cursor: str | None
) -> tuple[list[KpiReport], str | None]:
    park = await get_park(session=session, park_id=park_id)
    _authorize_park_change(principal, park.id)
    period = sa.func.coalesce(KpiReport.quarter, 5)  # an annual report sorts after Q4
    where = [KpiReport.park_id == park.id]
    if cursor:
        year, quarter, last_id = decode_cursor(cursor, 3)
        where.append(
            sa.tuple_(KpiReport.year, period, KpiReport.id)
            < sa.tuple_(
                sa.literal(_as(int, year)),
                sa.literal(_as(int, quarter)),
                sa.literal(_as(UUID, last_id)),
            )
        )
    rows = list(
        (
            await session.scalars(
                sa.select(KpiReport)
                .where(*where)
                .order_by(KpiReport.year.desc(), period.desc(), KpiReport.id.desc())
                .limit(limit + 1)
            )
        ).all()
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.year, last.quarter or 5, str(last.id))
    return rows[:limit], next_cursor


STATS_SQL = """
WITH r AS (
    SELECT k.*, {group} AS g
    FROM kpi_reports k JOIN parks p ON p.id = k.park_id
    WHERE p.removed_at IS NULL
      AND (CAST(:year_from AS int) IS NULL OR k.year >= :year_from)
      AND (CAST(:year_to AS int) IS NULL OR k.year <= :year_to)
      AND (CAST(:quarter AS int) IS NULL OR k.quarter = :quarter)
      AND (CAST(:region AS text) IS NULL OR p.region = :region)
      AND (CAST(:kind AS text) IS NULL OR p.kind = :kind)
      -- an annual report stands in for the same year's quarterly ones
      AND NOT (k.quarter IS NOT NULL AND CAST(:quarter AS int) IS NULL AND EXISTS (
          SELECT 1 FROM kpi_reports a
          WHERE a.park_id = k.park_id AND a.year = k.year AND a.quarter IS NULL))
),
latest AS (
    SELECT DISTINCT ON (park_id, g) *
    FROM r ORDER BY park_id, g, year DESC, coalesce(quarter, 5) DESC
),
stocks AS (
    SELECT g, count(*) AS parks_reporting, coalesce(sum(residents), 0) AS residents,
           coalesce(sum(jobs), 0) AS jobs, coalesce(sum(area_occupied), 0) AS area_occupied
    FROM latest GROUP BY g
),
flows AS (
    SELECT g, coalesce(sum(resident_revenue), 0) AS resident_revenue,
           coalesce(sum(taxes_paid), 0) AS taxes_paid,
           coalesce(sum(investments_attracted), 0) AS investments_attracted
    FROM r GROUP BY g
)
SELECT s.g AS key, s.parks_reporting, s.residents, s.jobs, s.area_occupied,
       f.resident_revenue, f.taxes_paid, f.investments_attracted
FROM stocks s JOIN flows f USING (g) ORDER BY s.g
"""

_GROUP_EXPR = {
    None: "''",
    StatsGroupBy.REGION: "p.region",
    StatsGroupBy.KIND: "p.kind",
    StatsGroupBy.YEAR: "k.year::text",
}


async def stats(
    *,
    session: AsyncSession,
    year_from: int | None,
    year_to: int | None,
    quarter: int | None,
    region: str | None,
    kind: str | None,
    group_by: StatsGroupBy | None,
) -> dict[str, Any]:
    params = {
        "year_from": year_from,
        "year_to": year_to,
        "quarter": quarter,
        "region": region,
        "kind": kind,
    }

    async def run(group: StatsGroupBy | None) -> list[dict[str, Any]]:
        sql = sa.text(STATS_SQL.format(group=_GROUP_EXPR[group]))
        return [dict(row._mapping) for row in (await session.execute(sql, params)).all()]

    zero = {
        "parks_reporting": 0,
        "residents": 0,
        "jobs": 0,
        "area_occupied": Decimal(0),
        "resident_revenue": Decimal(0),
        "taxes_paid": Decimal(0),
        "investments_attracted": Decimal(0),
    }
    totals_rows = await run(None)
    totals = {k: v for k, v in totals_rows[0].items() if k != "key"} if totals_rows else zero
    groups = await run(group_by) if group_by else None
    return {**params, "totals": totals, "groups": groups}
