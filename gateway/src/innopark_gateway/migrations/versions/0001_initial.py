"""Users and API clients, and the (unused for now) outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from innopark_shared.migrations import create_messaging_tables
from sqlalchemy.dialects.postgresql import UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "gateway"
# Frozen here rather than imported: a migration must not change when the code does.
ROLES_SQL = "'operator', 'park_manager', 'resident', 'partner', 'expert'"


def _binding_columns() -> list[sa.Column]:
    return [
        sa.Column("park_id", UUID(as_uuid=True), nullable=True),
        sa.Column("resident_id", UUID(as_uuid=True), nullable=True),
        sa.Column("partner_id", UUID(as_uuid=True), nullable=True),
    ]


def upgrade() -> None:
    # The gateway runs no relay; the tables keep its schema the same shape as every
    # service's, so publishing user events later needs no special case.
    create_messaging_tables(op, SCHEMA)
    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("is_active", sa.Boolean, server_default=sa.true(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        *_binding_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.CheckConstraint(f"role IN ({ROLES_SQL})", name="role"),  # → ck_<table>_role
        schema=SCHEMA,
    )
    op.create_index("ix_users_created_at_id", "users", ["created_at", "id"], schema=SCHEMA)
    op.create_table(
        "api_clients",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("is_active", sa.Boolean, server_default=sa.true(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        *_binding_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_api_clients"),
        sa.CheckConstraint(f"role IN ({ROLES_SQL})", name="role"),  # → ck_<table>_role
        schema=SCHEMA,
    )
    op.create_index(
        "ix_api_clients_created_at_id", "api_clients", ["created_at", "id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("api_clients", schema=SCHEMA)
    op.drop_table("users", schema=SCHEMA)
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
