"""Each webhook delivery keeps the W3C trace context of the change it announces, so its
attempts join that trace (they started traces of their own before).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "orders"


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("trace_headers", JSONB), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("webhook_deliveries", "trace_headers", schema=SCHEMA)
