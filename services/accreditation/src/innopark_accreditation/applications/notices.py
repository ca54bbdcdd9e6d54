"""What a park is told by e-mail about its application: the decision (granted with its
level and certificate, conditional with its conditions, or refused with the reasons).
Recorded in the transaction of the decision itself (`innopark_shared.notifications`), to
the park's e-mail as the registry gave it; a park without one is not mailed (the
decision is in the API either way)."""

from __future__ import annotations

import sqlalchemy as sa
from innopark_shared.notifications import mail_body
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Application, Certificate, known_parks, notifications
from .schemas import Outcome

OUTCOME_WORDS = {
    Outcome.GRANTED: "granted",
    Outcome.CONDITIONAL: "granted on conditions",
    Outcome.REFUSED: "refused",
}


async def application_decided(session: AsyncSession, app: Application) -> None:
    park = (
        await session.execute(
            sa.select(known_parks.c.name, known_parks.c.email).where(
                known_parks.c.park_id == app.park_id
            )
        )
    ).one_or_none()
    if park is None:
        return
    outcome = Outcome(app.outcome)
    paragraphs = [
        f"The association has decided on the accreditation application of {park.name}: "
        f"it is {OUTCOME_WORDS[outcome]}."
    ]
    links = {"The application": f"/api/v1/accreditation/applications/{app.id}"}
    if app.certificate_id is not None:
        number = await session.scalar(
            sa.select(Certificate.number).where(Certificate.id == app.certificate_id)
        )
        paragraphs.append(f"Certificate {number}, level {app.level}, is issued to the park.")
        links["The certificate"] = f"/api/v1/certificates/{number}"
    if app.conditions:
        paragraphs.append(f"Conditions: {app.conditions}")
    if app.reasons:
        paragraphs.append(f"Reasons: {app.reasons}")
    await notifications.add(
        session,
        kind=f"application.{outcome}",
        to=park.email,
        subject=f"Accreditation of {park.name}: {OUTCOME_WORDS[outcome]}",
        body=mail_body(f"Dear colleagues at {park.name},", paragraphs, links=links),
        key=f"application:{app.id}:decided",
    )
