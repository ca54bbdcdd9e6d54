"""Proposals as the API shows them to a given caller: contacts by double opt-in."""

from __future__ import annotations

from innopark_shared.auth import Principal

from ..access import is_proposer, proposer_known_to, proposer_reference, proposer_revealed
from ..models import Proposal, ProposalStatus
from .schemas import Contact, ProposalRead


def present_proposal(proposal: Proposal, viewer: Principal) -> ProposalRead:
    order = proposal.order
    partner = order.partner
    revealed = proposer_revealed(proposal)
    proposer = is_proposer(viewer)
    # Before the shortlist the partner sees only the opaque reference: nothing that
    # identifies the resident or park (its id leads to its registry card).
    identified = proposer_known_to(viewer, proposal)
    return ProposalRead(
        id=proposal.id,
        order_id=proposal.order_id,
        order_reference=order.reference,
        proposer_kind=proposal.proposer_kind,
        proposer_reference=proposer_reference(proposal),
        resident_id=proposal.proposer_id
        if identified and proposal.proposer_kind == "resident"
        else None,
        park_id=proposal.proposer_id if identified and proposal.proposer_kind == "park" else None,
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
