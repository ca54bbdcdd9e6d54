"""iCalendar (RFC 5545) for one event and for the feed of upcoming public events: local
times with TZID and a VTIMEZONE per zone, so calendars keep each event's time zone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar

from ..models import Event, EventStatus

PRODID = "-//Innopark//Events//EN"


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
        vevent.add(
            "organizer", f"mailto:{organiser_email}", parameters={"CN": event.organiser_name}
        )
    return vevent


def calendar_of(
    events: Iterable[Event], *, base_url: str, name: str, organiser_email: str | None = None
) -> bytes:
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
