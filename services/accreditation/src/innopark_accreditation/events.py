"""What accreditation publishes, and the events it subscribes to (listed in one place).

Published (topic `innopark.accreditation.certificates`, key = park id, each carrying the
certificate's full state): the certificate lifecycle, recorded through the outbox by
`certificates/`. Consumed: the registry's park events, which keep `known_parks` (the
park read model in `parks/`) in step; the gateway's user events (`known_users`, who may
be an expert) and token revocations.
"""

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
from innopark_shared.contracts.gateway import UserCreatedV1, UserDeletedV1, UserUpdatedV1
from innopark_shared.outbox import topics_of
from innopark_shared.readmodels.parks import subscribe_known_parks
from innopark_shared.readmodels.revocations import subscribe_revocations

from .applications import experts
from .models import known_parks, token_revocations

PUBLISHES: list[str] = topics_of(
    CertificateGrantedV1,
    CertificateRenewedV1,
    CertificateSuspendedV1,
    CertificateReinstatedV1,
    CertificateRevokedV1,
    CertificateExpiredV1,
    CertificateAmendedV1,
)

subscriptions = Subscriptions()
# Tokens revoked at the gateway are refused here too.
subscribe_revocations(subscriptions, token_revocations)


# The registry's parks, kept in `known_parks` (a fetch's park states in one statement).
subscribe_known_parks(subscriptions, known_parks)


@subscriptions.on(UserCreatedV1)
@subscriptions.on(UserUpdatedV1)
async def on_user_changed(event: UserCreatedV1, ctx: HandlerContext) -> None:
    """Users read model: who may be assigned as an expert."""
    await experts.record_user(ctx.session, event, ctx.envelope.time)


@subscriptions.on(UserDeletedV1)
async def on_user_deleted(event: UserDeletedV1, ctx: HandlerContext) -> None:
    await experts.record_user_deleted(ctx.session, event, ctx.envelope.time)
