"""Each park's current accreditation: a read model fed by the accreditation service's
certificate events (the registry never decides accreditation itself)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from innopark_shared.contracts.accreditation import _CertificateState
from innopark_shared.db import RowView
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Park

NOT_ACCREDITED = "not_accredited"
# A park: the mapped object, or its row as a hot read returns it (same attribute names).
ParkLike = Park | RowView


@dataclass(frozen=True, slots=True)
class CurrentAccreditation:
    status: str  # not_accredited | active | suspended | revoked | expired
    certificate_number: str | None = None
    level: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None


def current_accreditation(park: ParkLike, *, today: date | None = None) -> CurrentAccreditation:
    """What a park shows: its certificate's last known state, except that an active
    certificate past its validity shows as expired (the expiry event may be on its way)."""
    if park.accreditation_status is None:
        return CurrentAccreditation(status=NOT_ACCREDITED)
    status = park.accreditation_status
    valid_until = park.accreditation_valid_until
    if status == "active" and valid_until and valid_until < (today or date.today()):
        status = "expired"
    return CurrentAccreditation(
        status=status,
        certificate_number=park.accreditation_certificate_number,
        level=park.accreditation_level,
        issued_on=park.accreditation_issued_on,
        valid_until=valid_until,
    )


def accredited_clause() -> sa.ColumnElement[bool]:
    """Parks whose certificate is active and not past its validity (the list's filter)."""
    return sa.and_(
        Park.accreditation_status == "active",
        sa.or_(
            Park.accreditation_valid_until.is_(None),
            Park.accreditation_valid_until >= sa.func.current_date(),
        ),
    )


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
