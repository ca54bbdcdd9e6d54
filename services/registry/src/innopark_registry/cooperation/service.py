"""Cluster and agreement operations. They flush, never commit; every change publishes the
full state (`ClusterCreatedV1 / ClusterUpdatedV1`, `AgreementRecordedV1 /
AgreementUpdatedV1`)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from innopark_shared.auth import Principal
from innopark_shared.contracts.registry import (
    AgreementPartyV1,
    AgreementRecordedV1,
    AgreementUpdatedV1,
    ClusterCreatedV1,
    ClusterMemberV1,
    ClusterUpdatedV1,
)
from innopark_shared.errors import Forbidden, NotFound
from innopark_shared.http import check_if_match
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Agreement, Cluster, outbox
from ..parks.service import check_park_ref
from .schemas import (
    AgreementCreate,
    AgreementParty,
    AgreementUpdate,
    ClusterCreate,
    ClusterUpdate,
)

# -- clusters ---------------------------------------------------------------------------


def cluster_state(cluster: Cluster, cls: type[ClusterCreatedV1]) -> ClusterCreatedV1:
    return cls(
        cluster_id=cluster.id,
        name=cluster.name,
        name_en=cluster.name_en,
        country=cluster.country,
        region=cluster.region,
        description=cluster.description,
        coordinator_park_id=cluster.coordinator_park_id,
        specializations=list(cluster.specializations),
        members=[ClusterMemberV1.model_validate(m) for m in cluster.members],
        occurred_at=datetime.now(UTC),
    )


async def create_cluster(*, session: AsyncSession, data: ClusterCreate) -> Cluster:
    await check_park_ref(session, data.coordinator_park_id, "coordinator_park_id")
    values = data.model_dump(mode="python")
    values["members"] = [m.model_dump(mode="json") for m in data.members]
    cluster = Cluster(**values)
    session.add(cluster)
    await session.flush()
    await outbox.add(session, cluster_state(cluster, ClusterCreatedV1))
    return cluster


async def get_cluster(*, session: AsyncSession, cluster_id: UUID) -> Cluster:
    cluster = await session.get(Cluster, cluster_id)
    if cluster is None:
        raise NotFound(f"Cluster {cluster_id} not found")
    return cluster


async def update_cluster(
    *,
    session: AsyncSession,
    principal: Principal,
    cluster_id: UUID,
    data: ClusterUpdate,
    if_match: str | None,
) -> Cluster:
    """The association, or the coordinating park's manager (who cannot hand the
    coordination to another park)."""
    cluster = await get_cluster(session=session, cluster_id=cluster_id)
    if not principal.is_operator and not (
        cluster.coordinator_park_id and principal.manages_park(cluster.coordinator_park_id)
    ):
        raise Forbidden(
            "Only the association or the coordinating park's manager may change a cluster"
        )
    changes = data.changes()
    if "coordinator_park_id" in changes and not principal.is_operator:
        raise Forbidden("Only the association changes the coordinating park")
    check_if_match(if_match, cluster.id, cluster.version)
    if "coordinator_park_id" in changes:
        await check_park_ref(session, changes["coordinator_park_id"], "coordinator_park_id")
    if "members" in changes:
        changes["members"] = [m.model_dump(mode="json") for m in data.members or []]
    for field, value in changes.items():
        setattr(cluster, field, value)
    await session.flush()  # a lost race: StaleDataError, a 409
    await outbox.add(session, cluster_state(cluster, ClusterUpdatedV1))
    return cluster


# -- cooperation agreements -------------------------------------------------------------


def agreement_state(agreement: Agreement, cls: type[AgreementRecordedV1]) -> AgreementRecordedV1:
    return cls(
        agreement_id=agreement.id,
        title=agreement.title,
        parties=[AgreementPartyV1.model_validate(p) for p in agreement.parties],
        signed_on=agreement.signed_on,
        signed_at=agreement.signed_at,
        scope=agreement.scope,
        occurred_at=datetime.now(UTC),
    )


async def _set_parties(
    session: AsyncSession, agreement: Agreement, parties: list[AgreementParty]
) -> None:
    for i, party in enumerate(parties):
        await check_park_ref(session, party.park_id, f"parties.{i}.park_id")
    agreement.parties = [p.model_dump(mode="json") for p in parties]
    agreement.park_ids = [p.park_id for p in parties if p.park_id]


async def record_agreement(*, session: AsyncSession, data: AgreementCreate) -> Agreement:
    agreement = Agreement(
        title=data.title, signed_on=data.signed_on, signed_at=data.signed_at, scope=data.scope
    )
    await _set_parties(session, agreement, data.parties)
    session.add(agreement)
    await session.flush()
    await outbox.add(session, agreement_state(agreement, AgreementRecordedV1))
    return agreement


async def get_agreement(*, session: AsyncSession, agreement_id: UUID) -> Agreement:
    agreement = await session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound(f"Agreement {agreement_id} not found")
    return agreement


async def update_agreement(
    *, session: AsyncSession, agreement_id: UUID, data: AgreementUpdate, if_match: str | None
) -> Agreement:
    agreement = await get_agreement(session=session, agreement_id=agreement_id)
    check_if_match(if_match, agreement.id, agreement.version)
    changes = data.changes()
    if "parties" in changes:
        await _set_parties(session, agreement, data.parties or [])
        changes.pop("parties")
    for field, value in changes.items():
        setattr(agreement, field, value)
    await session.flush()  # a lost race: StaleDataError, a 409
    await outbox.add(session, agreement_state(agreement, AgreementUpdatedV1))
    return agreement
