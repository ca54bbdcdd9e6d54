"""Dead letters recorded in the service's own schema, so they survive a broker that
forgets and can be replayed (`python -m innopark_events dead-letters`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op
from innopark_shared.migrations import create_dead_letters_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "events"


def upgrade() -> None:
    create_dead_letters_table(op, SCHEMA)


def downgrade() -> None:
    op.drop_table("dead_letters", schema=SCHEMA)
