"""What a proposer (a resident or a park) is told by e-mail about its proposal: shortlisted,
accepted or rejected (with the reason in words, and the partner's comment). Recorded in
the transaction of the decision (`innopark_shared.notifications`), to the proposal's
contact e-mail. The mail names the order by its reference and title only, never the
partner: whether the proposer may know who posted it is the presenters' rule."""

from __future__ import annotations

from innopark_shared.notifications import mail_body
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Order, Proposal, ProposalAction, RejectionReason, notifications

REASONS = {
    RejectionReason.TOO_EARLY_STAGE: "the solution is at too early a stage",
    RejectionReason.BENEFIT_UNCLEAR: "the benefit is unclear",
    RejectionReason.COMMERCIAL_ROUTE_UNCLEAR: "the commercial route is unclear",
    RejectionReason.TECHNOLOGY_MISMATCH: "the technology does not match the need",
    RejectionReason.PRICE_TOO_HIGH: "the price is too high",
    RejectionReason.TIMELINE_TOO_LONG: "the timeline is too long",
    RejectionReason.IP_TERMS_UNACCEPTABLE: "the intellectual property terms are not acceptable",
    RejectionReason.OTHER: "another reason",
    RejectionReason.ORDER_CLOSED: "the order has ended",
}


def _compose(proposal: Proposal, order: Order, action: ProposalAction):
    named = f"your proposal to order {order.reference}, \u201c{order.title}\u201d"
    comment = f"The partner's comment: {proposal.status_comment}" if proposal.status_comment else ""
    if action is ProposalAction.SHORTLIST:
        return (
            "proposal.shortlisted",
            f"Your proposal to {order.reference} is shortlisted",
            [
                f"Good news: {named}, is on the partner's shortlist. From now on each side "
                "sees the other's contact details, so expect to hear from them.",
                comment,
            ],
        )
    if action is ProposalAction.ACCEPT:
        return (
            "proposal.accepted",
            f"Your proposal to {order.reference} is accepted",
            [f"Congratulations: the partner has accepted {named}.", comment],
        )
    if action is ProposalAction.REJECT:
        reason = REASONS.get(RejectionReason(proposal.rejection_reason or "other"), "")
        closed = proposal.rejection_reason == RejectionReason.ORDER_CLOSED
        return (
            "proposal.rejected",
            f"Your proposal to {order.reference} was not selected",
            [
                f"We are sorry: {named}, was not selected, because {reason}.",
                proposal.status_comment if closed else comment,
                "Thank you for proposing; other orders are waiting for solutions like yours.",
            ],
        )
    return None


async def tell_proposer(
    session: AsyncSession, proposal: Proposal, order: Order, action: ProposalAction
) -> None:
    composed = _compose(proposal, order, action)
    if composed is None:
        return
    kind, subject, paragraphs = composed
    await notifications.add(
        session,
        kind=kind,
        to=proposal.proposer_email,
        subject=subject,
        body=mail_body(
            f"Dear {proposal.proposer_name or 'proposer'},",
            paragraphs,
            links={"Your proposal": f"/api/v1/proposals/{proposal.id}"},
        ),
    )
