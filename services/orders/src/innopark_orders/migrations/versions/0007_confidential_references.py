"""A confidential order's reference names no country: `TOXX…` instead of its partner's
`TODE…`, since the reference is shown, searched and sent to everyone who may see the order
and the country narrows down the requester the order hides. Existing confidential orders
are renamed; the number part, unique on its own, stays.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "orders"


def upgrade() -> None:
    op.execute(
        f"UPDATE {SCHEMA}.orders SET reference = left(reference, 2) || 'XX' || "
        "substr(reference, 5) WHERE confidential AND substr(reference, 3, 2) <> 'XX'"
    )


def downgrade() -> None:
    op.execute(
        f"UPDATE {SCHEMA}.orders o SET reference = left(o.reference, 2) || p.country || "
        f"substr(o.reference, 5) FROM {SCHEMA}.partners p "
        "WHERE p.id = o.partner_id AND substr(o.reference, 3, 2) = 'XX'"
    )
