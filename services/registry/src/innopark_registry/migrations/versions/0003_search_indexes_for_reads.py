"""Search indexes tuned for a read-mostly registry.

GIN indexes buffer new entries in a pending list (fastupdate) until vacuum merges them;
the planner prices a scan of that list so high that after a bulk load it chose a full
table scan for every search, a cost that grows with the data. Parks and residents change
rarely and are searched constantly, so entries go straight into the index instead.

The btree on parks.kind goes too: seven values, thousands of rows each; the planner picked
it for filtered searches and then checked every row's vector.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "registry"
GIN_INDEXES = [
    "ix_parks_search_vector",
    "ix_parks_search_names_trgm",
    "ix_parks_specializations",
    "ix_residents_search_vector",
    "ix_residents_technologies",
]


def upgrade() -> None:
    for index in GIN_INDEXES:
        op.execute(f"ALTER INDEX {SCHEMA}.{index} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{SCHEMA}.{index}'::regclass)")
    op.drop_index("ix_parks_kind", table_name="parks", schema=SCHEMA)


def downgrade() -> None:
    op.create_index("ix_parks_kind", "parks", ["kind"], schema=SCHEMA)
    for index in GIN_INDEXES:
        op.execute(f"ALTER INDEX {SCHEMA}.{index} RESET (fastupdate)")
