"""The parks' accreditation read model, fed by certificate events (`apply_certificate`).

The rule: a park shows one current certificate. An event of that same certificate applies
unless it is older than the last one applied. An event of another certificate replaces the
current one when it is active (a renewal), or when it is not active but the current one
is not active either and the event is not older."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from innopark_registry.events import on_certificate_changed, subscriptions
from innopark_registry.parks import queries
from innopark_registry.parks.accreditation import apply_certificate, current_accreditation
from innopark_registry.parks.presenters import present_park
from innopark_registry.parks.schemas import ParkFilters
from innopark_shared.contracts.accreditation import (
    CertificateAmendedV1,
    CertificateExpiredV1,
    CertificateGrantedV1,
    CertificateReinstatedV1,
    CertificateRenewedV1,
    CertificateRevokedV1,
    CertificateSuspendedV1,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TODAY = date.today()


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def certificate(park_id: uuid.UUID, **overrides):
    state = {
        "certificate_id": uuid.uuid4(),
        "number": f"ATP-{uuid.uuid4().hex[:6]}",
        "park_id": park_id,
        "level": "A",
        "issued_on": TODAY - timedelta(days=30),
        "valid_until": TODAY + timedelta(days=1000),
    }
    state.update(overrides)
    return state


async def apply(db_session, cls, state, status, at, **extra):
    await apply_certificate(
        session=db_session, event=cls(**state, **extra, status=status, occurred_at=at)
    )


async def test_every_certificate_event_has_the_handler():
    for cls in (
        CertificateGrantedV1,
        CertificateRenewedV1,
        CertificateSuspendedV1,
        CertificateRevokedV1,
        CertificateExpiredV1,
        CertificateReinstatedV1,
        CertificateAmendedV1,
    ):
        assert subscriptions.get(cls.event_type) == (cls, on_certificate_changed)


async def test_the_lifecycle_of_one_certificate(db_session, new_park):
    park = await new_park()
    assert current_accreditation(park).status == "not_accredited"
    cert = certificate(park.id)

    await apply(db_session, CertificateGrantedV1, cert, "active", minutes(0))
    shown = current_accreditation(park)
    assert (shown.status, shown.certificate_number, shown.level) == (
        "active",
        cert["number"],
        "A",
    )
    assert park.version == 2  # the read model bumps the version: an ETag sees it

    await apply(db_session, CertificateSuspendedV1, cert, "suspended", minutes(1), reason="x")
    assert current_accreditation(park).status == "suspended"
    await apply(db_session, CertificateReinstatedV1, cert, "active", minutes(2))
    assert current_accreditation(park).status == "active"

    later = TODAY + timedelta(days=2000)
    amended = {**cert, "valid_until": later}
    await apply(db_session, CertificateAmendedV1, amended, "active", minutes(3))
    assert current_accreditation(park).valid_until == later

    await apply(db_session, CertificateRevokedV1, amended, "revoked", minutes(4), reason="fraud")
    assert current_accreditation(park).status == "revoked"
    assert present_park(park).accreditation.status == "revoked"


async def test_an_older_event_of_the_same_certificate_never_overwrites(db_session, new_park):
    park = await new_park()
    cert = certificate(park.id)
    await apply(db_session, CertificateGrantedV1, cert, "active", minutes(0))
    await apply(db_session, CertificateSuspendedV1, cert, "suspended", minutes(5))

    # The reinstatement happened before the suspension but arrives after it.
    await apply(db_session, CertificateReinstatedV1, cert, "active", minutes(3))
    assert current_accreditation(park).status == "suspended"
    late_amendment = {**cert, "level": "B"}
    await apply(db_session, CertificateAmendedV1, late_amendment, "active", minutes(4))
    assert current_accreditation(park).level == "A"
    assert park.accreditation_changed_at == minutes(5)

    # An event at the same instant is not older: it applies.
    await apply(db_session, CertificateRevokedV1, cert, "revoked", minutes(5))
    assert current_accreditation(park).status == "revoked"


async def test_a_renewal_replaces_the_current_certificate(db_session, new_park):
    park = await new_park()
    old = certificate(park.id)
    await apply(db_session, CertificateGrantedV1, old, "active", minutes(0))
    new = certificate(park.id, level="B")
    await apply(
        db_session,
        CertificateRenewedV1,
        new,
        "active",
        minutes(10),
        previous_certificate_id=old["certificate_id"],
    )
    assert park.accreditation_certificate_id == new["certificate_id"]
    assert current_accreditation(park).certificate_number == new["number"]

    # The old certificate expiring afterwards does not take the renewal away ...
    await apply(db_session, CertificateExpiredV1, old, "expired", minutes(20))
    assert (current_accreditation(park).status, park.accreditation_certificate_id) == (
        "active",
        new["certificate_id"],
    )
    # ... and neither does it being revoked.
    await apply(db_session, CertificateRevokedV1, old, "revoked", minutes(21))
    assert current_accreditation(park).certificate_number == new["number"]


async def test_another_certificate_that_is_not_active(db_session, new_park):
    park = await new_park()
    current = certificate(park.id)
    await apply(db_session, CertificateGrantedV1, current, "active", minutes(0))
    await apply(db_session, CertificateSuspendedV1, current, "suspended", minutes(10))

    other = certificate(park.id)
    # Older than what the park shows: ignored.
    await apply(db_session, CertificateRevokedV1, other, "revoked", minutes(5))
    assert park.accreditation_certificate_id == current["certificate_id"]
    # Newer, and the current one is not active either: it becomes the one shown.
    await apply(db_session, CertificateExpiredV1, other, "expired", minutes(15))
    assert (park.accreditation_certificate_id, current_accreditation(park).status) == (
        other["certificate_id"],
        "expired",
    )
    # An active certificate replaces a current one that is not active.
    await apply(db_session, CertificateReinstatedV1, current, "active", minutes(20))
    assert park.accreditation_certificate_id == current["certificate_id"]
    assert current_accreditation(park).status == "active"


async def test_an_active_certificate_past_its_validity_shows_expired(db_session, new_park):
    where = f"Region {uuid.uuid4().hex[:8]}"
    lapsed, valid, never = [await new_park(region=where) for _ in range(3)]
    await apply(
        db_session,
        CertificateGrantedV1,
        certificate(lapsed.id, valid_until=TODAY - timedelta(days=1)),
        "active",
        minutes(0),
    )
    await apply(db_session, CertificateGrantedV1, certificate(valid.id), "active", minutes(0))
    # The expiry event may still be on its way; the park shows it expired meanwhile.
    assert current_accreditation(lapsed).status == "expired"
    assert current_accreditation(lapsed, today=TODAY - timedelta(days=2)).status == "active"

    async def listed(accredited: bool) -> set[uuid.UUID]:
        page = await queries.list_parks(
            session=db_session,
            filters=ParkFilters(region=where, accredited=accredited),
            sort=None,
            limit=10,
            cursor=None,
        )
        return {p.id for p in page.items}

    assert await listed(True) == {valid.id}
    assert await listed(False) == {lapsed.id, never.id}


async def test_an_event_for_an_unknown_park_is_ignored(db_session, outbox):
    await apply(db_session, CertificateGrantedV1, certificate(uuid.uuid4()), "active", minutes(0))
    assert await outbox.types() == []
