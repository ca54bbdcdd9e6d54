"""E-mail notifications (innopark_shared.notifications); the partners' catch-up feed:
every message their webhooks would receive, in commit order (`partner_events`), filled
from the delivery log for the messages sent before it existed; and the park's e-mail in
the park read model, which the registry's park events now carry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from innopark_shared.migrations import create_notifications_table
from innopark_shared.readmodels.parks import add_known_parks_email
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "orders"


def upgrade() -> None:
    create_notifications_table(op, SCHEMA)
    add_known_parks_email(op, SCHEMA)
    op.create_table(
        "partner_events",
        sa.Column("message_id", sa.String(100), nullable=False),
        sa.Column("partner_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "xid",
            sa.BigInteger,
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_partner_events"),
        sa.UniqueConstraint("seq", name="uq_partner_events_seq"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_partner_events_feed", "partner_events", ["partner_id", "xid", "seq"], schema=SCHEMA
    )
    # What was already delivered (or queued) is in the feed too, oldest first.
    op.execute(
        f"""
        INSERT INTO "{SCHEMA}".partner_events (message_id, partner_id, event_type, payload,
                                               created_at)
        SELECT message_id, partner_id, event_type, payload, created_at FROM (
            SELECT DISTINCT ON (message_id) message_id, partner_id, event_type, payload,
                   created_at
            FROM "{SCHEMA}".webhook_deliveries ORDER BY message_id, created_at
        ) first_copies
        ORDER BY created_at, message_id
        """
    )


def downgrade() -> None:
    op.drop_column("known_parks", "email", schema=SCHEMA)
    op.drop_table("partner_events", schema=SCHEMA)
    op.drop_table("notifications", schema=SCHEMA)
