"""Proposals as the API shows them to a given caller: contacts by double opt-in."""

from __future__ import annotations

from innopark_shared.auth import Principal

from ..access import is_proposer
from ..models import Proposal, ProposalStatus
from .schemas import Contact, ProposalRead

# Once the partner has shortlisted a proposal, each side sees the other's contact.
REVEALED = frozenset({ProposalStatus.SHORTLISTED, ProposalStatus.ACCEPTED})


def present_proposal(proposal: Proposal, viewer: Principal) -> ProposalRead:
    order = proposal.order
    partner = order.partner
    revealed = proposal.status in REVEALED
    proposer = is_proposer(viewer)
    return ProposalRead(
        id=proposal.id,
        order_id=proposal.order_id,
        order_reference=order.reference,
        proposer_kind=proposal.proposer_kind,
        resident_id=proposal.proposer_id if proposal.proposer_kind == "resident" else None,
        park_id=proposal.proposer_id if proposal.proposer_kind == "park" else None,
        summary=proposal.summary,
        approach=proposal.approach,
        trl=proposal.trl,
        price_amount=proposal.price_amount,
        price_currency=proposal.price_currency,
        timeline_weeks=proposal.timeline_weeks,
        status=ProposalStatus(proposal.status),
        rejection_reason=proposal.rejection_reason,
        status_comment=proposal.status_comment,
        # The proposer sees its own contact; the association sees both, always.
        proposer_contact=Contact(name=proposal.proposer_name, email=proposal.proposer_email)
        if revealed or proposer or viewer.is_operator
        else None,
        requester_contact=Contact(
            name=partner.contact_name or partner.name, email=partner.contact_email
        )
        if revealed or not proposer
        else None,
        created_at=proposal.created_at,
        updated_at=proposal.updated_at,
    )
