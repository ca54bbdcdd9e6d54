"""What a registrant is told by e-mail, and when: the registration was received, it is
confirmed, a seat came free (promoted from the waitlist), the event was cancelled.

Written by `actions.move` and `service.register` in the transaction of the change itself
(`innopark_shared.notifications`), so a registrant hears of each change once and of no
change that was rolled back. The token is never in a mail (it is shown once, at
registration); the links lead to the event and to the registration, which the registrant
reads with the token or by logging in.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from innopark_shared.notifications import mail_body
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Event, Registration, RegistrationStatus, notifications
from . import actions  # `actions.move` calls in here: the names are read at call time

S = RegistrationStatus


def _when(event: Event) -> str:
    """The start in the event's own time zone, as people there read it."""
    try:
        local = event.starts_at.astimezone(ZoneInfo(event.timezone))
    except (KeyError, ValueError):
        local = event.starts_at
    return local.strftime("%d %B %Y, %H:%M") + f" ({event.timezone})"


def _where(event: Event) -> str:
    place = ", ".join(p for p in (event.venue, event.city, event.country) if p)
    if event.online_url:
        place = f"{place} and online" if place else "online"
    return place or "to be announced"


def _links(event: Event, registration: Registration) -> dict[str, str]:
    return {
        "The event": f"/api/v1/events/{event.id}",
        "Your registration": f"/api/v1/events/{event.id}/registrations/{registration.id}",
    }


def _ticket(registration: Registration) -> str:
    return (
        f"Your ticket code is {registration.ticket_code}: show it at the entrance "
        "(or in the online session) to be checked in."
    )


def _compose(registration: Registration, event: Event, action: actions.RegistrationAction, **extra):
    """(kind, subject, paragraphs) for what happened, or None if nothing is told."""
    A = actions.RegistrationAction
    title, status = event.title, RegistrationStatus(registration.status)
    facts = f"{title}\n{_when(event)}\n{_where(event)}"
    if action is A.REGISTER:
        state = {
            S.PENDING: "The organisers review registrations for this event: we will write "
            "again once they have decided.",
            S.CONFIRMED: "Your place is confirmed. " + _ticket(registration),
            S.WAITLISTED: "The event is full, so you are on the waitlist. If a seat becomes "
            "free it goes to the first in line, and we will write to you at once.",
        }.get(status)
        if state is None:
            return None
        return "registration.received", f"Registration received: {title}", [facts, state]
    if action is A.CONFIRM and status is S.CONFIRMED:
        return (
            "registration.confirmed",
            f"Registration confirmed: {title}",
            ["The organisers have approved your registration for", facts, _ticket(registration)],
        )
    if action is A.CONFIRM and status is S.WAITLISTED:
        return (
            "registration.waitlisted",
            f"Registration approved, on the waitlist: {title}",
            [
                "The organisers have approved your registration for",
                facts,
                "The event is full: you are on the waitlist, and we will write to you as "
                "soon as a seat becomes free.",
            ],
        )
    if action is A.PROMOTE:
        return (
            "registration.promoted",
            f"A seat is yours: {title}",
            [
                "A seat became free and you were next on the waitlist for",
                facts,
                "Your place is confirmed. " + _ticket(registration),
            ],
        )
    if action is A.CANCEL and extra.get("by_event_cancellation"):
        reason = f"The organisers' reason: {event.cancellation_reason}"
        return (
            "event.cancelled",
            f"Cancelled: {title}",
            [
                "We are sorry to tell you that this event has been cancelled:",
                facts,
                reason if event.cancellation_reason else "",
                "Your registration is cancelled with it; there is nothing you need to do.",
            ],
        )
    return None


async def tell_registrant(
    session: AsyncSession,
    registration: Registration,
    action: actions.RegistrationAction,
    *,
    at: datetime | None = None,
    **extra: object,
) -> None:
    """Record the e-mail that tells the registrant what `action` did (if anything is told),
    in the caller's transaction."""
    event = await session.get(Event, registration.event_id)
    assert event is not None  # a registration's event is never deleted before it
    composed = _compose(registration, event, action, **extra)
    if composed is None:
        return
    kind, subject, paragraphs = composed
    await notifications.add(
        session,
        kind=kind,
        to=registration.email,
        subject=subject,
        body=mail_body(
            f"Dear {registration.full_name},", paragraphs, links=_links(event, registration)
        ),
    )
