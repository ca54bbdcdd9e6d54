"""Clusters and cooperation agreements in-process: the events they write, references to
parks, who may change a cluster, and the lists."""

from __future__ import annotations

import uuid

import pytest
from innopark_registry.cooperation import queries
from innopark_registry.cooperation import service as cooperation
from innopark_registry.cooperation.schemas import (
    AgreementCreate,
    AgreementUpdate,
    ClusterCreate,
    ClusterUpdate,
)
from innopark_shared.errors import Forbidden, NotFound, PreconditionFailed, Unprocessable
from innopark_shared.http import etag_of

from .conftest import OPERATOR, manager_of, region


def field_of(error: Unprocessable) -> str:
    return error.extensions["errors"][0]["field"]


async def new_cluster(db_session, **fields):
    body = {"name": "Cluster " + uuid.uuid4().hex[:6], "country": "RU", "region": region()}
    body.update(fields)
    return await cooperation.create_cluster(
        session=db_session, data=ClusterCreate.model_validate(body)
    )


async def change_cluster(db_session, cluster, principal=OPERATOR, if_match=None, **changes):
    return await cooperation.update_cluster(
        session=db_session,
        principal=principal,
        cluster_id=cluster.id,
        data=ClusterUpdate.model_validate(changes),
        if_match=if_match,
    )


async def new_agreement(db_session, parties, **fields):
    body = {"title": "MoU " + uuid.uuid4().hex[:6], "parties": parties, **fields}
    return await cooperation.record_agreement(
        session=db_session, data=AgreementCreate.model_validate(body)
    )


async def test_a_cluster_is_created_and_changed_with_its_members(db_session, outbox, new_park):
    park = await new_park(name="Gousev")
    cluster = await new_cluster(
        db_session,
        name="Кластер радиоэлектроники",
        coordinator_park_id=park.id,
        members=[{"name": "Gousev", "park_id": str(park.id)}, {"name": "Design bureau"}],
    )
    assert cluster.version == 1
    assert cluster.members == [
        {"name": "Gousev", "park_id": str(park.id), "resident_id": None},
        {"name": "Design bureau", "park_id": None, "resident_id": None},
    ]
    changed = await change_cluster(
        db_session, cluster, members=[{"name": "Ingria"}, {"name": "Polytech"}]
    )
    assert [m["name"] for m in changed.members] == ["Ingria", "Polytech"]
    assert changed.version == 2

    created, updated = await outbox.events("cluster.")
    assert (created.type.split(".")[-2], updated.type.split(".")[-2]) == ("created", "updated")
    assert created.key == updated.key == str(cluster.id)
    assert created.data["coordinator_park_id"] == str(park.id)
    assert [m["name"] for m in updated.data["members"]] == ["Ingria", "Polytech"]


async def test_a_cluster_refers_to_live_parks_only(db_session, new_park):
    with pytest.raises(Unprocessable) as unknown:
        await new_cluster(db_session, coordinator_park_id=uuid.uuid4())
    assert field_of(unknown.value) == "coordinator_park_id"
    cluster = await new_cluster(db_session)
    with pytest.raises(Unprocessable):
        await change_cluster(db_session, cluster, coordinator_park_id=uuid.uuid4())


async def test_the_coordinating_parks_manager_edits_but_does_not_hand_over(db_session, new_park):
    coordinator, other = await new_park(), await new_park()
    cluster = await new_cluster(db_session, coordinator_park_id=coordinator.id)

    edited = await change_cluster(db_session, cluster, manager_of(coordinator.id), description="x")
    assert edited.description == "x"
    with pytest.raises(Forbidden):
        await change_cluster(
            db_session, cluster, manager_of(coordinator.id), coordinator_park_id=other.id
        )
    with pytest.raises(Forbidden):
        await change_cluster(db_session, cluster, manager_of(other.id), description="y")
    uncoordinated = await new_cluster(db_session)
    with pytest.raises(Forbidden):
        await change_cluster(db_session, uncoordinated, manager_of(other.id), description="y")
    assert cluster.coordinator_park_id == coordinator.id


