"""Resident operations: admission, profile changes, departure. They flush, never commit.
A company's canonical legal identifier (country + registration number) is unique."""

from __future__ import annotations

import re
from datetime import date
from uuid import UUID, uuid4

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.contracts.registry import (
    ResidentAdmittedV1,
    ResidentLeftV1,
    ResidentUpdatedV1,
)
from innopark_shared.errors import Conflict, Forbidden, InvalidTransition, NotFound, Unprocessable
from innopark_shared.http import check_if_match
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Resident, outbox
from ..parks.service import authorize_park_change, get_park
from ..text import search_body, search_names
from .schemas import RESIDENT_ADMIN_FIELDS, ResidentCreate, ResidentLeave, ResidentUpdate


def canonical_legal_id(country: str, number: str) -> str:
    """`RU:1234567890123` however the number was written (spaces, dots, dashes, slashes)."""
    digits = re.sub(r"[\s.\-/]", "", number).upper()
    return f"{country.upper()}:{digits}"


def _derive(resident: Resident) -> None:
    """The search texts and the legal identifier follow the fields they come from."""
    if (resident.legal_country is None) != (resident.registration_number is None):
        raise Unprocessable.for_field(
            "registration_number", "legal_country and registration_number go together"
        )
    resident.search_names = search_names([resident.name, resident.name_en])
    resident.search_body = search_body(
        resident.description, resident.technologies, resident.sectors
    )
    if resident.legal_country and resident.registration_number:
        resident.legal_id = canonical_legal_id(resident.legal_country, resident.registration_number)
    else:
        resident.legal_id = None


def resident_state(
    resident: Resident, cls: type[ResidentAdmittedV1] = ResidentAdmittedV1
) -> ResidentAdmittedV1:
    """The resident's full state as an event (`ResidentAdmittedV1` or `ResidentUpdatedV1`)."""
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


def _taken(legal_id: str | None, **extensions: str) -> Conflict:
    return Conflict(
        f"A resident with legal identifier {legal_id} exists", legal_id=legal_id, **extensions
    )


async def _refuse_a_taken_legal_id(session: AsyncSession, resident: Resident) -> None:
    """One active resident per company: a company that left a park may be admitted to
    another (its earlier residency stays, with its departure)."""
    if not resident.legal_id or resident.status != "active":
        return
    with session.no_autoflush:
        taken = await session.scalar(
            sa.select(Resident.id).where(
                Resident.legal_id == resident.legal_id,
                Resident.status == "active",
                Resident.id != resident.id,
            )
        )
    if taken:
        raise _taken(resident.legal_id, resident_id=str(taken))


async def _flush(session: AsyncSession, resident: Resident) -> None:
    try:
        await session.flush()  # a lost race on a PATCH: StaleDataError, answered 409
    except IntegrityError as exc:  # a concurrent admission with the same identifier
        raise _taken(resident.legal_id) from exc


async def admit_resident(
    *, session: AsyncSession, principal: Principal, park_id: UUID, data: ResidentCreate
) -> Resident:
    park = await get_park(session=session, park_id=park_id, lock="reference")
    authorize_park_change(principal, park.id)
    values = data.model_dump(mode="python")
    values["admitted_on"] = values["admitted_on"] or date.today()
    resident = Resident(id=uuid4(), park_id=park.id, status="active", **values)
    _derive(resident)
    await _refuse_a_taken_legal_id(session, resident)
    session.add(resident)
    await _flush(session, resident)
    await outbox.add(session, resident_state(resident))
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
    changes = data.changes()
    if principal.role is Role.RESIDENT:
        if principal.resident_id != resident.id:
            raise Forbidden("A resident edits only its own company profile")
        if restricted := RESIDENT_ADMIN_FIELDS & changes.keys():
            raise Forbidden(
                f"Only the park or the association changes {', '.join(sorted(restricted))}"
            )
    else:
        authorize_park_change(principal, resident.park_id)
    check_if_match(if_match, resident.id, resident.version)
    for field, value in changes.items():
        setattr(resident, field, value)
    _derive(resident)
    await _refuse_a_taken_legal_id(session, resident)
    await _flush(session, resident)
    await outbox.add(session, resident_state(resident, ResidentUpdatedV1))
    return resident


async def record_departure(
    *,
    session: AsyncSession,
    principal: Principal,
    resident_id: UUID,
    data: ResidentLeave,
    if_match: str | None,
) -> Resident:
    """The resident leaves its park (once: a second departure is a 409)."""
    resident = await get_resident(session=session, resident_id=resident_id)
    authorize_park_change(principal, resident.park_id)
    check_if_match(if_match, resident.id, resident.version)
    if resident.status != "active":
        raise InvalidTransition("The resident has already left")
    left_on = data.left_on or date.today()
    if left_on < resident.admitted_on:
        raise Unprocessable.for_field("left_on", "a resident cannot leave before it was admitted")
    resident.status, resident.left_on = "left", left_on
    await session.flush()
    await outbox.add(
        session, ResidentLeftV1(resident_id=resident.id, park_id=resident.park_id, left_on=left_on)
    )
    return resident
