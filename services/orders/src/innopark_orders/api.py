"""Every route of the orders service, one router per aggregate package."""

from .orders.api import router as orders_router
from .partners.api import router as partners_router
from .proposals.api import router as proposals_router
from .webhooks.api import deliveries as webhook_deliveries
from .webhooks.api import router as webhooks_router

routers = [partners_router, orders_router, proposals_router, webhooks_router]

# Documented as OpenAPI webhooks: what partners' endpoints receive.
webhooks = webhook_deliveries
