"""Orders domain operations. They flush, never commit: the caller owns the transaction.

Object-level access lives here: a partner reaches only its own orders, proposals and
webhooks; residents and park managers reach published orders and their own proposals.
Whatever a caller may not see answers exactly like what does not exist (404).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from innopark_shared.auth import Principal, Role
from innopark_shared.errors import Conflict, InvalidTransition, NotFound
from innopark_shared.http import check_if_match
from innopark_shared.pagination import keyset, page
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import events, matching
from .config import OrdersSettings
from .models import (
    KnownResident,
    Order,
    OrderMatch,
    OrderTransition,
    Partner,
    Proposal,
    known_parks,
    order_reference_seq,
)
from .schemas import (
    AwardBody,
    Contact,
    OrderCreate,
    OrderRead,
    OrderStatus,
    OrderUpdate,
    PartnerCreate,
    PartnerUpdate,
    ProposalCreate,
    ProposalRead,
    ProposalStatus,
    RejectBody,
    RejectionReason,
    Requester,
)

SYSTEM = Principal(subject="system", role=Role.OPERATOR)
AFTER_PUBLICATION = {
    OrderStatus.PUBLISHED,
    OrderStatus.AWARDED,
    OrderStatus.CLOSED,
    OrderStatus.EXPIRED,
}


def _now() -> datetime:
    return datetime.now(UTC)


# -- partners ---------------------------------------------------------------------------


async def create_partner(*, session: AsyncSession, data: PartnerCreate) -> Partner:
    partner = Partner(id=uuid.uuid4(), version=1, **data.model_dump(mode="json"))
    session.add(partner)
    await session.flush()
    await session.refresh(partner)
    return partner


async def get_partner(
    *, session: AsyncSession, principal: Principal, partner_id: uuid.UUID
) -> Partner:
    if not principal.is_operator and principal.partner_id != partner_id:
        raise NotFound("No such partner")
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise NotFound("No such partner")
    return partner


async def update_partner(
    *, session: AsyncSession, partner_id: uuid.UUID, data: PartnerUpdate, if_match: str | None
) -> Partner:
    partner = await session.get(Partner, partner_id, with_for_update=True)
    if partner is None:
        raise NotFound("No such partner")
    check_if_match(if_match, partner.id, partner.version)
    for field, value in data.model_dump(mode="json", exclude_unset=True).items():
        setattr(partner, field, value)
    partner.version += 1
    partner.updated_at = _now()
    await session.flush()
    return partner


async def list_partners(
    *, session: AsyncSession, q: str | None, cursor: str | None, limit: int
) -> tuple[list[Partner], str | None]:
    stmt = sa.select(Partner)
    if q:
        stmt = stmt.where(Partner.name.ilike(f"%{_like(q)}%"))
    stmt = keyset(stmt, [Partner.created_at, Partner.id], cursor, limit, descending=True)
    rows = (await session.execute(stmt)).scalars().all()
    return page(rows, limit, lambda p: (p.created_at, p.id))


def _like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- orders: reading --------------------------------------------------------------------


def _visible_orders(principal: Principal) -> sa.ColumnElement[bool]:
    """The orders `principal` may see at all."""
    if principal.is_operator:
        return sa.true()
    if principal.role is Role.PARTNER:
        return Order.partner_id == principal.partner_id
    if principal.role in (Role.RESIDENT, Role.PARK_MANAGER):
        proposer_id = principal.resident_id or principal.park_id
        proposed = sa.exists().where(
            Proposal.order_id == Order.id, Proposal.proposer_id == proposer_id
        )
        return sa.or_(
            Order.status == OrderStatus.PUBLISHED,
            sa.and_(Order.status.in_(list(AFTER_PUBLICATION)), proposed),
        )
    return sa.false()


async def get_order(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, for_update: bool = False
) -> Order:
    stmt = sa.select(Order).where(Order.id == order_id, _visible_orders(principal))
    if for_update:
        stmt = stmt.with_for_update(of=Order)
    order = (await session.execute(stmt)).scalar_one_or_none()
    if order is None:
        raise NotFound("No such order")
    return order


def owns(principal: Principal, order: Order) -> bool:
    return principal.is_operator or (
        principal.role is Role.PARTNER and principal.partner_id == order.partner_id
    )


async def order_read(session: AsyncSession, principal: Principal, order: Order) -> OrderRead:
    return (await orders_read(session, principal, [order]))[0]


async def orders_read(
    session: AsyncSession, principal: Principal, orders: list[Order]
) -> list[OrderRead]:
    partner_ids = {o.partner_id for o in orders}
    partners = {}
    if partner_ids:
        partners = {
            p.id: p
            for p in (
                await session.execute(sa.select(Partner).where(Partner.id.in_(partner_ids)))
            ).scalars()
        }
    out = []
    for o in orders:
        partner = partners.get(o.partner_id)
        show_requester = partner is not None and (not o.confidential or owns(principal, o))
        out.append(
            OrderRead(
                id=o.id,
                reference=o.reference,
                status=OrderStatus(o.status),
                title=o.title,
                description=o.description,
                technology_tags=list(o.technology_tags),
                trl=o.trl,
                cooperation_types=list(o.cooperation_types),
                ip_terms=o.ip_terms,
                budget_min=o.budget_min,
                budget_max=o.budget_max,
                currency=o.currency,
                deadline=o.deadline,
                languages=list(o.languages),
                confidential=o.confidential,
                requester=Requester(
                    partner_id=partner.id, name=partner.name, country=partner.country
                )
                if show_requester and partner
                else None,
                moderation_comment=o.moderation_comment if owns(principal, o) else None,
                awarded_proposal_id=o.awarded_proposal_id,
                created_at=o.created_at,
                updated_at=o.updated_at,
                published_at=o.published_at,
            )
        )
    return out


async def list_orders(
    *,
    session: AsyncSession,
    principal: Principal,
    status: OrderStatus | None,
    q: str | None,
    partner_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
    matched: bool = False,
) -> tuple[list[Order], str | None]:
    stmt = sa.select(Order).where(_visible_orders(principal))
    if matched:
        target_kind, target_id = (
            ("resident", principal.resident_id)
            if principal.role is Role.RESIDENT
            else ("park", principal.park_id)
        )
        stmt = stmt.where(
            Order.status == OrderStatus.PUBLISHED,
            sa.exists().where(
                OrderMatch.order_id == Order.id,
                OrderMatch.target_kind == target_kind,
                OrderMatch.target_id == target_id,
            ),
        )
    if status:
        stmt = stmt.where(Order.status == status)
    if partner_id:
        stmt = stmt.where(Order.partner_id == partner_id)
    if q:
        pattern = f"%{_like(q)}%"
        stmt = stmt.where(
            sa.or_(
                Order.title.ilike(pattern),
                Order.description.ilike(pattern),
                Order.reference.ilike(pattern),
                Order.technology_tags.any(q.strip().lower()),
            )
        )
    stmt = keyset(stmt, [Order.created_at, Order.id], cursor, limit, descending=True)
    rows = (await session.execute(stmt)).scalars().all()
    return page(rows, limit, lambda o: (o.created_at, o.id))


async def list_transitions(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID
) -> list[OrderTransition]:
    order = await get_order(session=session, principal=principal, order_id=order_id)
    if not owns(principal, order):
        raise NotFound("No such order")
    return list(
        (
            await session.execute(
                sa.select(OrderTransition)
                .where(OrderTransition.order_id == order.id)
                .order_by(OrderTransition.id)
            )
        ).scalars()
    )


async def list_matches(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID
) -> list[OrderMatch]:
    order = await get_order(session=session, principal=principal, order_id=order_id)
    if not owns(principal, order):
        raise NotFound("No such order")
    return list(
        (
            await session.execute(
                sa.select(OrderMatch)
                .where(OrderMatch.order_id == order.id)
                .order_by(OrderMatch.target_kind, OrderMatch.rank)
            )
        ).scalars()
    )


# -- orders: changing -------------------------------------------------------------------


async def _next_reference(session: AsyncSession, country: str) -> str:
    """EEN-style reference: `TO` + country + year + number, e.g. `TORU2026000042`."""
    number = (await session.execute(sa.select(order_reference_seq.next_value()))).scalar_one()
    return f"TO{country}{_now().year}{number:06d}"


async def create_order(*, session: AsyncSession, principal: Principal, data: OrderCreate) -> Order:
    partner = await session.get(Partner, principal.partner_id)
    if partner is None:
        raise NotFound("Your partner corporation is not registered with the orders service")
    values = data.model_dump()
    values["cooperation_types"] = [str(c) for c in data.cooperation_types]
    order = Order(
        id=uuid.uuid4(),
        reference=await _next_reference(session, partner.country),
        partner_id=partner.id,
        status=OrderStatus.DRAFT,
        created_by=principal.subject,
        version=1,
        created_at=_now(),
        updated_at=_now(),
        **values,
    )
    session.add(order)
    await session.flush()
    _audit(session, order, "create", None, principal, None)
    await session.flush()
    return order


async def update_order(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    data: OrderUpdate,
    if_match: str | None,
) -> Order:
    order = await get_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    if not owns(principal, order):
        raise NotFound("No such order")
    check_if_match(if_match, order.id, order.version)
    if order.status != OrderStatus.DRAFT:
        raise InvalidTransition(
            f"Only a draft can be edited; this order is {order.status}", current_status=order.status
        )
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field in {
            "title",
            "description",
            "technology_tags",
            "deadline",
            "cooperation_types",
            "languages",
            "confidential",
        }:
            continue
        if field == "cooperation_types":
            value = [str(c) for c in value]
        setattr(order, field, value)
    if (
        order.budget_min is not None
        and order.budget_max is not None
        and order.budget_max < order.budget_min
    ):
        from innopark_shared.errors import Unprocessable

        raise Unprocessable(
            "budget_max must not be below budget_min",
            errors=[
                {
                    "field": "budget_max",
                    "location": ["body", "budget_max"],
                    "message": "below budget_min",
                    "type": "value_error",
                }
            ],
        )
    order.version += 1
    order.updated_at = _now()
    await session.flush()
    return order


def _audit(
    session: AsyncSession,
    order: Order,
    action: str,
    from_status: str | None,
    principal: Principal,
    reason: str | None,
    proposal_id: uuid.UUID | None = None,
) -> None:
    session.add(
        OrderTransition(
            order_id=order.id,
            action=action,
            from_status=from_status,
            to_status=order.status,
            actor_subject=principal.subject,
            actor_role=str(principal.role) if principal is not SYSTEM else "system",
            reason=reason,
            proposal_id=proposal_id,
            at=_now(),
        )
    )


@dataclass(frozen=True)
class Rule:
    sources: frozenset[OrderStatus]
    target: OrderStatus
    owner_only: bool  # the owning partner (or an operator)


RULES: dict[str, Rule] = {
    "submit": Rule(frozenset({OrderStatus.DRAFT}), OrderStatus.SUBMITTED, True),
    "return": Rule(frozenset({OrderStatus.SUBMITTED}), OrderStatus.DRAFT, False),
    "publish": Rule(frozenset({OrderStatus.SUBMITTED}), OrderStatus.PUBLISHED, False),
    "cancel": Rule(
        frozenset({OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.PUBLISHED}),
        OrderStatus.CANCELLED,
        True,
    ),
    "close": Rule(frozenset({OrderStatus.PUBLISHED}), OrderStatus.CLOSED, True),
    "award": Rule(frozenset({OrderStatus.PUBLISHED}), OrderStatus.AWARDED, True),
    "expire": Rule(
        frozenset({OrderStatus.SUBMITTED, OrderStatus.PUBLISHED}), OrderStatus.EXPIRED, False
    ),
}


async def transition_order(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    action: str,
    reason: str | None = None,
    settings: OrdersSettings,
    award: AwardBody | None = None,
    if_match: str | None = None,
) -> Order:
    rule = RULES[action]
    order = await get_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    if not owns(principal, order):
        raise NotFound("No such order")
    check_if_match(if_match, order.id, order.version)
    if order.status not in rule.sources:
        raise InvalidTransition(
            f"Cannot {action} an order that is {order.status}",
            current_status=order.status,
            allowed_from=sorted(rule.sources),
        )
    if action in {"submit", "publish"} and order.deadline <= _now():
        raise InvalidTransition("The order's deadline has passed", current_status=order.status)
    previous = order.status
    proposal_id = None
    if action == "award":
        proposal_id = await _awarded_proposal(session, order, award)
        order.awarded_proposal_id = proposal_id
        reason = reason or (award.reason if award else None)
    order.status = rule.target
    if action == "return":
        order.moderation_comment = reason
    if action == "publish":
        order.published_at = _now()
        order.moderation_comment = None
    order.version += 1
    order.updated_at = _now()
    _audit(session, order, action, previous, principal, reason, proposal_id)
    await session.flush()
    if rule.target in ENDED:
        await _close_open_proposals(session, order, principal, keep=proposal_id)
    extra: dict = {}
    if action == "publish":
        parks, residents = await matching.match_order(session, order=order, settings=settings)
        extra = {"matched_parks": len(parks), "matched_residents": len(residents)}
    if action == "award":
        extra = {"awarded_proposal_id": proposal_id}
    await events.publish_order_event(
        session, order, action, previous=previous, actor=principal, reason=reason, **extra
    )
    return order


async def _awarded_proposal(
    session: AsyncSession, order: Order, award: AwardBody | None
) -> uuid.UUID:
    accepted = (
        (
            await session.execute(
                sa.select(Proposal.id).where(
                    Proposal.order_id == order.id, Proposal.status == ProposalStatus.ACCEPTED
                )
            )
        )
        .scalars()
        .all()
    )
    if award and award.proposal_id:
        if award.proposal_id not in accepted:
            raise InvalidTransition("Only an accepted proposal of this order can be awarded")
        return award.proposal_id
    if len(accepted) != 1:
        raise InvalidTransition(
            "Award needs exactly one accepted proposal (or name one with proposal_id)",
            accepted=len(accepted),
        )
    return accepted[0]


async def rematch_order(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, settings: OrdersSettings
) -> list[OrderMatch]:
    order = await get_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    if order.status != OrderStatus.PUBLISHED:
        raise InvalidTransition("Only a published order is matched", current_status=order.status)
    await matching.match_order(session, order=order, settings=settings)
    _audit(session, order, "rematch", order.status, principal, None)
    await session.flush()
    return await list_matches(session=session, principal=principal, order_id=order_id)


ENDED = frozenset(
    {OrderStatus.AWARDED, OrderStatus.CLOSED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
)


async def _close_open_proposals(
    session: AsyncSession, order: Order, actor: Principal, *, keep: uuid.UUID | None
) -> None:
    """When an order ends, every proposal still waiting on it (submitted, shortlisted, or
    accepted but not the one awarded) is rejected as `order_closed`, so each proposer
    hears the outcome (event and audit entry) instead of waiting for ever."""
    open_statuses = [ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED, ProposalStatus.ACCEPTED]
    stmt = (
        sa.select(Proposal)
        .where(Proposal.order_id == order.id, Proposal.status.in_(open_statuses))
        .order_by(Proposal.created_at, Proposal.id)
        .with_for_update()
    )
    comment = f"The order was {order.status}"
    for proposal in (await session.execute(stmt)).scalars():
        if proposal.id == keep:
            continue
        previous = proposal.status
        proposal.status = ProposalStatus.REJECTED
        proposal.rejection_reason = RejectionReason.ORDER_CLOSED.value
        proposal.status_comment = comment
        proposal.version += 1
        proposal.updated_at = _now()
        await session.flush()
        _audit(session, order, "proposal_reject", order.status, actor, comment, proposal.id)
        await events.publish_proposal_event(
            session,
            proposal,
            order,
            "reject",
            previous=previous,
            reason=RejectionReason.ORDER_CLOSED.value,
        )


async def expire_due_orders(*, session: AsyncSession, limit: int = 100) -> int:
    due = (
        (
            await session.execute(
                sa.select(Order)
                .where(
                    Order.status.in_([OrderStatus.SUBMITTED, OrderStatus.PUBLISHED]),
                    Order.deadline <= sa.func.now(),
                )
                .order_by(Order.deadline)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for order in due:
        previous = order.status
        order.status = OrderStatus.EXPIRED
        order.version += 1
        order.updated_at = _now()
        _audit(session, order, "expire", previous, SYSTEM, "The deadline passed")
        await session.flush()
        await _close_open_proposals(session, order, SYSTEM, keep=None)
        await events.publish_order_event(
            session, order, "expire", previous=previous, actor=SYSTEM, reason="The deadline passed"
        )
    return len(due)


# -- proposals --------------------------------------------------------------------------


def _visible_proposals(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.is_operator:
        return sa.true()
    if principal.role is Role.PARTNER:
        return Proposal.partner_id == principal.partner_id
    if principal.role is Role.RESIDENT:
        return sa.and_(
            Proposal.proposer_kind == "resident", Proposal.proposer_id == principal.resident_id
        )
    if principal.role is Role.PARK_MANAGER:
        return sa.and_(Proposal.proposer_kind == "park", Proposal.proposer_id == principal.park_id)
    return sa.false()


async def get_proposal(
    *, session: AsyncSession, principal: Principal, proposal_id: uuid.UUID, for_update: bool = False
) -> Proposal:
    stmt = sa.select(Proposal).where(Proposal.id == proposal_id, _visible_proposals(principal))
    if for_update:
        stmt = stmt.with_for_update()
    proposal = (await session.execute(stmt)).scalar_one_or_none()
    if proposal is None:
        raise NotFound("No such proposal")
    return proposal


async def create_proposal(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, data: ProposalCreate
) -> Proposal:
    order = await get_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    if order.status != OrderStatus.PUBLISHED:
        raise InvalidTransition(
            f"Proposals are taken only while the order is published; it is {order.status}",
            current_status=order.status,
        )
    if principal.role is Role.RESIDENT:
        kind, proposer_id = "resident", principal.resident_id
        known = await session.get(KnownResident, proposer_id)
        name = known.name if known else None
        email = data.contact_email or (known.contact_email if known else None) or principal.email
    else:
        kind, proposer_id = "park", principal.park_id
        park = (
            await session.execute(
                sa.select(known_parks.c.name).where(known_parks.c.park_id == proposer_id)
            )
        ).first()
        name = park.name if park else None
        email = data.contact_email or principal.email
    proposal = Proposal(
        id=uuid.uuid4(),
        order_id=order.id,
        partner_id=order.partner_id,
        proposer_kind=kind,
        proposer_id=proposer_id,
        proposer_name=name,
        proposer_email=email,
        status=ProposalStatus.SUBMITTED,
        created_by=principal.subject,
        version=1,
        **data.model_dump(exclude={"contact_email"}),
    )
    try:
        async with session.begin_nested():
            session.add(proposal)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "You already have a live proposal for this order; withdraw it first"
        ) from exc
    await session.refresh(proposal)
    await events.publish_proposal_event(
        session, proposal, order, "receive", previous=None, reason=None
    )
    return proposal


PROPOSAL_RULES: dict[str, tuple[frozenset[ProposalStatus], ProposalStatus]] = {
    "shortlist": (frozenset({ProposalStatus.SUBMITTED}), ProposalStatus.SHORTLISTED),
    "accept": (frozenset({ProposalStatus.SHORTLISTED}), ProposalStatus.ACCEPTED),
    "reject": (
        frozenset({ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED}),
        ProposalStatus.REJECTED,
    ),
    "withdraw": (
        frozenset({ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED}),
        ProposalStatus.WITHDRAWN,
    ),
}


async def transition_proposal(
    *,
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    action: str,
    reject: RejectBody | None = None,
    reason: str | None = None,
) -> Proposal:
    proposal = await get_proposal(
        session=session, principal=principal, proposal_id=proposal_id, for_update=True
    )
    partner_side = principal.is_operator or principal.role is Role.PARTNER
    if (action == "withdraw") == partner_side and not principal.is_operator:
        # The partner decides on proposals, the proposer withdraws its own: the other side
        # sees the proposal but may not do this (403, the object is visible to it).
        from innopark_shared.errors import Forbidden

        raise Forbidden(f"You may not {action} this proposal")
    order = await session.get(Order, proposal.order_id, with_for_update=True)
    assert order is not None
    sources, target = PROPOSAL_RULES[action]
    if proposal.status not in sources:
        raise InvalidTransition(
            f"Cannot {action} a proposal that is {proposal.status}",
            current_status=proposal.status,
            allowed_from=sorted(sources),
        )
    if action != "withdraw" and order.status != OrderStatus.PUBLISHED:
        raise InvalidTransition(
            f"The order is {order.status}; its proposals are final", order_status=order.status
        )
    previous = proposal.status
    proposal.status = target
    if reject is not None:
        proposal.rejection_reason = str(reject.reason)
        proposal.status_comment = reject.comment
        reason = str(reject.reason)
    elif reason:
        proposal.status_comment = reason
    proposal.version += 1
    proposal.updated_at = _now()
    await session.flush()
    _audit(session, order, f"proposal_{action}", order.status, principal, reason, proposal.id)
    await session.flush()
    await events.publish_proposal_event(
        session, proposal, order, action, previous=previous, reason=reason
    )
    return proposal


async def list_proposals(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID | None,
    status: ProposalStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Proposal], str | None]:
    stmt = sa.select(Proposal).where(_visible_proposals(principal))
    if order_id is not None:
        order = await get_order(session=session, principal=principal, order_id=order_id)
        stmt = stmt.where(Proposal.order_id == order.id)
    if status:
        stmt = stmt.where(Proposal.status == status)
    stmt = keyset(stmt, [Proposal.created_at, Proposal.id], cursor, limit, descending=True)
    rows = (await session.execute(stmt)).scalars().all()
    return page(rows, limit, lambda p: (p.created_at, p.id))


REVEALED = {ProposalStatus.SHORTLISTED, ProposalStatus.ACCEPTED}


async def proposals_read(
    session: AsyncSession, principal: Principal, proposals: list[Proposal]
) -> list[ProposalRead]:
    order_ids = {p.order_id for p in proposals}
    rows = {}
    if order_ids:
        rows = {
            r.id: r
            for r in (
                await session.execute(
                    sa.select(
                        Order.id,
                        Order.reference,
                        Partner.contact_name,
                        Partner.contact_email,
                        Partner.name,
                    )
                    .join(Partner, Partner.id == Order.partner_id)
                    .where(Order.id.in_(order_ids))
                )
            ).all()
        }
    out = []
    for p in proposals:
        order = rows[p.order_id]
        revealed = p.status in REVEALED
        is_proposer = principal.role in (Role.RESIDENT, Role.PARK_MANAGER)
        proposer_contact = (
            Contact(name=p.proposer_name, email=p.proposer_email)
            if (revealed or is_proposer or principal.is_operator)
            else None
        )
        requester_contact = (
            Contact(name=order.contact_name or order.name, email=order.contact_email)
            if (revealed or not is_proposer)
            else None
        )
        out.append(
            ProposalRead(
                id=p.id,
                order_id=p.order_id,
                order_reference=order.reference,
                proposer_kind=p.proposer_kind,
                resident_id=p.proposer_id if p.proposer_kind == "resident" else None,
                park_id=p.proposer_id if p.proposer_kind == "park" else None,
                summary=p.summary,
                approach=p.approach,
                trl=p.trl,
                price_amount=p.price_amount,
                price_currency=p.price_currency,
                timeline_weeks=p.timeline_weeks,
                status=ProposalStatus(p.status),
                rejection_reason=p.rejection_reason,
                status_comment=p.status_comment,
                proposer_contact=proposer_contact,
                requester_contact=requester_contact,
                created_at=p.created_at,
                updated_at=p.updated_at,
            )
        )
    return out
