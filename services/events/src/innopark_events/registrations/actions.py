"""What can happen to a registration, and the one way its status changes: `move` sets the
status and writes the event that announces it, and the e-mail that tells the registrant
(`notices.py`), in the caller's transaction."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from innopark_shared.contracts.events import (
    RegistrationAttendedV1,
    RegistrationCancelledV1,
    RegistrationConfirmedV1,
    RegistrationPendingV1,
    RegistrationRejectedV1,
    RegistrationWaitlistedV1,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import LIVE, Registration, RegistrationStatus, outbox
from . import notices

S = RegistrationStatus


class RegistrationAction(StrEnum):
    REGISTER = "register"  # -> pending (moderated), confirmed, or waitlisted (full)
    CONFIRM = "confirm"  # pending -> confirmed, or waitlisted when the event is full
    PROMOTE = "promote"  # waitlisted -> confirmed: a seat became free
    REJECT = "reject"  # pending | waitlisted -> rejected
    CANCEL = "cancel"  # pending | confirmed | waitlisted -> cancelled
    CHECK_IN = "check_in"  # confirmed -> attended


# The statuses each action starts from.
ALLOWED_FROM: dict[RegistrationAction, frozenset[RegistrationStatus]] = {
    RegistrationAction.CONFIRM: frozenset({S.PENDING}),
    RegistrationAction.PROMOTE: frozenset({S.WAITLISTED}),
    RegistrationAction.REJECT: frozenset({S.PENDING, S.WAITLISTED}),
    RegistrationAction.CANCEL: LIVE,
    RegistrationAction.CHECK_IN: frozenset({S.CONFIRMED}),
}

# The event that announces each status a registration reaches.
ANNOUNCED_BY = {
    S.PENDING: RegistrationPendingV1,
    S.CONFIRMED: RegistrationConfirmedV1,
    S.WAITLISTED: RegistrationWaitlistedV1,
    S.REJECTED: RegistrationRejectedV1,
    S.CANCELLED: RegistrationCancelledV1,
    S.ATTENDED: RegistrationAttendedV1,
}


def new_ticket_code() -> str:
    return secrets.token_urlsafe(12)


async def announce(session: AsyncSession, registration: Registration, **extra: Any) -> None:
    """Write the event of the registration's current status (no personal data)."""
    event_cls = ANNOUNCED_BY[RegistrationStatus(registration.status)]
    await outbox.add(
        session,
        event_cls(
            registration_id=registration.id,
            event_id=registration.event_id,
            organisation=registration.organisation,
            occurred_at=registration.updated_at,
            **extra,
        ),
    )


async def move(
    session: AsyncSession,
    registration: Registration,
    action: RegistrationAction,
    to: RegistrationStatus,
    *,
    at: datetime | None = None,
    **extra: Any,
) -> None:
    """`registration` goes to `to` by `action` (the caller has checked it may): a confirmed
    one gets its ticket code; the change is flushed and announced."""
    previous = registration.status
    registration.status = to.value
    registration.updated_at = at or datetime.now(UTC)
    if to is S.CONFIRMED:
        registration.ticket_code = registration.ticket_code or new_ticket_code()
        extra["promoted_from_waitlist"] = action is RegistrationAction.PROMOTE
    if to is S.CANCELLED:
        extra["previous_status"] = previous
    await session.flush()
    await announce(session, registration, **extra)
    await notices.tell_registrant(session, registration, action, **extra)
