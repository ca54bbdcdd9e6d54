"""Events the orders service publishes: order and proposal lifecycle (defined by orders)."""

from __future__ import annotations

ORDERS_TOPIC = "innopark.orders.orders"
PROPOSALS_TOPIC = "innopark.orders.proposals"
