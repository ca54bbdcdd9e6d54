"""Partners are announced: the gateway binds partner users and API keys only to partners
it learnt of from these events."""

from __future__ import annotations

from innopark_orders.partners import service as partner_service
from innopark_orders.partners.schemas import PartnerUpdate


async def test_registering_and_updating_a_partner_publish_its_state(world, outbox):
    partner = await world.partner("Siemens Energy", "DE")
    [registered] = await outbox.events("partner.registered")
    assert registered.key == str(partner.partner_id)
    assert registered.topic == "innopark.orders.partners"
    assert registered.data["name"] == "Siemens Energy" and registered.data["country"] == "DE"
    # Contacts are the association's business: not in the event.
    assert "contact_email" not in registered.data

    row = await world.partner_row(partner)
    await partner_service.update_partner(
        session=world.session,
        partner_id=row.id,
        data=PartnerUpdate(name="Siemens Energy AG"),
        if_match=None,
    )
    [updated] = await outbox.events("partner.updated")
    assert updated.key == str(partner.partner_id) and updated.data["name"] == "Siemens Energy AG"
