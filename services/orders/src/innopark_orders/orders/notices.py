"""What a partner is told by e-mail about its orders: an order returned for changes (with
the association's comment). Recorded in the transaction of the transition itself
(`innopark_shared.notifications`), to the partner's contact e-mail."""

from __future__ import annotations

from innopark_shared.notifications import mail_body
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Order, Partner, notifications


async def order_returned(session: AsyncSession, order: Order) -> None:
    partner = await session.get(Partner, order.partner_id)
    if partner is None:
        return
    await notifications.add(
        session,
        kind="order.returned",
        to=partner.contact_email,
        subject=f"Order {order.reference} returned for changes",
        body=mail_body(
            f"Dear {partner.contact_name or partner.name},",
            [
                f"The association has reviewed your order {order.reference}, "
                f"\u201c{order.title}\u201d, and returned it to you as a draft with what to "
                "change before it can be published:",
                order.moderation_comment or "",
                "Edit the order and submit it again when it is ready.",
            ],
            links={"Your order": f"/api/v1/orders/{order.id}"},
        ),
    )
