"""Events, registrations, travel details, and the residents read model.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "events"


def upgrade() -> None:
    op.create_table(
        "known_residents",
        sa.Column("resident_id", UUID(as_uuid=True), nullable=False),
        sa.Column("park_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("left", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("source_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "synced_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("resident_id", name="pk_known_residents"),
        schema=SCHEMA,
    )
    op.create_table(
        "events",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("venue", sa.String(300), nullable=True),
        sa.Column("online_url", sa.String(500), nullable=True),
        sa.Column("host_park_id", UUID(as_uuid=True), nullable=True),
        sa.Column("city", sa.String(200), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("languages", ARRAY(sa.String(8)), nullable=False),
        sa.Column("audience", sa.String(20), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("moderated", sa.Boolean, nullable=False),
        sa.Column("registration_opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registration_closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("organiser_subject", sa.String(200), nullable=False),
        sa.Column("organiser_name", sa.String(300), nullable=True),
        sa.Column("cancellation_reason", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_events_ends_after_start"),
        sa.CheckConstraint("capacity >= 0", name="ck_events_capacity_non_negative"),
        schema=SCHEMA,
    )
    op.create_index("ix_events_starts_at_id", "events", ["starts_at", "id"], schema=SCHEMA)
    op.create_index("ix_events_status", "events", ["status"], schema=SCHEMA)
    op.create_table(
        "registrations",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("full_name", sa.String(300), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("organisation", sa.String(300), nullable=True),
        sa.Column("position", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(50), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("ticket_code", sa.String(64), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("registrant_subject", sa.String(200), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_registrations"),
        sa.UniqueConstraint("seq", name="uq_registrations_seq"),
        sa.UniqueConstraint("ticket_code", name="uq_registrations_ticket_code"),
        sa.UniqueConstraint("token_hash", name="uq_registrations_token_hash"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            [f"{SCHEMA}.events.id"],
            ondelete="CASCADE",
            name="fk_registrations_event_id_events",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_registrations_event_email_live",
        "registrations",
        ["event_id", "email_key"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status NOT IN ('cancelled', 'rejected')"),
    )
    op.create_index(
        "ix_registrations_event_status_seq",
        "registrations",
        ["event_id", "status", "seq"],
        schema=SCHEMA,
    )
    op.create_table(
        "travel_details",
        sa.Column("registration_id", UUID(as_uuid=True), nullable=False),
        sa.Column("passport_name", sa.String(300), nullable=False),
        sa.Column("nationality", sa.String(2), nullable=False),
        sa.Column("date_of_birth", sa.Date, nullable=False),
        sa.Column("passport_number", sa.String(40), nullable=False),
        sa.Column("passport_expires_on", sa.Date, nullable=True),
        sa.Column("stay_from", sa.Date, nullable=False),
        sa.Column("stay_to", sa.Date, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("registration_id", name="pk_travel_details"),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            [f"{SCHEMA}.registrations.id"],
            ondelete="CASCADE",
            name="fk_travel_details_registration_id_registrations",
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("travel_details", schema=SCHEMA)
    op.drop_table("registrations", schema=SCHEMA)
    op.drop_table("events", schema=SCHEMA)
    op.drop_table("known_residents", schema=SCHEMA)
