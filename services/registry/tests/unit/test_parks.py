"""Park rules in-process: parent links (no cycles), areas and coordinates, who changes
what, If-Match, removal, the events written, paging, and the change feed."""

from __future__ import annotations

import uuid

import pytest
from innopark_registry.changes import queries as changes
from innopark_registry.parks import queries, search
from innopark_registry.parks import service as parks
from innopark_registry.parks.schemas import ParkFilters, ParkSort, ParkUpdate
from innopark_shared.errors import Forbidden, InvalidTransition, PreconditionFailed, Unprocessable
from innopark_shared.http import etag_of
from innopark_shared.pagination import encode_cursor

from .conftest import OPERATOR, manager_of, park_create, region


def field_of(error: Unprocessable) -> str:
    return error.extensions["errors"][0]["field"]


def patch(**changes) -> ParkUpdate:
    return ParkUpdate.model_validate(changes)


async def update(db_session, park, principal=OPERATOR, if_match=None, **changes):
    return await parks.update_park(
        session=db_session,
        principal=principal,
        park_id=park.id,
        data=patch(**changes),
        if_match=if_match,
    )


async def test_create_writes_the_full_state(db_session, outbox, new_park):
    park = await new_park(name="Технополис «Химград»", city="Казань")
    assert park.version == 1 and park.change_seq > 0
    assert "himgrad" in park.search_names and "khimgrad" in park.search_names
    events = await outbox.events("park.created")
    assert [(e.key, e.data["name"], e.data["city"]) for e in events] == [
        (str(park.id), "Технополис «Химград»", "Казань")
    ]


async def test_a_park_cannot_be_its_own_parent(db_session, new_park):
    park = await new_park()
    with pytest.raises(Unprocessable) as refused:
        await update(db_session, park, parent_id=park.id)
    assert field_of(refused.value) == "parent_id"


async def test_parent_links_never_make_a_cycle(db_session, outbox, new_park):
    top = await new_park()
    middle = await new_park(kind="business_incubator", parent_id=top.id)
    bottom = await new_park(kind="engineering_centre", parent_id=middle.id)

    for child in (middle, bottom):  # directly or further down
        with pytest.raises(Unprocessable) as refused:
            await update(db_session, top, parent_id=child.id)
        assert field_of(refused.value) == "parent_id"
        assert "cycle" in refused.value.extensions["errors"][0]["message"]
    assert top.parent_id is None
    assert await outbox.types() == ["park.created.v1"] * 3

    moved = await update(db_session, bottom, parent_id=top.id)  # no cycle: allowed
    assert moved.parent_id == top.id and moved.version == 2


async def test_the_parent_must_be_a_live_park(db_session, new_park):
    with pytest.raises(Unprocessable) as unknown:
        await parks.create_park(session=db_session, data=park_create(parent_id=uuid.uuid4()))
    assert field_of(unknown.value) == "parent_id"

    removed = await new_park()
    await parks.remove_park(session=db_session, park_id=removed.id, if_match=None)
    with pytest.raises(Unprocessable):
        await new_park(parent_id=removed.id)


async def test_occupied_area_cannot_exceed_total_area(db_session, new_park):
    with pytest.raises(Unprocessable) as on_create:
        await new_park(total_area=1000, occupied_area=1000.5)
    assert field_of(on_create.value) == "occupied_area"

    park = await new_park(total_area=1000, occupied_area=1000)  # full is fine
    with pytest.raises(Unprocessable) as on_update:
        await update(db_session, park, total_area=999)
    assert field_of(on_update.value) == "occupied_area"
    assert (await update(db_session, park, occupied_area=None, total_area=10)).total_area == 10


async def test_coordinates_go_in_pairs(db_session, new_park):
    with pytest.raises(Unprocessable) as alone:
        await new_park(latitude=55.8)
    assert field_of(alone.value) == "latitude"
    park = await new_park(latitude=55.8, longitude=49.1)
    with pytest.raises(Unprocessable):
        await update(db_session, park, longitude=None)


async def test_managers_change_their_park_but_not_the_associations_fields(db_session, new_park):
    park, other = await new_park(), await new_park()
    manager = manager_of(park.id)

    changed = await update(db_session, park, manager, phone="+7 843 000")
    assert changed.phone == "+7 843 000"
    with pytest.raises(Forbidden):
        await update(db_session, other, manager, phone="+7")
    for field, value in [("membership_status", "member"), ("kind", "technopolis")]:
        with pytest.raises(Forbidden):
            await update(db_session, park, manager, **{field: value})
    assert park.membership_status == "none"


