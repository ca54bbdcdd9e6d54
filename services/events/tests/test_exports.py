"""Organiser exports: iCalendar (one event and the public feed) keeping the event's time
zone, and the streamed attendee CSV."""

import csv
import io
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar


async def test_event_ics_keeps_time_zone(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    moscow = ZoneInfo("Europe/Moscow")
    starts = datetime(2031, 11, 28, 10, 0, tzinfo=moscow)
    event = await h.published_event(
        client,
        operator,
        timezone="Europe/Moscow",
        venue="Expoforum",
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=8)).isoformat(),
    )

    for kwargs in ({"headers": {"Accept": "text/calendar"}}, {"params": {"format": "ics"}}):
        answer = await client.get(f"/api/v1/events/{event['id']}", **kwargs)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/calendar")
        cal = icalendar.Calendar.from_ical(answer.content)
        [vevent] = cal.events
        assert str(vevent["summary"]) == event["title"]
        assert vevent.start == starts and str(vevent.start.tzinfo) == "Europe/Moscow"
        assert "TZID=Europe/Moscow" in answer.text
        assert [tz["tzid"] for tz in cal.timezones] == ["Europe/Moscow"]
        assert "Expoforum" in str(vevent["location"])
        assert str(vevent["organizer"]) == "mailto:events@innopark.example"
        assert str(vevent["status"]) == "CONFIRMED"
    # JSON stays the default.
    assert (await client.get(f"/api/v1/events/{event['id']}")).json()["id"] == event["id"]


async def test_feed_lists_upcoming_public_events_only(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    public = await h.published_event(client, operator, timezone="Asia/Shanghai", type="study_tour")
    members = await h.published_event(client, operator, audience="members")
    draft = (await client.post("/api/v1/events", json=h.event_body(), headers=operator)).json()
    called_off = await h.published_event(client, operator)
    await client.post(f"/api/v1/events/{called_off['id']}/cancel", headers=operator)
    answer = await client.get("/api/v1/events", headers={"Accept": "text/calendar"})
    assert answer.status_code == 200
    cal = icalendar.Calendar.from_ical(answer.content)
    uids = {str(e["uid"]) for e in cal.events}
    assert f"{public['id']}@events.innopark" in uids
    assert f"{members['id']}@events.innopark" not in uids
    assert f"{draft['id']}@events.innopark" not in uids
    # Subscribers learn of a cancellation: the event stays in the feed, marked so.
    cancelled = next(e for e in cal.events if str(e["uid"]).startswith(called_off["id"]))
    assert str(cancelled["status"]) == "CANCELLED"
    ours = next(e for e in cal.events if str(e["uid"]).startswith(public["id"]))
    assert str(ours.start.tzinfo) == "Asia/Shanghai"
    assert "Asia/Shanghai" in {str(tz["tzid"]) for tz in cal.timezones}


async def test_attendee_csv_is_streamed_to_organisers_only(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    event = await h.published_event(client, operator, capacity=3)
    url = f"/api/v1/events/{event['id']}/registrations"
    people = [h.person() for _ in range(4)]
    people[0]["organisation"] = '=HYPERLINK("http://evil")'
    for p in people:
        assert (await client.post(url, json=p)).status_code == 201

    async with client.stream("GET", url, headers={**operator, "Accept": "text/csv"}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        assert "content-length" not in answer.headers  # streamed
        text = (await answer.aread()).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["email"] for r in rows] == [p["email"] for p in people]
    assert [r["status"] for r in rows] == ["confirmed"] * 3 + ["waitlisted"]
    assert all(r["ticket_code"] for r in rows[:3])
    assert rows[0]["organisation"].startswith("'=")  # no formula injection

    plain = await client.get(url, params={"format": "csv"}, headers=operator)
    assert plain.status_code == 200 and plain.text == text
    stranger = token_issuer.headers("park_manager", park_id=uuid.uuid4())
    assert (await client.get(url, params={"format": "csv"}, headers=stranger)).status_code == 403
    assert (await client.get(url, params={"format": "csv"})).status_code == 401

    page = (await client.get(url, params={"limit": 3}, headers=operator)).json()
    rest = (
        await client.get(url, params={"limit": 3, "cursor": page["next_cursor"]}, headers=operator)
    ).json()
    assert len(page["items"]) == 3 and len(rest["items"]) == 1 and rest["next_cursor"] is None
