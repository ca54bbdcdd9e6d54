"""Exports of events: iCalendar (one event, the public feed), attendee CSV, and visa
invitation letters as PDF. Pure functions of rows; the routes stream or return them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar
import sqlalchemy as sa
from fpdf import FPDF
from innopark_shared.csvstream import csv_chunks
from innopark_shared.db import Database

from .config import EventsSettings
from .models import Event, Registration, TravelDetails
from .schemas import EventStatus

PRODID = "-//Innopark//Events//EN"


# -- iCalendar -----------------------------------------------------------------------


def _vevent(event: Event, base_url: str, organiser_email: str | None) -> icalendar.Event:
    tz = ZoneInfo(event.timezone)
    vevent = icalendar.Event()
    vevent.add("uid", f"{event.id}@events.innopark")
    vevent.add("dtstamp", datetime.now(UTC))
    # Local times with TZID (and a VTIMEZONE below), so calendars keep the event's zone.
    vevent.add("dtstart", event.starts_at.astimezone(tz))
    vevent.add("dtend", event.ends_at.astimezone(tz))
    vevent.add("summary", event.title)
    if event.description:
        vevent.add("description", event.description)
    location = ", ".join(p for p in (event.venue, event.city, event.country) if p)
    if location:
        vevent.add("location", location)
    vevent.add("categories", [event.type])
    vevent.add("sequence", event.version)
    vevent.add("last-modified", event.updated_at)
    vevent.add("status", "CANCELLED" if event.status == EventStatus.CANCELLED else "CONFIRMED")
    vevent.add("url", f"{base_url.rstrip('/')}/api/v1/events/{event.id}")
    if event.organiser_name and organiser_email:
        vevent.add("organizer", f"mailto:{organiser_email}",
                   parameters={"CN": event.organiser_name})
    return vevent


def calendar_of(events: Iterable[Event], *, base_url: str, name: str,
                organiser_email: str | None = None) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    for event in events:
        cal.add_component(_vevent(event, base_url, organiser_email))
    cal.add_missing_timezones()
    return cal.to_ical()


# -- attendee CSV --------------------------------------------------------------------

CSV_COLUMNS = ["registration_id", "full_name", "email", "organisation", "position", "phone",
               "status", "ticket_code", "checked_in_at", "registered_at"]


async def attendee_csv(database: Database, event_id) -> AsyncIterator[bytes]:  # noqa: ANN001
    """CSV rows streamed from the database with a session of its own (the request's
    transaction has ended by the time the body is sent)."""

    async def rows() -> AsyncIterator[tuple]:
        stmt = (sa.select(Registration).where(Registration.event_id == event_id)
                .order_by(Registration.seq).execution_options(yield_per=500))
        async with database.transaction() as session:
            async for r in await session.stream_scalars(stmt):
                yield (r.id, r.full_name, r.email, r.organisation, r.position, r.phone,
                       r.status, r.ticket_code, r.checked_in_at, r.created_at)

    async for chunk in csv_chunks(CSV_COLUMNS, rows()):
        yield chunk


# -- invitation letters --------------------------------------------------------------


def invitation_letter_pdf(
    event: Event, registration: Registration, details: TravelDetails, settings: EventsSettings
) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    if os.path.exists(settings.letter_font_path):
        pdf.add_font("Letter", "", settings.letter_font_path)
        pdf.set_font("Letter", size=11)

        def text(s: str) -> str:
            return s
    else:
        pdf.set_font("Helvetica", size=11)

        def text(s: str) -> str:
            return s.encode("latin-1", "replace").decode("latin-1")

    pdf.set_title(f"Invitation letter: {details.passport_name}")
    pdf.set_subject(f"{event.title} ({details.passport_name})")
    pdf.set_author(settings.letter_issuer)
    pdf.set_creator("Innopark events")

    tz = ZoneInfo(event.timezone)
    starts = event.starts_at.astimezone(tz)
    ends = event.ends_at.astimezone(tz)
    place = ", ".join(p for p in (event.venue, event.city, event.country) if p) or "to be announced"
    kind = "delegation visit" if event.type == "delegation_visit" else "study tour"

    def line(s: str, h: float = 6) -> None:
        pdf.multi_cell(0, h, text(s), new_x="LMARGIN", new_y="NEXT")

    pdf.set_font_size(14)
    line(settings.letter_issuer, 8)
    pdf.set_font_size(11)
    line(f"Date: {datetime.now(tz).date().isoformat()}")
    line(f"Reference: {registration.id}")
    pdf.ln(6)
    pdf.set_font_size(13)
    line("LETTER OF INVITATION", 8)
    pdf.set_font_size(11)
    pdf.ln(2)
    line("To the consular section concerned,")
    pdf.ln(2)
    line(
        f"{settings.letter_issuer} invites the person named below to take part in the "
        f"{kind} \"{event.title}\", held in {place} from {starts:%d %B %Y} to "
        f"{ends:%d %B %Y}. We ask you to issue the visa needed for this stay."
    )
    pdf.ln(3)
    rows = [
        ("Name (as in passport)", details.passport_name),
        ("Nationality", details.nationality),
        ("Date of birth", details.date_of_birth.isoformat()),
        ("Passport number", details.passport_number),
        ("Passport valid until",
         details.passport_expires_on.isoformat() if details.passport_expires_on else "-"),
        ("Organisation", registration.organisation or "-"),
        ("Position", registration.position or "-"),
        ("Dates of stay", f"{details.stay_from.isoformat()} to {details.stay_to.isoformat()}"),
    ]
    for label, value in rows:
        pdf.cell(60, 7, text(label + ":"))
        pdf.cell(0, 7, text(str(value)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    line(
        "The association takes responsibility for the programme of the visit. The participant "
        "covers travel, accommodation and medical insurance unless agreed otherwise."
    )
    pdf.ln(10)
    line(settings.letter_signatory)
    line(settings.letter_issuer)
    return bytes(pdf.output())
