"""The host-park read model in-process: who counts as a member of the association, kept
in step with the registry's park and resident events (later events win)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from innopark_events import hostparks
from innopark_events.models import known_parks
from innopark_shared.auth import Role
from innopark_shared.contracts.registry import (
    ParkCreatedV1,
    ParkRemovedV1,
    ParkUpdatedV1,
    ResidentAdmittedV1,
    ResidentLeftV1,
)
from innopark_shared.readmodels.parks import apply_park_removed, apply_park_snapshot

T0 = datetime.now(UTC)


def park(park_id, membership, cls=ParkCreatedV1):
    return cls(
        park_id=park_id,
        name=f"Technopark {park_id.hex[:6]}",
        kind="technopark",
        country="RU",
        region="Kaliningrad",
        city="Gusev",
        specializations=["radio-electronics"],
        created_at=T0,
        membership_status=membership,
    )


async def test_membership_follows_the_registry(db_session, helpers):
    member, outsider, resident_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await apply_park_snapshot(db_session, known_parks, park(member, "active"), T0)
    await apply_park_snapshot(db_session, known_parks, park(outsider, None), T0)
    await hostparks.record_resident(
        db_session, ResidentAdmittedV1(resident_id=resident_id, park_id=member, name="R"), T0
    )

    def manager(park_id):
        return helpers.principal(Role.PARK_MANAGER, park_id=park_id)

    resident = helpers.principal(Role.RESIDENT, resident_id=resident_id)
    assert await hostparks.is_member_user(db_session, helpers.principal(Role.OPERATOR))
    assert await hostparks.is_member_user(db_session, manager(member))
    assert not await hostparks.is_member_user(db_session, manager(outsider))
    assert not await hostparks.is_member_user(db_session, manager(uuid.uuid4()))
    assert await hostparks.is_member_user(db_session, resident)
    assert not await hostparks.is_member_user(db_session, helpers.principal(Role.EXPERT))

    # An older update arriving late changes nothing; a newer one does.
    await apply_park_snapshot(
        db_session, known_parks, park(member, "suspended", ParkUpdatedV1), T0 - timedelta(minutes=5)
    )
    assert await hostparks.is_member_user(db_session, manager(member))
    await apply_park_snapshot(
        db_session, known_parks, park(member, "suspended", ParkUpdatedV1), T0 + timedelta(minutes=1)
    )
    assert not await hostparks.is_member_user(db_session, resident)

    await apply_park_snapshot(
        db_session, known_parks, park(outsider, "member", ParkUpdatedV1), T0 + timedelta(1)
    )
    assert await hostparks.is_member_user(db_session, manager(outsider))
    await apply_park_removed(
        db_session, known_parks, ParkRemovedV1(park_id=outsider, removed_at=T0), T0 + timedelta(2)
    )
    assert not await hostparks.is_member_user(db_session, manager(outsider))
    assert await hostparks.known_park(db_session, outsider) is None


async def test_a_resident_who_left_is_no_member(db_session, helpers):
    member, resident_id = uuid.uuid4(), uuid.uuid4()
    await apply_park_snapshot(db_session, known_parks, park(member, "member"), T0)
    await hostparks.record_resident(
        db_session, ResidentAdmittedV1(resident_id=resident_id, park_id=member, name="R"), T0
    )
    resident = helpers.principal(Role.RESIDENT, resident_id=resident_id)
    assert await hostparks.is_member_user(db_session, resident)
    await hostparks.record_resident_left(
        db_session,
        ResidentLeftV1(resident_id=resident_id, park_id=member, left_on=date.today()),
        T0 + timedelta(minutes=1),
    )
    assert not await hostparks.is_member_user(db_session, resident)
    # A redelivered admission older than the departure does not bring them back.
    await hostparks.record_resident(
        db_session, ResidentAdmittedV1(resident_id=resident_id, park_id=member, name="R"), T0
    )
    assert not await hostparks.is_member_user(db_session, resident)
