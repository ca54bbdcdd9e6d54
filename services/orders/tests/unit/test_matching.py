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
from innopark_shared.readmodels.parks import (
    apply_park_removed,
    apply_park_snapshot,
    apply_park_snapshots,
)


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
        world.park_created(park_id, "Late Park", at=earlier, specializations=[tag]),
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


async def test_a_resident_with_fewer_tags_but_more_text_is_still_ranked(world, settings):
    """Residents sharing fewer of the order's tags are ranked for text only while their
    tag score plus the largest text score can still reach the list: one that can must be
    ranked, and placed by its score, not by its tags."""
    uid = uuid.uuid4().hex[:6]
    tags = [f"tag{uid}x{i}" for i in range(5)]
    words = [f"w{uid}x{i}" for i in range(20)]
    park = await world.park("Tier Park", ["materials"])
    three = await world.known_resident(park, "Three Tags", tags[:3])
    two = await world.known_resident(park, "Two Tags", tags[:2])
    # One tag, and every word of the order's text, each several times.
    one_texty = await world.known_resident(park, "One Tag", tags[:1], " ".join(words * 5))
    one = await world.known_resident(park, "One Tag Only", tags[1:2])
    partner = await world.partner()
    order = await world.published(
        partner, technology_tags=tags, title=" ".join(words[:10]), description=" ".join(words)
    )
    # The whole list: the resident sharing one tag but all the text outranks the one
    # sharing two tags and no other word.
    _, residents = await matching.match_order(world.session, order=order, settings=settings)
    assert [m.target_id for m in residents] == [three, one_texty, two, one]
    texty = residents[1].explanation
    assert texty["matched_tags"] == [tags[0]] and texty["tag_score"] == 0.2
    assert residents[1].score == pytest.approx(0.7 * 0.2 + 0.3 * texty["text_score"], abs=1e-3)
    assert residents[1].score > residents[2].score
    # A list of two: by tags alone it would be `three` and `two`; the one-tag resident can
    # still reach it (0.7 * 1/5 + 0.3 * text_max > the second score) and does.
    short = settings.model_copy(update={"match_max_residents": 2})
    _, residents = await matching.match_order(world.session, order=order, settings=short)
    assert [m.target_id for m in residents] == [three, one_texty]


def _lexemes(**shares: float | None) -> list[matching.Lexeme]:
    return [matching.Lexeme(word, f"'{word}'", share) for word, share in shares.items()]


def test_text_candidates_take_the_rarest_alone_then_pairs():
    lexemes = _lexemes(common=0.9, usual=0.3, rare=0.01, rarer=0.005, unique=0.0001)
    # Of 100,000 residents: the rarest alone while their expected residents stay within
    # half the budget, then pairs of the next ones within the other half.
    assert matching.text_candidates(lexemes, 2, 100_000, budget=2_000) == [
        ["unique"],
        ["rarer"],
        ["rare", "usual"],
    ]
    assert matching.text_candidates(lexemes, 2, 100_000, budget=20_000) == [
        ["unique"],
        ["rarer"],
        ["rare"],
    ]
    # A budget nothing fits: still the rarest pair, never no candidate.
    assert matching.text_candidates(lexemes, 2, 100_000, budget=1) == [["unique", "rarer"]]
    # Lexemes nobody is known to have cost nothing alone, and are not paired.
    absent = _lexemes(**{f"absent{i}": 0.00001 for i in range(12)}, rare=0.01, usual=0.02)
    assert matching.text_candidates(absent, 2, 100_000, budget=2_000)[-1] == ["rare", "usual"]
    # Everything fits the budget: every lexeme is a candidate alone.
    assert len(matching.text_candidates(lexemes, 2, 100, budget=10_000)) == 5
    # No statistics yet: exact, every lexeme (or every pair when two are needed).
    unknown = _lexemes(a=None, b=None, c=None)
    assert matching.text_candidates(unknown, 1, 0) == [["a"], ["b"], ["c"]]
    assert matching.text_candidates(unknown, 2, 0) == [["a", "b"], ["a", "c"], ["b", "c"]]


def test_least_lexemes_follows_from_the_floor(settings):
    # min score 0.05 = 0.3 * text_score: rank 0.01; at most 0.1 * share of lexemes had.
    assert matching.least_lexemes(0.05, settings, 20) == 2
    assert matching.least_lexemes(0.05, settings, 10) == 1
    assert matching.least_lexemes(0.1, settings, 20) == 5
    # Above what text alone can score: nobody.
    assert matching.least_lexemes(0.25, settings, 20) == 21


async def test_with_statistics_a_text_only_match_is_still_found(world, settings, monkeypatch):
    """Once the residents' text has statistics, residents sharing no tag are looked for
    by the order's rarest lexemes (alone, then in pairs): the one sharing the order's rare
    word and its common ones is found and ranked first."""
    uid = uuid.uuid4().hex[:6]
    park = await world.park("Stats Park", ["materials"])
    for i in range(40):
        await world.known_resident(
            park, f"Filler {i}", [f"other{uid}"], "membranes for gas separation"
        )
    rare = f"zeolite{uid}"
    texty = await world.known_resident(
        park, "Sorbent Works", ["adsorbents"], f"{rare} membranes {rare} for gas separation"
    )
    await world.session.execute(sa.text("ANALYZE known_residents"))
    lexemes, residents = await matching._order_lexemes(world.session, f"{rare} membranes gas")
    assert residents >= 41 and all(x.share is not None for x in lexemes)
    partner = await world.partner()
    order = await world.published(
        partner,
        technology_tags=[f"tag{uid}"],
        title=f"Need {rare} membranes",
        description=f"Gas separation with {rare} membranes",
    )
    _, found = await matching.match_order(world.session, order=order, settings=settings)
    assert found[0].target_id == texty
    assert rare in found[0].explanation["matched_terms"]
    assert found[0].explanation["matched_tags"] == []


async def test_park_states_applied_together_leave_what_one_by_one_would(world):
    """A consumer's batch sends a fetch's park states in one statement: of two states of
    one park the newer wins whatever their order in the fetch, and a state older than the
    stored one changes nothing."""
    first, second = uuid.uuid4(), uuid.uuid4()
    t0 = datetime.now(UTC)

    def state(park_id: uuid.UUID, name: str, at: datetime) -> tuple[ParkCreatedV1, datetime]:
        return world.park_created(park_id, name, at=t0), at

    await apply_park_snapshots(world.session, known_parks, [state(second, "Second v2", t0)])
    await apply_park_snapshots(
        world.session,
        known_parks,
        [
            state(first, "First v2", t0 + timedelta(seconds=2)),
            state(first, "First v1", t0 + timedelta(seconds=1)),  # older, later in the fetch
            state(second, "Second v1", t0 - timedelta(seconds=1)),  # older than the stored
        ],
    )
    rows = await world.session.execute(
        sa.select(known_parks.c.park_id, known_parks.c.name).where(
            known_parks.c.park_id.in_([first, second])
        )
    )
    assert dict(rows.all()) == {first: "First v2", second: "Second v2"}
