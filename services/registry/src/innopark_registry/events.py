"""What the registry publishes, and the events it subscribes to (listed in one place)."""

from __future__ import annotations

from innopark_shared.consumer import HandlerContext, Subscriptions
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
    AgreementRecordedV1,
    AgreementUpdatedV1,
    ClusterCreatedV1,
    ClusterUpdatedV1,
    KpiReportFiledV1,
    ParkCreatedV1,
    ParkRemovedV1,
    ParkUpdatedV1,
    ResidentAdmittedV1,
    ResidentLeftV1,
    ResidentUpdatedV1,
)
from innopark_shared.outbox import topics_of
from innopark_shared.readmodels.revocations import subscribe_revocations

from .models import token_revocations
from .parks.accreditation import apply_certificate

PUBLISHES = topics_of(
    ParkCreatedV1,
    ParkUpdatedV1,
    ParkRemovedV1,
    ResidentAdmittedV1,
    ResidentUpdatedV1,
    ResidentLeftV1,
    ClusterCreatedV1,
    ClusterUpdatedV1,
    AgreementRecordedV1,
    AgreementUpdatedV1,
    KpiReportFiledV1,
)

subscriptions = Subscriptions()
# Tokens revoked at the gateway are refused here too.
subscribe_revocations(subscriptions, token_revocations)


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
    await apply_certificate(session=ctx.session, event=event)
