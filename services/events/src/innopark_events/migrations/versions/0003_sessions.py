"""Programme sessions of an event.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "events"


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("room", sa.String(200), nullable=True),
        sa.Column("speakers", ARRAY(sa.String(300)), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_sessions_ends_after_start"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            [f"{SCHEMA}.events.id"],
            ondelete="CASCADE",
            name="fk_sessions_event_id_events",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sessions_event_starts", "sessions", ["event_id", "starts_at", "id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("sessions", schema=SCHEMA)
