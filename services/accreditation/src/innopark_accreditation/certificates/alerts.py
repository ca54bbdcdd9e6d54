"""Certificates that need the park's attention, flagged in the API and mailed once each:

- `expiring`: an active certificate `CERTIFICATE_EXPIRY_NOTICE_DAYS` (60) days or fewer
  from its valid-until date (time to apply for renewal);
- `monitoring_overdue`: an active certificate without the annual monitoring report of a
  year of its validity, `MONITORING_REPORT_GRACE_DAYS` (90) after that year ended.

The flags are computed from the certificates as they are now (a filed report or a renewal
clears them). The expiry sweep (`jobs.py`) records each threshold crossed as a
`CertificateAlert` (`expiring:60d`, `monitoring_overdue:2025`), whose primary key makes it
once per certificate and threshold on any number of replicas, and in the same
transaction the e-mail to the park: its e-mail from the registry's park events, else the
association's accreditation desk (`ACCREDITATION_NOTIFICATION_EMAIL`), else none (the flag
stays in the API). The gateway's user events carry no e-mail addresses, so the park's
managers are not written to one by one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.notifications import mail_body
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import AccreditationSettings
from ..models import Certificate, CertificateAlert, MonitoringReport, known_parks, notifications
from .schemas import CertificateStatus

EXPIRING, MONITORING_OVERDUE = "expiring", "monitoring_overdue"


@dataclass(frozen=True)
class Alert:
    certificate: Certificate
    kind: str  # expiring | monitoring_overdue
    due_on: date  # the valid-until date, or the day the report was due
    year: int | None = None  # the report's year (monitoring_overdue)
    notified_at: datetime | None = None

    def key(self, settings: AccreditationSettings) -> str:
        if self.kind == EXPIRING:
            return f"{EXPIRING}:{settings.certificate_expiry_notice_days}d"
        return f"{MONITORING_OVERDUE}:{self.year}"


def report_due_on(year: int, settings: AccreditationSettings) -> date:
    """The day the monitoring report of `year` is overdue from."""
    return date(year + 1, 1, 1) + timedelta(days=settings.monitoring_report_grace_days)


def _last_year_due(today: date, settings: AccreditationSettings) -> int:
    """The latest year whose report is due by `today`."""
    return today.year - 1 if today >= report_due_on(today.year - 1, settings) else today.year - 2


async def current_alerts(
    session: AsyncSession,
    *,
    today: date,
    settings: AccreditationSettings,
    park_id: uuid.UUID | None = None,
) -> list[Alert]:
    """Every alert of the active certificates (of `park_id`) as of `today`."""
    active = Certificate.status == CertificateStatus.ACTIVE
    horizon = today + timedelta(days=settings.certificate_expiry_notice_days)
    expiring = sa.select(Certificate).where(active, Certificate.valid_until <= horizon)
    # One row per year of the validity whose report is due by now.
    years = (
        sa.func.generate_series(
            sa.cast(sa.extract("year", Certificate.issued_on), sa.Integer),
            sa.func.least(
                sa.cast(sa.extract("year", Certificate.valid_until), sa.Integer),
                _last_year_due(today, settings),
            ),
        )
        .table_valued("report_year")
        .render_derived(name="report_years")
        .lateral()
    )
    year = years.c.report_year
    overdue = (
        sa.select(Certificate, year)
        .join(years, sa.true())
        .where(
            active,
            ~sa.exists().where(
                MonitoringReport.certificate_id == Certificate.id, MonitoringReport.year == year
            ),
        )
    )
    if park_id is not None:
        expiring = expiring.where(Certificate.park_id == park_id)
        overdue = overdue.where(Certificate.park_id == park_id)
    alerts = [
        Alert(cert, EXPIRING, cert.valid_until)
        for cert in (await session.scalars(expiring.order_by(Certificate.valid_until))).all()
    ]
    rows = await session.execute(overdue.order_by(Certificate.number, year))
    for cert, report_year in rows.all():
        due_on = report_due_on(report_year, settings)
        alerts.append(Alert(cert, MONITORING_OVERDUE, due_on, report_year))
    notified = await _notified(session, [a.certificate.id for a in alerts])
    return [
        Alert(
            a.certificate,
            a.kind,
            a.due_on,
            a.year,
            notified.get((a.certificate.id, a.key(settings))),
        )
        for a in alerts
    ]


async def _notified(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], datetime]:
    if not ids:
        return {}
    rows = await session.execute(
        sa.select(
            CertificateAlert.certificate_id, CertificateAlert.alert, CertificateAlert.raised_at
        ).where(
            CertificateAlert.certificate_id.in_(ids),
            CertificateAlert.notification_id.is_not(None),
        )
    )
    return {(r.certificate_id, r.alert): r.raised_at for r in rows}


def visible_alerts(principal: Principal, park_id: uuid.UUID | None) -> uuid.UUID | None:
    """The park whose alerts `principal` reads: its own for a manager; any (or all) for
    the association."""
    return park_id if principal.is_operator else principal.park_id


# -- the sweep: record each threshold once, and tell the park --------------------------


async def raise_alerts(
    *, session: AsyncSession, today: date, settings: AccreditationSettings
) -> int:
    """Record the alerts not recorded yet, each with its e-mail; how many were new."""
    raised = 0
    for alert in await current_alerts(session, today=today, settings=settings):
        if alert.notified_at is not None:
            continue  # told already (one recorded without an address is skipped below)
        inserted = await session.execute(
            pg_insert(CertificateAlert)
            .values(certificate_id=alert.certificate.id, alert=alert.key(settings))
            .on_conflict_do_nothing()
            .returning(CertificateAlert.alert)
        )
        if inserted.first() is None:
            continue  # another replica recorded it meanwhile
        notification_id = await _tell_park(session, alert, today=today, settings=settings)
        await session.execute(
            sa.update(CertificateAlert)
            .where(
                CertificateAlert.certificate_id == alert.certificate.id,
                CertificateAlert.alert == alert.key(settings),
            )
            .values(notification_id=notification_id)
        )
        raised += 1
    return raised


async def _tell_park(
    session: AsyncSession, alert: Alert, *, today: date, settings: AccreditationSettings
) -> uuid.UUID | None:
    cert = alert.certificate
    park_email = await session.scalar(
        sa.select(known_parks.c.email).where(known_parks.c.park_id == cert.park_id)
    )
    links = {"The certificate": f"/api/v1/certificates/{cert.number}"}
    if alert.kind == EXPIRING:
        days = (cert.valid_until - today).days
        subject = f"Certificate {cert.number} expires on {cert.valid_until.isoformat()}"
        paragraphs = [
            f"The accreditation certificate {cert.number} of {cert.park_name} is valid until "
            f"{cert.valid_until.isoformat()}, {days} days from now.",
            "To stay accredited without a gap, apply for renewal now: the assessment takes "
            "time, and the new certificate replaces this one when it is granted.",
        ]
        links["Apply for renewal"] = "/api/v1/accreditation/applications"
    else:
        subject = f"Certificate {cert.number}: the {alert.year} monitoring report is overdue"
        paragraphs = [
            f"The annual monitoring report of {cert.park_name} for {alert.year}, under "
            f"certificate {cert.number}, was due by {alert.due_on.isoformat()} and has not "
            "been filed.",
            "Please file it: a certificate whose monitoring lapses may be suspended.",
        ]
        links["File the report"] = f"/api/v1/certificates/{cert.number}/monitoring-reports"
    return await notifications.add(
        session,
        kind=f"certificate.{alert.kind}",
        to=park_email or settings.accreditation_notification_email,
        subject=subject,
        body=mail_body(f"Dear colleagues at {cert.park_name},", paragraphs, links=links),
        key=f"certificate:{cert.id}:{alert.key(settings)}",
    )
