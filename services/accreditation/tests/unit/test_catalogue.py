"""The criteria catalogue in process: drafts, publication, pinning, paging."""

from __future__ import annotations

import pytest
from innopark_accreditation.catalogue import service as catalogues
from innopark_accreditation.catalogue.schemas import CatalogueCreate
from innopark_accreditation.models import CatalogueVersion
from innopark_shared.auth import Principal, Role
from innopark_shared.errors import InvalidTransition, NotFound, Unprocessable

OPERATOR = Principal(subject="operator-1", role=Role.OPERATOR)
BODY = {
    "title": "Criteria 2027",
    "levels": {"gold": 85},
    "headings": [
        {"title": "One", "criteria": [{"code": "a", "title": "A", "weight": 1}]},
        {
            "title": "Two",
            "criteria": [
                {"code": "b", "title": "B", "weight": 2, "scale_min": 1, "scale_max": 10},
                {"code": "c", "title": "C", "weight": 1, "mandatory": True, "pass_score": 5},
            ],
        },
    ],
}


async def draft(session) -> catalogues.Catalogue:
    return await catalogues.create_catalogue(
        session=session, principal=OPERATOR, data=CatalogueCreate.model_validate(BODY)
    )


async def test_a_draft_numbers_itself_and_defaults_the_pass_scores(db_session):
    current = await catalogues.get_current_catalogue(session=db_session)
    created = await draft(db_session)
    assert created.version.number == current.version.number + 1
    assert created.version.status == "draft" and created.version.version == 1
    assert [(c.heading, c.code, c.position) for c in created.criteria] == [
        ("One", "a", 0),
        ("Two", "b", 1),
        ("Two", "c", 2),
    ]
    # The middle of the scale, rounded up: 0..5 -> 3, 1..10 -> 6; an explicit one is kept.
    assert [c.pass_score for c in created.criteria] == [3, 6, 5]
    with pytest.raises(NotFound):  # drafts are the operators' business
        await catalogues.get_catalogue(
            session=db_session, principal=None, catalogue_id=created.version.id
        )


async def test_publishing_retires_the_current_version(db_session):
    before = await catalogues.get_current_catalogue(session=db_session)
    before_version = before.version.version
    created = await draft(db_session)
    published = await catalogues.publish_catalogue(
        session=db_session, principal=OPERATOR, catalogue_id=created.version.id
    )
    assert published.version.status == "published" and published.version.version == 2
    retired = await db_session.get(CatalogueVersion, before.version.id)
    assert retired.status == "retired" and retired.version == before_version + 1
    now_current = await catalogues.get_current_catalogue(session=db_session)
    assert now_current.version.id == created.version.id
    with pytest.raises(InvalidTransition):
        await catalogues.publish_catalogue(
            session=db_session, principal=OPERATOR, catalogue_id=created.version.id
        )


async def test_the_list_pages_newest_first_and_hides_drafts_from_the_public(db_session):
    created = await draft(db_session)
    first = await catalogues.list_catalogues(
        session=db_session, principal=OPERATOR, limit=1, cursor=None
    )
    assert [c.version.id for c in first.items] == [created.version.id]
    assert first.items[0].criteria and first.next_cursor
    second = await catalogues.list_catalogues(
        session=db_session, principal=OPERATOR, limit=1, cursor=first.next_cursor
    )
    assert second.items[0].version.number == created.version.number - 1
    public = await catalogues.list_catalogues(
        session=db_session, principal=None, limit=50, cursor=None
    )
    assert created.version.id not in {c.version.id for c in public.items}


async def test_a_forged_cursor_is_a_422(db_session):
    with pytest.raises(Unprocessable) as raised:
        await catalogues.list_catalogues(
            session=db_session,
            principal=None,
            limit=1,
            cursor="WyJ4Il0",  # ["x"]
        )
    assert raised.value.extensions["errors"][0]["field"] == "cursor"
