"""Dead letters of the gateway's consumer (bindings, revocations), in its own schema, as
every service keeps them (`python -m innopark_gateway dead-letters`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op
from innopark_shared.migrations import create_dead_letters_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    create_dead_letters_table(op, SCHEMA)


def downgrade() -> None:
    op.drop_table("dead_letters", schema=SCHEMA)
