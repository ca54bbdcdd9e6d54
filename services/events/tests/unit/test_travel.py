"""Travel in-process: passport details private to the registrant and organisers, for
delegation visits and study tours only, and the invitation letter for a seated delegate."""

from __future__ import annotations

import pytest
from innopark_events.config import EventsSettings
from innopark_events.registrations import service as registrations
from innopark_events.travel import letters
from innopark_events.travel import service as travel
from innopark_events.travel.schemas import TravelDetailsWrite
from innopark_shared.errors import Conflict, InvalidTransition, NotFound
from pydantic import ValidationError

TRAVEL = {
    "passport_name": "LI WEI",
    "nationality": "CN",
    "date_of_birth": "1985-04-12",
    "passport_number": " E12345678 ",
    "passport_expires_on": "2033-01-01",
    "stay_from": "2031-06-01",
    "stay_to": "2031-06-08",
}
SETTINGS = EventsSettings(database_url="postgresql://unused/unused")


async def test_details_are_private_and_make_a_letter(db_session, operator, make_event, register):
    tour = await make_event(type="study_tour", capacity=1, title="Study tour: Finnish parks")
    li = await register(tour, travel=TRAVEL)
    queued = await register(tour, travel={**TRAVEL, "passport_name": "WANG FANG"})
    assert (li.registration.status, queued.registration.status) == ("confirmed", "waitlisted")

    ids = {"event_id": tour.id, "registration_id": li.registration.id}
    mine = await travel.get_travel_details(
        session=db_session, principal=None, token=li.token, **ids
    )
    assert mine.passport_number == "E12345678"  # stripped like every input
    by_organiser = await travel.get_travel_details(
        session=db_session, principal=operator, token=None, **ids
    )
    assert by_organiser.registration_id == li.registration.id
    for token in (queued.token, None, "guess"):
        with pytest.raises(NotFound):
            await travel.get_travel_details(session=db_session, principal=None, token=token, **ids)

    letter = await travel.invitation_letter(
        session=db_session, principal=None, token=li.token, **ids
    )
    pdf = letters.invitation_letter_pdf(letter, SETTINGS)
    assert pdf.startswith(b"%PDF") and b"Invitation letter: LI WEI" in pdf
    # The waitlisted delegate gets no letter until a seat is theirs.
    with pytest.raises(InvalidTransition):
        await travel.invitation_letter(
            session=db_session,
            principal=None,
            token=queued.token,
            event_id=tour.id,
            registration_id=queued.registration.id,
        )
    await registrations.cancel_registration(
        session=db_session, principal=None, token=li.token, **ids
    )
    promoted = await travel.invitation_letter(
        session=db_session,
        principal=None,
        token=queued.token,
        event_id=tour.id,
        registration_id=queued.registration.id,
    )
    assert promoted.details.passport_name == "WANG FANG"


async def test_details_only_for_delegations_and_tours(db_session, make_event, register):
    forum = await make_event(type="forum")
    reg = await register(forum)
    with pytest.raises(Conflict):
        await travel.put_travel_details(
            session=db_session,
            principal=None,
            token=reg.token,
            event_id=forum.id,
            registration_id=reg.registration.id,
            data=TravelDetailsWrite.model_validate(TRAVEL),
        )

    visit = await make_event(type="delegation_visit")
    later = await register(visit)
    ids = {"event_id": visit.id, "registration_id": later.registration.id}
    with pytest.raises(NotFound):
        await travel.get_travel_details(
            session=db_session, principal=None, token=later.token, **ids
        )
    saved = await travel.put_travel_details(
        session=db_session,
        principal=None,
        token=later.token,
        data=TravelDetailsWrite.model_validate(TRAVEL),
        **ids,
    )
    again = await travel.put_travel_details(
        session=db_session,
        principal=None,
        token=later.token,
        data=TravelDetailsWrite.model_validate({**TRAVEL, "passport_name": "ANNA IVANOVA"}),
        **ids,
    )
    assert saved.registration_id == again.registration_id
    assert again.passport_name == "ANNA IVANOVA"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"nationality": "China"}, "nationality"), ({"passport_number": "E1\x002345"}, None)],
)
def test_bad_details_are_refused(change, field):
    with pytest.raises(ValidationError) as refused:
        TravelDetailsWrite.model_validate({**TRAVEL, **change})
    if field:
        assert refused.value.errors()[0]["loc"] == (field,)


def test_dates_must_make_sense():
    with pytest.raises(ValidationError, match="stay_to"):
        TravelDetailsWrite.model_validate({**TRAVEL, "stay_to": "2031-05-01"})
    with pytest.raises(ValidationError, match="passport expires"):
        TravelDetailsWrite.model_validate({**TRAVEL, "passport_expires_on": "2031-06-02"})
