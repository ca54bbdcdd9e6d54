"""Partners, orders with their audit trail and matches, proposals, idempotency keys,
webhook endpoints and their delivery queue, and the residents read model.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = [
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "idempotency_keys",
    "proposals",
    "order_matches",
    "order_transitions",
    "orders",
    "reference_counters",
    "partners",
    "known_residents",
]


def upgrade() -> None:
    op.create_table(
        "known_residents",
        sa.Column("resident_id", sa.UUID(), nullable=False),
        sa.Column("park_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("technologies", postgresql.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("sectors", postgresql.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("stage", sa.String(length=40), nullable=True),
        sa.Column("search", postgresql.TSVECTOR(), nullable=False),
        sa.Column("left", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("source_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_known_residents")),
        schema="orders",
    )
    op.create_index(
        "ix_known_residents_search",
        "known_residents",
        ["search"],
        unique=False,
        schema="orders",
        postgresql_using="gin",
    )
    op.create_index(
        "ix_known_residents_tags",
        "known_residents",
        ["tags"],
        unique=False,
        schema="orders",
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_orders_known_residents_park_id"),
        "known_residents",
        ["park_id"],
        unique=False,
        schema="orders",
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("agreement", sa.Text(), nullable=True),
        sa.Column("contact_name", sa.String(length=300), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        schema="orders",
    )
    op.create_table(
        "reference_counters",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("country", "year", name=op.f("pk_reference_counters")),
        schema="orders",
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("technology_tags", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("trl", sa.SmallInteger(), nullable=True),
        sa.Column("cooperation_types", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("ip_terms", sa.Text(), nullable=True),
        sa.Column("budget_min", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("budget_max", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.String(length=8)), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("moderation_comment", sa.Text(), nullable=True),
        sa.Column("awarded_proposal_id", sa.UUID(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["orders.partners.id"], name=op.f("fk_orders_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("reference", name=op.f("uq_orders_reference")),
        schema="orders",
    )
    op.create_index(
        op.f("ix_orders_orders_deadline"), "orders", ["deadline"], unique=False, schema="orders"
    )
    op.create_index(
        op.f("ix_orders_orders_partner_id"), "orders", ["partner_id"], unique=False, schema="orders"
    )
    op.create_index(
        op.f("ix_orders_orders_status"), "orders", ["status"], unique=False, schema="orders"
    )
    op.create_index(
        "ix_orders_partner_created",
        "orders",
        ["partner_id", "created_at", "id"],
        unique=False,
        schema="orders",
    )
    op.create_table(
        "order_transitions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor_subject", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("proposal_id", sa.UUID(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.orders.id"], name=op.f("fk_order_transitions_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_transitions")),
        schema="orders",
    )
    op.create_index(
        op.f("ix_orders_order_transitions_order_id"),
        "order_transitions",
        ["order_id"],
        unique=False,
        schema="orders",
    )
    op.create_table(
        "order_matches",
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("target_kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("explanation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "matched_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.orders.id"], name=op.f("fk_order_matches_order_id_orders")
        ),
        sa.PrimaryKeyConstraint(
            "order_id", "target_kind", "target_id", name=op.f("pk_order_matches")
        ),
        schema="orders",
    )
    op.create_index(
        "ix_order_matches_target",
        "order_matches",
        ["target_kind", "target_id"],
        unique=False,
        schema="orders",
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("proposer_kind", sa.String(length=20), nullable=False),
        sa.Column("proposer_id", sa.UUID(), nullable=False),
        sa.Column("proposer_name", sa.String(length=300), nullable=True),
        sa.Column("proposer_email", sa.String(length=320), nullable=True),
        sa.Column("summary", sa.String(length=2000), nullable=False),
        sa.Column("approach", sa.Text(), nullable=True),
        sa.Column("trl", sa.SmallInteger(), nullable=True),
        sa.Column("price_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("price_currency", sa.String(length=3), nullable=True),
        sa.Column("timeline_weeks", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rejection_reason", sa.String(length=40), nullable=True),
        sa.Column("status_comment", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.orders.id"], name=op.f("fk_proposals_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
        schema="orders",
    )
    op.create_index(
        op.f("ix_orders_proposals_order_id"),
        "proposals",
        ["order_id"],
        unique=False,
        schema="orders",
    )
    op.create_index(
        op.f("ix_orders_proposals_partner_id"),
        "proposals",
        ["partner_id"],
        unique=False,
        schema="orders",
    )
    op.create_index(
        op.f("ix_orders_proposals_proposer_id"),
        "proposals",
        ["proposer_id"],
        unique=False,
        schema="orders",
    )
    op.create_index(
        "uq_proposals_order_proposer_live",
        "proposals",
        ["order_id", "proposer_id"],
        unique=True,
        schema="orders",
        postgresql_where=sa.text("status <> 'withdrawn'"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
        schema="orders",
    )
    op.create_index(
        op.f("ix_orders_idempotency_keys_expires_at"),
        "idempotency_keys",
        ["expires_at"],
        unique=False,
        schema="orders",
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=60)), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        schema="orders",
    )
    op.create_index(
        op.f("ix_orders_webhook_endpoints_partner_id"),
        "webhook_endpoints",
        ["partner_id"],
        unique=False,
        schema="orders",
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("endpoint_id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["orders.webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        schema="orders",
    )
    op.create_index(
        op.f("ix_orders_webhook_deliveries_endpoint_id"),
        "webhook_deliveries",
        ["endpoint_id"],
        unique=False,
        schema="orders",
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        schema="orders",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_created",
        "webhook_deliveries",
        ["endpoint_id", "created_at", "id"],
        unique=False,
        schema="orders",
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["orders.webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
        schema="orders",
    )
    op.create_index(
        op.f("ix_orders_webhook_attempts_delivery_id"),
        "webhook_attempts",
        ["delivery_id"],
        unique=False,
        schema="orders",
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table, schema="orders")
