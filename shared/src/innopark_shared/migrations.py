"""Alembic plumbing shared by every service: one history per service, its version table
inside the service's own schema."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


def run_env(metadata: sa.MetaData) -> None:
    """Body of a service's `migrations/env.py`."""
    schema = metadata.schema
    assert schema, "service metadata must name its schema"
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "schema":
            return name == schema
        return True

    def do_run(connection: sa.Connection) -> None:
        # Provisioning normally creates the schema for the service's role; create it only
        # when missing (CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even then).
        exists = connection.execute(
            sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        ).first()
        if not exists:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=sa.NullPool)
        async with engine.begin() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=metadata, version_table_schema=schema, literal_binds=True
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())


def create_messaging_tables(op, schema: str) -> None:
    """The outbox and inbox tables as of their first version, for a service's first
    migration (kept here so every service starts from the same definition)."""
    from sqlalchemy.dialects.postgresql import JSONB, UUID

    from .db import outbox_notify_trigger_sql

    op.create_table(
        "outbox",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("seq", name="uq_outbox_seq"),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["seq"],
        schema=schema,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"], schema=schema)
    for statement in outbox_notify_trigger_sql(schema):
        op.execute(statement)
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_inbox"),
        schema=schema,
    )


def create_dead_letters_table(op: Any, schema: str) -> None:  # op: alembic's proxy
    """The dead-letter record table (`innopark_shared.db.dead_letter_columns`), for the
    migration that adds it to a service."""
    from .db import DEAD_LETTERS_PENDING_INDEX, dead_letter_columns

    op.create_table("dead_letters", *dead_letter_columns(), schema=schema)
    op.create_index(
        DEAD_LETTERS_PENDING_INDEX,
        "dead_letters",
        ["topic"],
        schema=schema,
        postgresql_where=sa.text("status = 'pending'"),
    )


def create_notifications_table(op: Any, schema: str) -> None:  # op: alembic's proxy
    """The e-mail notifications table (`innopark_shared.notifications`), for the migration
    that adds notifications to a service."""
    from .notifications import TABLE, notification_columns

    op.create_table(TABLE, *notification_columns(), schema=schema)
