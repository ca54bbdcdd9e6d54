"""User lifecycle, API client scopes and secret rotation, API keys, refresh tokens,
token revocations and the read model of bindable parks, residents and partners.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from innopark_shared.readmodels.revocations import create_token_revocations_table
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.add_column("users", sa.Column("name", sa.String(200), nullable=True), schema=SCHEMA)
    op.add_column(
        "users",
        sa.Column("token_version", sa.Integer, server_default="0", nullable=False),
        schema=SCHEMA,
    )
    op.add_column(
        "users", sa.Column("reset_token_hash", sa.String(64), nullable=True), schema=SCHEMA
    )
    op.add_column(
        "users",
        sa.Column("reset_expires_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "api_clients",
        sa.Column("scopes", ARRAY(sa.String(50)), server_default=sa.text("'{}'"), nullable=False),
        schema=SCHEMA,
    )
    op.add_column(
        "api_clients",
        sa.Column("token_version", sa.Integer, server_default="0", nullable=False),
        schema=SCHEMA,
    )
    op.add_column(
        "api_clients",
        sa.Column("previous_secret_hash", sa.String(255), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "api_clients",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("partner_id", UUID(as_uuid=True), nullable=False),
        sa.Column("scopes", ARRAY(sa.String(50)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        schema=SCHEMA,
    )
    op.create_index("ix_api_keys_created_at_id", "api_keys", ["created_at", "id"], schema=SCHEMA)
    op.create_table(
        "refresh_tokens",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("family_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_version", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [f"{SCHEMA}.users.id"],
            name="fk_refresh_tokens_user_id_users",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"], schema=SCHEMA)
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"], schema=SCHEMA)
    create_token_revocations_table(op, SCHEMA)
    op.create_table(
        "known_bindings",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("entity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("removed", sa.Boolean, server_default=sa.false(), nullable=False),
        sa.Column("source_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "entity_id", name="pk_known_bindings"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("known_bindings", schema=SCHEMA)
    op.drop_table("token_revocations", schema=SCHEMA)
    op.drop_table("refresh_tokens", schema=SCHEMA)
    op.drop_table("api_keys", schema=SCHEMA)
    for column in ("previous_secret_expires_at", "previous_secret_hash", "token_version", "scopes"):
        op.drop_column("api_clients", column, schema=SCHEMA)
    for column in ("reset_expires_at", "reset_token_hash", "token_version", "name"):
        op.drop_column("users", column, schema=SCHEMA)
