"""The read model of the gateway's users (role and state), so only an active expert
user can be assigned to an application.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "accreditation"


def upgrade() -> None:
    op.create_table(
        "known_users",
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("deleted", sa.Boolean, server_default=sa.false(), nullable=False),
        sa.Column("source_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_known_users"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("known_users", schema=SCHEMA)
