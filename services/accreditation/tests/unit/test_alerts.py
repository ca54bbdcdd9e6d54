"""Certificate alerts in process: expiring within 60 days, a monitoring report overdue;
flagged while they hold, mailed to the park once per certificate and threshold."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from innopark_accreditation.certificates import alerts, monitoring
from innopark_accreditation.certificates.schemas import MonitoringReportCreate
from innopark_accreditation.config import AccreditationSettings
from innopark_accreditation.models import known_parks
from innopark_shared.contracts import ParkCreatedV1
from innopark_shared.notifications import PUBLIC_BASE_URL
from innopark_shared.readmodels.parks import apply_park_snapshot

SETTINGS = AccreditationSettings(database_url="postgresql://unused/unused")


async def _park(world, email: str | None) -> uuid.UUID:
    park_id = uuid.uuid4()
    event = ParkCreatedV1(
        park_id=park_id,
        name=f"Technopark {park_id.hex[:6]}",
        kind="technopark",
        country="RU",
        region="Tatarstan",
        created_at=datetime.now(UTC),
        email=email,
    )
    await apply_park_snapshot(world.session, known_parks, event, event.created_at)
    return park_id


async def _alerts(world, today: date, park_id: uuid.UUID, settings=SETTINGS):
    found = await alerts.current_alerts(
        world.session, today=today, settings=settings, park_id=park_id
    )
    return [(a.kind, a.year) for a in found]


async def test_expiring_is_flagged_from_60_days_and_mailed_once(world, notifications):
    park = await _park(world, "office@park.example")
    cert = await world.certificate(park)
    day_61, day_60 = cert.valid_until - timedelta(days=61), cert.valid_until - timedelta(days=60)
    assert ("expiring", None) not in await _alerts(world, day_61, park)
    assert ("expiring", None) in await _alerts(world, day_60, park)

    for today in (day_61, day_60, day_60 + timedelta(days=10), cert.valid_until):
        await alerts.raise_alerts(session=world.session, today=today, settings=SETTINGS)
    [mail] = await notifications.all("certificate.expiring")
    assert mail.recipient == "office@park.example"
    assert mail.subject == f"Certificate {cert.number} expires on {cert.valid_until.isoformat()}"
    assert "60 days from now" in mail.body
    assert f"{PUBLIC_BASE_URL}/api/v1/certificates/{cert.number}" in mail.body
    found = await alerts.current_alerts(
        world.session, today=day_60 + timedelta(days=10), settings=SETTINGS, park_id=park
    )
    [flag] = [a for a in found if a.kind == "expiring"]
    assert flag.notified_at is not None  # the API shows the park was told


async def _file(world, cert, year: int) -> None:
    await monitoring.file_monitoring_report(
        session=world.session,
        principal=world.manager(cert.park_id),
        number=cert.number,
        data=MonitoringReportCreate(year=year, summary="A year of growth"),
    )


async def test_an_overdue_report_is_flagged_mailed_once_and_cleared_by_filing(world, notifications):
    park = await _park(world, None)  # the registry has no e-mail for it: the desk is told
    cert = await world.certificate(park)
    year = cert.issued_on.year
    due = alerts.report_due_on(year, SETTINGS)
    assert due == date(year + 1, 1, 1) + timedelta(days=90)
    assert await _alerts(world, due - timedelta(days=1), park) == []
    assert await _alerts(world, due, park) == [("monitoring_overdue", year)]

    desk = SETTINGS.model_copy(update={"accreditation_notification_email": "desk@atp.example"})
    assert await alerts.raise_alerts(session=world.session, today=due, settings=desk) == 1
    assert await alerts.raise_alerts(session=world.session, today=due, settings=desk) == 0
    [mail] = await notifications.all()
    assert (mail.kind, mail.recipient) == ("certificate.monitoring_overdue", "desk@atp.example")
    assert f"the {year} monitoring report is overdue" in mail.subject
    assert due.isoformat() in mail.body

    # A year later the next report is overdue too: a threshold of its own, mailed once.
    next_due = alerts.report_due_on(year + 1, SETTINGS)
    assert await _alerts(world, next_due, park) == [
        ("monitoring_overdue", year),
        ("monitoring_overdue", year + 1),
    ]
    assert await alerts.raise_alerts(session=world.session, today=next_due, settings=desk) == 1
    assert len(await notifications.all("certificate.monitoring_overdue")) == 2

    # The report filed (the year's own rule lets it be filed now), the flag is gone.
    await _file(world, cert, year)
    assert await _alerts(world, due, park) == []


async def test_without_any_address_the_alert_is_flagged_not_mailed(world, notifications):
    park = await _park(world, None)
    cert = await world.certificate(park)
    due = alerts.report_due_on(cert.issued_on.year, SETTINGS)
    assert await alerts.raise_alerts(session=world.session, today=due, settings=SETTINGS) == 1
    assert await notifications.all() == []
    [flag] = await alerts.current_alerts(world.session, today=due, settings=SETTINGS, park_id=park)
    assert flag.kind == "monitoring_overdue" and flag.notified_at is None
    # Recorded once all the same: a later sweep does not try again.
    assert await alerts.raise_alerts(session=world.session, today=due, settings=SETTINGS) == 0
