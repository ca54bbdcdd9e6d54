"""What the registry publishes, and the events it subscribes to (listed in one place)."""

from __future__ import annotations

from innopark_shared.consumer import HandlerContext, Subscriptions
from innopark_shared.contracts import IntegrationEvent
from innopark_shared.contracts.accreditation import (
    CertificateAmendedV1,
    CertificateExpiredV1,
    CertificateGrantedV1,
    CertificateReinstatedV1,
    CertificateRenewedV1,
    CertificateRevokedV1,
    CertificateSuspendedV1,
)
from innopark_shared.contracts.registry import (
    AGREEMENTS_TOPIC,
    CLUSTERS_TOPIC,
    KPI_REPORTS_TOPIC,
    PARKS_TOPIC,
    RESIDENTS_TOPIC,
)
from innopark_shared.outbox import add_event, event_source
from sqlalchemy.ext.asyncio import AsyncSession

from .models import metadata

# parks: ParkCreatedV1 / ParkUpdatedV1 / ParkRemovedV1
# residents: ResidentAdmittedV1 / ResidentUpdatedV1 / ResidentLeftV1
# clusters: ClusterCreatedV1 / ClusterUpdatedV1
# agreements: AgreementRecordedV1 / AgreementUpdatedV1
# kpi-reports: KpiReportFiledV1
PUBLISHES = [PARKS_TOPIC, RESIDENTS_TOPIC, CLUSTERS_TOPIC, AGREEMENTS_TOPIC, KPI_REPORTS_TOPIC]
SOURCE = event_source("registry")

subscriptions = Subscriptions()


async def publish(session: AsyncSession, event: IntegrationEvent) -> None:
    await add_event(session, metadata, event, source=SOURCE)


# Each park shows its current accreditation; every certificate event carries the
# certificate's full state, so one handler serves the whole lifecycle.
@subscriptions.on(CertificateGrantedV1)
@subscriptions.on(CertificateRenewedV1)
@subscriptions.on(CertificateSuspendedV1)
@subscriptions.on(CertificateRevokedV1)
@subscriptions.on(CertificateExpiredV1)
@subscriptions.on(CertificateReinstatedV1)
@subscriptions.on(CertificateAmendedV1)
async def on_certificate_changed(event: CertificateGrantedV1, ctx: HandlerContext) -> None:
    from .service import apply_certificate  # service imports publish() from here

    await apply_certificate(session=ctx.session, event=event)
