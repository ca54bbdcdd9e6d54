"""Parks joined with the certificate that decides their accreditation: the latest one."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from ..models import Certificate, known_parks


def latest_certificates() -> sa.Subquery:
    """Each park's most recent certificate."""
    return (
        sa.select(
            Certificate.park_id,
            Certificate.number,
            Certificate.status,
            Certificate.level,
            Certificate.valid_until,
        )
        .ext(distinct_on(Certificate.park_id))
        .order_by(Certificate.park_id, Certificate.created_at.desc())
        .subquery("latest")
    )


def parks_with_latest_certificate(latest: sa.Subquery) -> sa.Select:
    """Parks the registry has not removed, each with its latest certificate (or NULLs)."""
    return (
        sa.select(
            known_parks.c.park_id,
            known_parks.c.name,
            latest.c.number,
            latest.c.status,
            latest.c.level,
            latest.c.valid_until,
        )
        .select_from(known_parks.outerjoin(latest, latest.c.park_id == known_parks.c.park_id))
        .where(known_parks.c.removed.is_(False))
    )