async def test_if_match_names_the_version_a_change_is_based_on(db_session, outbox, new_park):
    park = await new_park()
    first = etag_of(park.id, park.version)
    await update(db_session, park, if_match=first, city="Innopolis")
    with pytest.raises(PreconditionFailed):
        await update(db_session, park, if_match=first, city="Kazan")
    assert park.city == "Innopolis" and park.version == 2
    updated = await outbox.events("park.updated")
    assert [e.data["city"] for e in updated] == ["Innopolis"]


async def test_null_for_a_required_field_names_it():
    for field in sorted(ParkUpdate.not_null):
        with pytest.raises(ValueError) as refused:
            ParkUpdate.model_validate({field: None})
        assert refused.value.errors()[0]["loc"] == (field,)
    assert ParkUpdate.model_validate({"city": None}).changes() == {"city": None}


async def test_removal_waits_for_the_parks_inside(db_session, outbox, new_park):
    parent = await new_park()
    child = await new_park(kind="business_incubator", parent_id=parent.id)
    with pytest.raises(InvalidTransition):
        await parks.remove_park(session=db_session, park_id=parent.id, if_match=None)
    await parks.remove_park(session=db_session, park_id=child.id, if_match=None)
    removed = await parks.remove_park(session=db_session, park_id=parent.id, if_match=None)
    assert removed.removed_at is not None
    assert [e.key for e in await outbox.events("park.removed")] == [str(child.id), str(parent.id)]


async def test_list_pages_by_name_both_ways_without_repeats(db_session, new_park):
    where = region()
    made = [await new_park(name=f"Park {i:02d}", region=where) for i in (3, 1, 4, 0, 2)]
    for sort, expected in [
        (ParkSort.NAME, sorted(p.name for p in made)),
        (ParkSort.NAME_DESC, sorted((p.name for p in made), reverse=True)),
    ]:
        names, cursor = [], None
        while True:
            page = await queries.list_parks(
                session=db_session,
                filters=ParkFilters(region=where),
                sort=sort,
                limit=2,
                cursor=cursor,
            )
            names += [p.name for p in page.items]
            if (cursor := page.next_cursor) is None:
                break
        assert names == expected


async def test_relevance_needs_a_query_and_a_cursor_of_this_listing(db_session, new_park):
    with pytest.raises(Unprocessable) as no_query:
        await queries.list_parks(
            session=db_session,
            filters=ParkFilters(),
            sort=ParkSort.RELEVANCE,
            limit=5,
            cursor=None,
        )
    assert field_of(no_query.value) == "sort"
    for forged in ("garbage", encode_cursor("yesterday", "x"), encode_cursor(1.0)):
        with pytest.raises(Unprocessable) as bad:
            await queries.list_parks(
                session=db_session,
                filters=ParkFilters(),
                sort=ParkSort.CREATED,
                limit=5,
                cursor=forged,
            )
        assert field_of(bad.value) == "cursor"


async def test_search_and_autocomplete_meet_cyrillic_and_latin(db_session, new_park):
    where = region()
    himgrad = await new_park(name="Технополис «Химград»", region=where)
    await new_park(name="Technopolis Gousev", region=where)
    for q in ("Химград", "Himgrad", "Khimgrad"):
        page = await queries.list_parks(
            session=db_session,
            filters=ParkFilters(q=q, region=where),
            sort=None,
            limit=10,
            cursor=None,
        )
        assert [p.id for p in page.items] == [himgrad.id], q
    suggested = await search.suggest_parks(session=db_session, q="himgr", limit=5)
    assert himgrad.id in [p.id for p in suggested]
    assert await search.suggest_parks(session=db_session, q="%_%", limit=5) == []


async def test_the_change_feed_hides_changes_still_uncommitted(db_session, new_park):
    """A change appears in the feed only once its transaction, and every older one, has
    ended: here the test's own transaction is still open, so its parks are not shown."""
    start = await changes.changes(session=db_session, cursor=None, limit=200)
    cursor = start.next_cursor
    while (page := await changes.changes(session=db_session, cursor=cursor, limit=200)).items:
        cursor = page.next_cursor
    a = await new_park()
    await update(db_session, a, city="Tomsk")
    pending = await changes.changes(session=db_session, cursor=cursor, limit=200)
    assert a.id not in [c.row.id for c in pending.items]
    assert pending.next_cursor == cursor
    for forged in (encode_cursor("x", 1), encode_cursor(float("inf"), 1), "nonsense"):
        with pytest.raises(Unprocessable):
            await changes.changes(session=db_session, cursor=forged, limit=10)
