"""Order references take their number from a sequence: a per-country-year counter row
serialised every concurrent order creation on one row lock.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "orders"


def upgrade() -> None:
    op.execute(f"CREATE SEQUENCE {SCHEMA}.order_reference_seq")
    # Continue after any number already handed out.
    op.execute(
        f"SELECT setval('{SCHEMA}.order_reference_seq', "
        f"(SELECT COALESCE(MAX(last), 0) + 1 FROM {SCHEMA}.reference_counters), false)"
    )
    op.drop_table("reference_counters", schema=SCHEMA)


def downgrade() -> None:
    import sqlalchemy as sa

    op.create_table(
        "reference_counters",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("country", "year", name="pk_reference_counters"),
        schema=SCHEMA,
    )
    op.execute(f"DROP SEQUENCE {SCHEMA}.order_reference_seq")
