"""Matching in-process, from the local read model only: which residents and parks rank
first, by how much, and the explanation each match carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from innopark_orders.models import KnownResident, known_parks
from innopark_orders.orders import matching, queries, transitions
from innopark_orders.residents import apply_resident_left, apply_resident_snapshot
from innopark_shared.contracts.registry import (
    ParkCreatedV1,
    ParkRemovedV1,
    ResidentAdmittedV1,
    ResidentLeftV1,
)
from innopark_shared.readmodels.parks import apply_park_removed, apply_park_snapshot


def _rounded(value: float) -> float:
    return round(value, 4)


async def _matches(world, order):
    found = await queries.list_matches(
        session=world.session, principal=world.operator, order_id=order.id
    )
    return (
        [m for m in found if m.target_kind == "park"],
        [m for m in found if m.target_kind == "resident"],
    )


async def test_residents_rank_by_tags_then_text_and_explain_why(world):
    tag = f"plasma-{uuid.uuid4().hex[:6]}"
    park = await world.park("Technopolis Himgrad", [tag, "chemistry"])
    both = await world.known_resident(
        park, "PolyCycle", [tag, "catalysis"], "Catalytic depolymerisation of mixed plastic waste"
    )
    one = await world.known_resident(
        park, "Kazan Catalysts", ["catalysis"], "Catalyst process for polymer recycling"
    )
    unrelated = await world.known_resident(park, "Radio Gousev", ["radio"], "Antenna design")
    partner = await world.partner()
    order = await world.published(
        partner,
        technology_tags=[tag, "Catalysis"],
        title="Catalytic recycling of plastic waste",
        description="A catalyst process for mixed plastic waste at pilot scale.",
    )
    _, residents = await _matches(world, order)
    assert [m.target_id for m in residents] == [both, one]  # the unrelated one is not ranked
    assert unrelated not in {m.target_id for m in residents}
    assert [m.rank for m in residents] == [1, 2]
    top, second = (m.explanation for m in residents)
    assert top["name"] == "PolyCycle"
    # Tags are compared case-insensitively: the order's "Catalysis" matches "catalysis".
    assert top["matched_tags"] == sorted([tag, "catalysis"]) and top["tag_score"] == 1.0
    assert second["matched_tags"] == ["catalysis"] and second["tag_score"] == 0.5
    assert top["weights"] == {"tags": 0.7, "text": 0.3}
    for match in residents:
        e = match.explanation
        assert 0 < e["text_score"] < 1 and e["matched_terms"]
        assert match.score == pytest.approx(0.7 * e["tag_score"] + 0.3 * e["text_score"], abs=1e-3)
    assert "catalyst" in top["matched_terms"] or "catalyt" in top["matched_terms"]
    assert residents[0].score > residents[1].score


async def test_a_resident_without_a_matching_tag_is_found_by_text(world):
    word = f"zeolite{uuid.uuid4().hex[:6]}"
    park = await world.park("Text Park", ["materials"])
    texty = await world.known_resident(
        park, "Sorbent Works", ["adsorbents"], f"We manufacture {word} membranes for gas separation"
    )
    partner = await world.partner()
    order = await world.published(
        partner,
        technology_tags=[f"tag-{uuid.uuid4().hex[:6]}"],
        title=f"Need {word} membranes",
        description=f"Gas separation with {word} membranes",
    )
    _, residents = await _matches(world, order)
    [found] = [m for m in residents if m.target_id == texty]
    assert found.explanation["matched_tags"] == [] and found.explanation["tag_score"] == 0
    assert word in found.explanation["matched_terms"]
    assert 0 < found.score <= 0.3  # text alone weighs at most 0.3
    assert found.score == pytest.approx(0.3 * found.explanation["text_score"], abs=1e-3)


async def test_parks_rank_by_specialisation_and_matched_residents(world):
    tag = f"composites-{uuid.uuid4().hex[:6]}"
    specialised = await world.park("Specialised Park", [tag, "Polymers"])
    hosting = await world.park("Hosting Park", ["aerospace"])
    await world.park("Idle Park", ["agriculture"])
    for name in ("A", "B"):
        await world.known_resident(hosting, f"Host {name}", [tag], "Composite panels")
    await world.known_resident(specialised, "Specialised resident", [tag], "Composite panels")
    partner = await world.partner()
    order = await world.published(partner, technology_tags=[tag, "polymers"])
    parks, _ = await _matches(world, order)
    by_id = {m.target_id: m for m in parks}
    assert set(by_id) == {specialised, hosting}  # the idle park scores nothing
    special, host = by_id[specialised].explanation, by_id[hosting].explanation
    assert special["matched_tags"] == sorted([tag, "polymers"]) and special["tag_score"] == 1.0
    assert (special["matched_residents"], special["resident_score"]) == (1, 0.5)
    assert (host["matched_tags"], host["matched_residents"], host["resident_score"]) == ([], 2, 1.0)
    assert by_id[specialised].score == _rounded(0.7 * 1.0 + 0.3 * 0.5)
    assert by_id[hosting].score == _rounded(0.3 * 1.0)
    assert [m.target_id for m in parks] == [specialised, hosting]
    assert special["weights"] == {"tags": 0.7, "residents": 0.3}


async def test_matching_reads_only_current_residents_and_parks(world):
    tag = f"robotics-{uuid.uuid4().hex[:6]}"
    park = await world.park("Gone Park", [tag])
    staying_park = await world.park("Staying Park", [tag])
    left = await world.known_resident(staying_park, "Left Robotics", [tag])
    staying = await world.known_resident(staying_park, "Staying Robotics", [tag])
    now = datetime.now(UTC)
    await apply_resident_left(
        world.session,
        ResidentLeftV1(resident_id=left, park_id=staying_park, left_on=now.date()),
        now,
    )
    await apply_park_removed(
        world.session, known_parks, ParkRemovedV1(park_id=park, removed_at=now), now
    )
    partner = await world.partner()
    order = await world.published(partner, technology_tags=[tag])
    parks, residents = await _matches(world, order)
    assert [m.target_id for m in residents] == [staying]
    assert [m.target_id for m in parks] == [staying_park]


async def test_matched_orders_are_listed_for_the_matched_only(world):
    tag = f"sensors-{uuid.uuid4().hex[:6]}"
    park = await world.park("Sensor Park", [tag])
    matched = await world.known_resident(park, "Sensor Co", [tag])
    other = await world.known_resident(park, "Other Co", ["textiles"])
    partner = await world.partner()
    order = await world.published(partner, technology_tags=[tag])
    for principal, expected in (
        (world.resident(matched), [order.id]),
        (world.resident(other), []),
        (world.park_manager(park), [order.id]),
        (world.park_manager(), []),
    ):
        page = await queries.list_matched_orders(
            session=world.session, principal=principal, cursor=None, limit=50
        )
        assert [o.id for o in page.items] == expected
    await transitions.close_order(session=world.session, principal=partner, order_id=order.id)
    page = await queries.list_matched_orders(
        session=world.session, principal=world.resident(matched), cursor=None, limit=50
    )
    assert page.items == []  # only while it is published


async def test_rematching_replaces_the_earlier_ranking(world, settings):
    tag = f"lasers-{uuid.uuid4().hex[:6]}"
    park = await world.park("Laser Park", [tag])
    first = await world.known_resident(park, "First Lasers", [tag])
    partner = await world.partner()
    order = await world.published(partner, technology_tags=[tag])
    later = await world.known_resident(park, "Later Lasers", [tag, "optics"])
    parks, residents = await matching.match_order(world.session, order=order, settings=settings)
    assert {m.target_id for m in residents} == {first, later}
    _, stored = await _matches(world, order)
    assert sorted(m.target_id for m in stored) == sorted([first, later])
    assert len(stored) == len(residents)  # replaced, not added to


async def test_a_departure_or_removal_before_the_event_it_ends_is_kept(world):
    """After a broker loss, fresh events go out beside the replay of older ones: a
    departure (or a park's removal) can arrive before the admission (or creation). The
    older event, arriving second, must not bring the resident or the park back."""
    tag = f"optics-{uuid.uuid4().hex[:6]}"
    park_id, resident_id = uuid.uuid4(), uuid.uuid4()
    earlier = datetime.now(UTC)
    later = earlier + timedelta(seconds=1)
    await apply_resident_left(
        world.session,
        ResidentLeftV1(resident_id=resident_id, park_id=park_id, left_on=later.date()),
        later,
    )
    await apply_park_removed(
        world.session, known_parks, ParkRemovedV1(park_id=park_id, removed_at=later), later
    )
    await apply_park_snapshot(
        world.session,
        known_parks,
        ParkCreatedV1(
            park_id=park_id,
            name="Late Park",
            kind="technopark",
            country="RU",
            region="Tatarstan",
            specializations=[tag],
            created_at=earlier,
        ),
        earlier,
    )
    await apply_resident_snapshot(
        world.session,
        ResidentAdmittedV1(
            resident_id=resident_id, park_id=park_id, name="Late Optics", technologies=[tag]
        ),
        earlier,
    )
    resident = await world.session.get(KnownResident, resident_id)
    assert resident is not None and resident.left
    park = (
        await world.session.execute(sa.select(known_parks).where(known_parks.c.park_id == park_id))
    ).one()
    assert park.removed
    partner = await world.partner()
    order = await world.published(partner, technology_tags=[tag])
    parks, residents = await _matches(world, order)
    assert resident_id not in {m.target_id for m in residents}
    assert park_id not in {m.target_id for m in parks}