async def test_cluster_if_match_and_required_fields(db_session):
    cluster = await new_cluster(db_session)
    stale = etag_of(cluster.id, cluster.version)
    await change_cluster(db_session, cluster, if_match=stale, region="Kaliningrad")
    with pytest.raises(PreconditionFailed):
        await change_cluster(db_session, cluster, if_match=stale, region="Tomsk")
    for field in sorted(ClusterUpdate.not_null):
        with pytest.raises(ValueError) as refused:
            ClusterUpdate.model_validate({field: None})
        assert refused.value.errors()[0]["loc"] == (field,)
    assert ClusterUpdate.model_validate({"coordinator_park_id": None}).changes() == {
        "coordinator_park_id": None
    }


async def test_clusters_of_a_park_as_coordinator_or_member(db_session, new_park):
    park = await new_park()
    where = region()
    coordinated = await new_cluster(db_session, name="B", region=where, coordinator_park_id=park.id)
    member = await new_cluster(
        db_session, name="A", region=where, members=[{"name": "P", "park_id": str(park.id)}]
    )
    await new_cluster(db_session, name="C", region=where)

    of_park = await queries.list_clusters(
        session=db_session, region=None, park_id=park.id, limit=10, cursor=None
    )
    assert [c.id for c in of_park.items] == [member.id, coordinated.id]  # by name
    first = await queries.list_clusters(
        session=db_session, region=where, park_id=None, limit=2, cursor=None
    )
    rest = await queries.list_clusters(
        session=db_session, region=where, park_id=None, limit=2, cursor=first.next_cursor
    )
    assert [c.name for c in first.items + rest.items] == ["A", "B", "C"]
    assert rest.next_cursor is None


async def test_an_agreement_is_recorded_and_changed(db_session, outbox, new_park):
    himgrad, gousev = await new_park(name="Himgrad"), await new_park(name="Gousev")
    agreement = await new_agreement(
        db_session,
        [
            {"name": "Himgrad", "park_id": str(himgrad.id)},
            {"name": "Foreign partner", "country": "FI"},
        ],
        signed_on="2015-11-28",
        signed_at="St Petersburg International Innovation Forum",
    )
    assert agreement.park_ids == [himgrad.id]

    changed = await cooperation.update_agreement(
        session=db_session,
        agreement_id=agreement.id,
        data=AgreementUpdate.model_validate(
            {
                "scope": "joint R&D",
                "parties": [
                    {"name": "Himgrad", "park_id": str(himgrad.id)},
                    {"name": "Gousev", "park_id": str(gousev.id)},
                ],
            }
        ),
        if_match=etag_of(agreement.id, agreement.version),
    )
    assert (changed.scope, changed.park_ids, changed.version) == (
        "joint R&D",
        [himgrad.id, gousev.id],
        2,
    )
    recorded, updated = await outbox.events("agreement.")
    assert recorded.type.endswith("agreement.recorded.v1")
    assert recorded.data["parties"][1] == {
        "name": "Foreign partner",
        "country": "FI",
        "park_id": None,
    }
    assert updated.type.endswith("agreement.updated.v1") and updated.data["scope"] == "joint R&D"


async def test_an_agreements_parks_must_exist(db_session, new_park):
    park = await new_park()
    with pytest.raises(Unprocessable) as unknown:
        await new_agreement(
            db_session,
            [{"name": "A", "park_id": str(park.id)}, {"name": "B", "park_id": str(uuid.uuid4())}],
        )
    assert field_of(unknown.value) == "parties.1.park_id"
    with pytest.raises(ValueError):
        AgreementCreate.model_validate({"title": "x", "parties": [{"name": "only"}]})
    for field in sorted(AgreementUpdate.not_null):
        with pytest.raises(ValueError) as refused:
            AgreementUpdate.model_validate({field: None})
        assert refused.value.errors()[0]["loc"] == (field,)
    with pytest.raises(NotFound):
        await cooperation.get_agreement(session=db_session, agreement_id=uuid.uuid4())


async def test_agreements_of_a_park_newest_first(db_session, new_park):
    park, other = await new_park(), await new_park()
    parties = [{"name": "P", "park_id": str(park.id)}, {"name": "X", "country": "FI"}]
    made = [await new_agreement(db_session, parties) for _ in range(3)]
    await new_agreement(db_session, [{"name": "O", "park_id": str(other.id)}, {"name": "Y"}])

    # One transaction: equal created_at, so the id breaks the tie (descending too).
    expected = [a.id for a in sorted(made, key=lambda a: (a.created_at, a.id), reverse=True)]
    seen, cursor = [], None
    while True:
        page = await queries.list_agreements(
            session=db_session, park_id=park.id, limit=2, cursor=cursor
        )
        seen += [a.id for a in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == expected
