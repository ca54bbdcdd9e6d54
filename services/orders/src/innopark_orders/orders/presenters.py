"""Orders, their history and their matches as the API shows them to a given caller."""

from __future__ import annotations

from innopark_shared.auth import Principal

from ..access import knows_requester, owns
from ..models import Order, OrderMatch, OrderStatus, OrderTransition
from .schemas import MatchRead, OrderRead, Requester, TransitionRead


def present_order(order: Order, viewer: Principal) -> OrderRead:
    """A confidential order names its requester only to that partner and the association;
    the moderator's comment is for them too."""
    partner = order.partner
    mine = owns(viewer, order)
    return OrderRead(
        id=order.id,
        reference=order.reference,
        status=OrderStatus(order.status),
        title=order.title,
        description=order.description,
        technology_tags=list(order.technology_tags),
        trl=order.trl,
        cooperation_types=list(order.cooperation_types),
        ip_terms=order.ip_terms,
        budget_min=order.budget_min,
        budget_max=order.budget_max,
        currency=order.currency,
        deadline=order.deadline,
        languages=list(order.languages),
        confidential=order.confidential,
        requester=Requester(partner_id=partner.id, name=partner.name, country=partner.country)
        if partner is not None and knows_requester(viewer, order)
        else None,
        moderation_comment=order.moderation_comment if mine else None,
        awarded_proposal_id=order.awarded_proposal_id,
        created_at=order.created_at,
        updated_at=order.updated_at,
        published_at=order.published_at,
    )


def present_transition(entry: OrderTransition) -> TransitionRead:
    return TransitionRead.model_validate(entry)


def present_match(match: OrderMatch) -> MatchRead:
    return MatchRead(
        target_kind=match.target_kind,
        target_id=match.target_id,
        name=match.explanation.get("name"),
        rank=match.rank,
        score=match.score,
        explanation={k: v for k, v in match.explanation.items() if k != "name"},
        matched_at=match.matched_at,
    )
