"""A company's legal identifier is unique among active residents only: one that left a
park can be admitted to another, and its earlier residency stays with its departure.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "registry"


def upgrade() -> None:
    op.drop_constraint("uq_residents_legal_id", "residents", schema=SCHEMA, type_="unique")
    op.create_index(
        "uq_residents_active_legal_id",
        "residents",
        ["legal_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where="status = 'active'",
    )


def downgrade() -> None:
    op.drop_index("uq_residents_active_legal_id", "residents", schema=SCHEMA)
    op.create_unique_constraint("uq_residents_legal_id", "residents", ["legal_id"], schema=SCHEMA)
