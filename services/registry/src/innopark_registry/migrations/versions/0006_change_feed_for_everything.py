"""The change feed covers residents, clusters, agreements and KPI reports as well as
parks, and no longer serialises writers.

Until now every park write took one transaction-scoped advisory lock so that feed
numbers committed in order. Now each row records the id of the transaction that wrote
it (`change_xid`) and a number from one sequence (`change_seq`); the feed orders by the
pair and shows only rows written by transactions older than every one still running
(`pg_snapshot_xmin`), which is gap-free without any lock.

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

SCHEMA = "registry"
TABLES = ["parks", "residents", "clusters", "agreements", "kpi_reports"]


def upgrade() -> None:
    s = SCHEMA
    op.execute(f"DROP TRIGGER parks_change_seq ON {s}.parks")
    op.execute(f"DROP FUNCTION {s}.park_changed()")
    op.execute(f"ALTER SEQUENCE {s}.park_change_seq RENAME TO change_seq")
    op.alter_column("parks", "change_seq", server_default=None, schema=s)
    op.execute(
        f"""
        CREATE FUNCTION {s}.record_change() RETURNS trigger AS $$
        BEGIN
            NEW.change_xid := pg_current_xact_id()::text::bigint;
            NEW.change_seq := nextval('{s}.change_seq');
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    for table in TABLES:
        # Rows written before this migration: transaction 0, in their existing order.
        op.add_column(
            table,
            sa.Column("change_xid", sa.BigInteger, nullable=False, server_default="0"),
            schema=s,
        )
        if table != "parks":
            op.add_column(table, sa.Column("change_seq", sa.BigInteger), schema=s)
            op.execute(f"UPDATE {s}.{table} SET change_seq = nextval('{s}.change_seq')")
            op.alter_column(table, "change_seq", nullable=False, schema=s)
        op.alter_column(table, "change_xid", server_default=None, schema=s)
        op.execute(
            f"CREATE TRIGGER {table}_record_change BEFORE INSERT OR UPDATE ON {s}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {s}.record_change()"
        )
        op.create_index(
            f"ix_{table}_change", table, ["change_xid", "change_seq"], unique=True, schema=s
        )


def downgrade() -> None:
    s = SCHEMA
    for table in TABLES:
        op.drop_index(f"ix_{table}_change", table, schema=s)
        op.execute(f"DROP TRIGGER {table}_record_change ON {s}.{table}")
        op.drop_column(table, "change_xid", schema=s)
        if table != "parks":
            op.drop_column(table, "change_seq", schema=s)
    op.execute(f"DROP FUNCTION {s}.record_change()")
    op.execute(f"ALTER SEQUENCE {s}.change_seq RENAME TO park_change_seq")
    op.alter_column(
        "parks", "change_seq", server_default=sa.text(f"nextval('{s}.park_change_seq')"), schema=s
    )
    op.execute(
        f"""
        CREATE FUNCTION {s}.park_changed() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext('{s}.park_change_seq'));
            NEW.change_seq := nextval('{s}.park_change_seq');
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        f"CREATE TRIGGER parks_change_seq BEFORE INSERT OR UPDATE ON {s}.parks "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.park_changed()"
    )
