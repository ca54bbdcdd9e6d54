"""Known parks (read model), and the outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op
from innopark_shared.migrations import create_messaging_tables
from innopark_shared.readmodels.parks import create_known_parks_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "orders"


def upgrade() -> None:
    create_messaging_tables(op, SCHEMA)
    create_known_parks_table(op, SCHEMA)


def downgrade() -> None:
    op.drop_table("known_parks", schema=SCHEMA)
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
