"""Resident rules in-process: admission and departure (and their events), one company per
canonical legal identifier, who changes what, and the list."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from innopark_registry.residents import queries
from innopark_registry.residents import service as residents
from innopark_registry.residents.exports import RESIDENT_CSV_COLUMNS, _resident_row
from innopark_registry.residents.presenters import CONTACT_FIELDS, present_resident
from innopark_registry.residents.schemas import (
    ResidentCreate,
    ResidentFilters,
    ResidentLeave,
    ResidentUpdate,
)
from innopark_shared.auth import Principal, Role
from innopark_shared.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from innopark_shared.http import etag_of

from .conftest import OPERATOR, company, manager_of


def number() -> str:
    return str(uuid.uuid4().int)[:13]


async def admit(db_session, park, principal=OPERATOR, **fields):
    body = {"name": "Company " + uuid.uuid4().hex[:6], "technologies": ["ai"], **fields}
    return await residents.admit_resident(
        session=db_session,
        principal=principal,
        park_id=park.id,
        data=ResidentCreate.model_validate(body),
    )


async def change(db_session, resident, principal=OPERATOR, if_match=None, **changes):
    return await residents.update_resident(
        session=db_session,
        principal=principal,
        resident_id=resident.id,
        data=ResidentUpdate.model_validate(changes),
        if_match=if_match,
    )


async def leave(db_session, resident, principal=OPERATOR, left_on=None):
    return await residents.record_departure(
        session=db_session,
        principal=principal,
        resident_id=resident.id,
        data=ResidentLeave(left_on=left_on),
        if_match=None,
    )


def test_the_legal_identifier_is_canonical():
    assert residents.canonical_legal_id("ru", "77 07-083.893/1") == "RU:77070838931"
    assert residents.canonical_legal_id("KZ", "ab 12") == "KZ:AB12"


async def test_admission_and_departure_are_events(db_session, outbox, new_park):
    park = await new_park()
    n = number()
    resident = await admit(
        db_session,
        park,
        name="ООО Полимер",
        legal_country="RU",
        registration_number=f"{n[:4]} {n[4:]}",
        technologies=["polymer recycling"],
    )
    assert (resident.status, resident.legal_id, resident.admitted_on) == (
        "active",
        f"RU:{n}",
        date.today(),
    )
    assert "polimer" in resident.search_names

    left = await leave(db_session, resident, left_on=date.today())
    assert (left.status, left.left_on, left.version) == ("left", date.today(), 2)
    with pytest.raises(InvalidTransition):
        await leave(db_session, resident)

    assert await outbox.types() == [
        "park.created.v1",
        "resident.admitted.v1",
        "resident.left.v1",
    ]
    admitted, gone = await outbox.events("resident.")
    assert admitted.key == gone.key == str(resident.id)
    assert (admitted.data["legal_id"], admitted.data["technologies"]) == (
        f"RU:{n}",
        ["polymer recycling"],
    )
    assert (gone.data["park_id"], gone.data["left_on"]) == (str(park.id), date.today().isoformat())


async def test_a_resident_cannot_leave_before_it_was_admitted(db_session, outbox, new_park):
    resident = await admit(db_session, await new_park(), admitted_on=date(2020, 5, 1))
    with pytest.raises(Unprocessable) as refused:
        await leave(db_session, resident, left_on=date(2020, 4, 30))
    assert refused.value.extensions["errors"][0]["field"] == "left_on"
    assert resident.status == "active"
    assert await outbox.events("resident.left") == []


async def test_one_resident_per_legal_identifier(db_session, outbox, new_park):
    park, elsewhere = await new_park(), await new_park()
    n = number()
    first = await admit(db_session, park, legal_country="RU", registration_number=n)

    # The same identifier written differently, in another park, is still the same company.
    with pytest.raises(Conflict) as taken:
        await admit(
            db_session, elsewhere, legal_country="RU", registration_number=f"{n[:3]}-{n[3:]}"
        )
    assert taken.value.extensions == {"legal_id": f"RU:{n}", "resident_id": str(first.id)}

    # Another country's register is another identifier ...
    second = await admit(db_session, elsewhere, legal_country="KZ", registration_number=n)
    assert second.legal_id == f"KZ:{n}"
    assert len(await outbox.events("resident.admitted")) == 2
    # ... but a change cannot take another company's identifier either.
    with pytest.raises(Conflict) as taken_by_change:
        await change(db_session, second, legal_country="RU")
    assert taken_by_change.value.extensions["resident_id"] == str(first.id)


async def test_legal_country_and_number_go_together(db_session, new_park):
    park = await new_park()
    with pytest.raises(Unprocessable) as alone:
        await admit(db_session, park, legal_country="RU")
    assert alone.value.extensions["errors"][0]["field"] == "registration_number"

    resident = await admit(db_session, park, legal_country="RU", registration_number=number())
    with pytest.raises(Unprocessable):
        await change(db_session, resident, registration_number=None)
    cleared = await change(db_session, resident, registration_number=None, legal_country=None)
    assert cleared.legal_id is None


async def test_who_changes_a_resident(db_session, outbox, new_park):
    park, other = await new_park(), await new_park()
    resident = await admit(db_session, park, principal=manager_of(park.id))
    with pytest.raises(Forbidden):
        await admit(db_session, other, principal=manager_of(park.id))
    with pytest.raises(Forbidden):
        await change(db_session, resident, manager_of(other.id), employees=1)
    with pytest.raises(Forbidden):
        await leave(db_session, resident, company(resident.id))

    itself = company(resident.id)
    changed = await change(db_session, resident, itself, description="We recycle", employees=12)
    assert (changed.employees, changed.version) == (12, 2)
    for restricted in ({"name": "Renamed"}, {"admitted_on": date(2001, 1, 1)}):
        with pytest.raises(Forbidden):
            await change(db_session, resident, itself, **restricted)
    stranger = await admit(db_session, park)
    with pytest.raises(Forbidden):
        await change(db_session, stranger, itself, employees=1)
    updated = await outbox.events("resident.updated")
    assert [e.data["description"] for e in updated] == ["We recycle"]


async def test_if_match_and_null_for_required_fields(db_session, new_park):
    resident = await admit(db_session, await new_park())
    stale = etag_of(resident.id, resident.version)
    await change(db_session, resident, if_match=stale, employees=5)
    with pytest.raises(PreconditionFailed):
        await change(db_session, resident, if_match=stale, employees=6)
    for field in sorted(ResidentUpdate.not_null):
        with pytest.raises(ValueError) as refused:
            ResidentUpdate.model_validate({field: None})
        assert refused.value.errors()[0]["loc"] == (field,)


async def test_list_filters_and_pages_in_name_order(db_session, new_park):
    park = await new_park()
    for name, tech, stage in [
        ("Gamma", ["ai"], "large"),
        ("Alpha", ["ai", "robotics"], "startup"),
        ("Beta", ["pharma"], "sme"),
        ("Delta", ["ai"], "sme"),
    ]:
        await admit(db_session, park, name=name, technologies=tech, stage=stage)

    names, cursor = [], None
    while True:
        page = await queries.list_residents(
            session=db_session,
            filters=ResidentFilters(park_id=park.id, technology=["ai"]),
            limit=2,
            cursor=cursor,
        )
        names += [r.name for r in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert names == ["Alpha", "Delta", "Gamma"]
    smes = await queries.list_residents(
        session=db_session,
        filters=ResidentFilters(park_id=park.id, stage="sme"),
        limit=10,
        cursor=None,
    )
    assert [r.name for r in smes.items] == ["Beta", "Delta"]
    with pytest.raises(NotFound):
        await queries.list_residents(
            session=db_session,
            filters=ResidentFilters(park_id=uuid.uuid4()),
            limit=10,
            cursor=None,
        )


async def test_admission_date_defaults_to_today_and_may_be_earlier(db_session, new_park):
    park = await new_park()
    earlier = date.today() - timedelta(days=400)
    assert (await admit(db_session, park, admitted_on=earlier)).admitted_on == earlier
    assert (await admit(db_session, park)).admitted_on == date.today()


async def test_contacts_only_for_the_association_the_park_and_the_company(db_session, new_park):
    park, other_park = await new_park(), await new_park()
    resident = await admit(db_session, park, contact_email="ceo@hidden.example")
    rival = await admit(db_session, park)
    insiders = [OPERATOR, manager_of(park.id), company(resident.id)]
    outsiders = [
        None,
        manager_of(other_park.id),
        company(rival.id),
        Principal(subject="p", role=Role.PARTNER, partner_id=uuid.uuid4()),
        Principal(subject="e", role=Role.EXPERT),
    ]
    for viewer in insiders:
        assert present_resident(resident, viewer).contact_email == "ceo@hidden.example"
    for viewer in outsiders:
        card = present_resident(resident, viewer)
        assert all(getattr(card, f) is None for f in CONTACT_FIELDS)
        assert "hidden.example" not in card.model_dump_json()
        assert card.name == resident.name  # the public card stays


async def test_the_csv_export_hides_contacts_the_same_way(db_session, new_park):
    park = await new_park()
    resident = await admit(db_session, park, contact_email="cto@hidden.example")
    column = RESIDENT_CSV_COLUMNS.index("contact_email")
    assert _resident_row(resident, None)[column] is None
    assert _resident_row(resident, manager_of(uuid.uuid4()))[column] is None
    assert _resident_row(resident, manager_of(park.id))[column] == "cto@hidden.example"
