"""The park read model and each park's accreditation, in process."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from innopark_accreditation import events
from innopark_accreditation.certificates import service as certificates
from innopark_accreditation.parks import service as parks
from innopark_accreditation.parks.presenters import present_park_accreditation
from innopark_shared.auth import Principal, Role
from innopark_shared.consumer import HandlerContext
from innopark_shared.contracts import ParkCreatedV1, ParkRemovedV1, ParkUpdatedV1
from innopark_shared.errors import NotFound
from innopark_shared.kafka import Envelope

OPERATOR = Principal(subject="operator-1", role=Role.OPERATOR)


def snapshot(cls=ParkCreatedV1, **fields):
    return cls(
        **{
            "park_id": uuid.uuid4(),
            "name": "Technopolis Himgrad",
            "kind": "technopolis",
            "country": "RU",
            "region": "Tatarstan",
            "created_at": datetime.now(UTC),
            **fields,
        }
    )


async def deliver(session, event, at: datetime) -> None:
    """As the consumer runner does: the handler events.py subscribes for the type."""
    handler = events.subscriptions.get(event.event_type)[1]
    envelope = Envelope(id=str(uuid.uuid4()), type=event.event_type, source="/test", time=at)
    await handler(event, HandlerContext(session=session, envelope=envelope))


async def test_park_events_keep_the_read_model_later_events_winning(db_session):
    now = datetime.now(UTC)
    created = snapshot()
    await deliver(db_session, created, now)
    assert (await parks.known_park(db_session, created.park_id)).name == "Technopolis Himgrad"
    renamed = snapshot(ParkUpdatedV1, park_id=created.park_id, name="Himgrad")
    await deliver(db_session, renamed, now + timedelta(seconds=2))
    stale = snapshot(ParkUpdatedV1, park_id=created.park_id, name="Old name")
    await deliver(db_session, stale, now + timedelta(seconds=1))  # a late redelivery
    assert (await parks.known_park(db_session, created.park_id)).name == "Himgrad"
    removed = ParkRemovedV1(park_id=created.park_id, removed_at=now)
    await deliver(db_session, removed, now + timedelta(seconds=3))
    assert await parks.known_park(db_session, created.park_id) is None
    with pytest.raises(NotFound):
        await parks.get_park_accreditation(session=db_session, park_id=created.park_id)


async def test_a_parks_accreditation_follows_its_latest_certificate(world):
    park = await world.park("Gousev")
    state = await parks.get_park_accreditation(session=world.session, park_id=park)
    assert present_park_accreditation(state).status == "not_accredited"
    cert = await world.certificate(park, level="silver")
    read = present_park_accreditation(
        await parks.get_park_accreditation(session=world.session, park_id=park)
    )
    assert (read.status, read.certificate_number, read.level) == (
        "accredited",
        cert.number,
        "silver",
    )
    assert read.valid_until == cert.valid_until
    for action, expected in (
        (certificates.suspend_certificate, "suspended"),
        (certificates.revoke_certificate, "revoked"),
    ):
        await action(session=world.session, principal=OPERATOR, number=cert.number, reason="x")
        state = await parks.get_park_accreditation(session=world.session, park_id=park)
        assert present_park_accreditation(state).status == expected


async def test_the_public_list_of_accredited_parks(world):
    accredited = await world.park("A accredited")
    await world.certificate(accredited)
    plain = await world.park("A plain")
    suspended = await world.park("A suspended")
    cert = await world.certificate(suspended)
    await certificates.suspend_certificate(
        session=world.session, principal=OPERATOR, number=cert.number, reason="x"
    )

    async def all_of(accredited_filter):
        found, cursor = [], None
        while True:
            page = await parks.list_park_accreditations(
                session=world.session, accredited=accredited_filter, limit=1, cursor=cursor
            )
            found += [p.park_id for p in page.items]
            if not (cursor := page.next_cursor):
                return found

    yes = await all_of(True)
    assert accredited in yes and plain not in yes and suspended not in yes
    no = await all_of(False)
    assert plain in no and suspended in no and accredited not in no
    everyone = await all_of(None)
    assert {accredited, plain, suspended} <= set(everyone)
    names = [
        (await parks.get_park_accreditation(session=world.session, park_id=p)).park_name
        for p in everyone
    ]
    assert names == sorted(names)  # by name, then id
