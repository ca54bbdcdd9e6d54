"""The full registry: park details, search, change feed and accreditation; residents,
clusters, cooperation agreements and KPI reports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "registry"

# Names are indexed stemmed (russian: Cyrillic words with the Russian stemmer, Latin words
# with the English one) and unstemmed (`simple`: exact names and their transliterations);
# descriptions and specialisations stemmed, with less weight.
PARK_SEARCH_VECTOR = (
    "setweight(to_tsvector('russian'::regconfig, search_names), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, search_names), 'A') || "
    "setweight(to_tsvector('russian'::regconfig, search_body), 'B')"
)
RESIDENT_SEARCH_VECTOR = PARK_SEARCH_VECTOR


def upgrade() -> None:
    s = SCHEMA
    op.add_column("parks", sa.Column("name_en", sa.String(300)), schema=s)
    op.add_column("parks", sa.Column("legal_name", sa.String(500)), schema=s)
    op.add_column(
        "parks",
        sa.Column(
            "parent_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{s}.parks.id", name="fk_parks_parent_id_parks"),
        ),
        schema=s,
    )
    for name, type_ in [
        ("city", sa.String(200)),
        ("address", sa.String(500)),
        ("latitude", sa.Float),
        ("longitude", sa.Float),
        ("founded_year", sa.Integer),
        ("ownership", sa.String(20)),
        ("total_area", sa.Float),
        ("occupied_area", sa.Float),
        ("website", sa.String(500)),
        ("email", sa.String(320)),
        ("phone", sa.String(50)),
        ("description", sa.Text),
        ("member_since", sa.Date),
        ("accreditation_certificate_id", UUID(as_uuid=True)),
        ("accreditation_status", sa.String(20)),
        ("accreditation_certificate_number", sa.String(100)),
        ("accreditation_level", sa.String(50)),
        ("accreditation_issued_on", sa.Date),
        ("accreditation_valid_until", sa.Date),
        ("accreditation_changed_at", sa.DateTime(timezone=True)),
        ("removed_at", sa.DateTime(timezone=True)),
    ]:
        op.add_column("parks", sa.Column(name, type_), schema=s)
    op.add_column(
        "parks",
        sa.Column("membership_status", sa.String(20), nullable=False, server_default="none"),
        schema=s,
    )
    op.add_column(
        "parks", sa.Column("search_names", sa.Text, nullable=False, server_default=""), schema=s
    )
    op.add_column(
        "parks", sa.Column("search_body", sa.Text, nullable=False, server_default=""), schema=s
    )
    op.execute(f"UPDATE {s}.parks SET search_names = lower(name)")
    op.add_column(
        "parks",
        sa.Column("search_vector", TSVECTOR, sa.Computed(PARK_SEARCH_VECTOR, persisted=True)),
        schema=s,
    )

    # The change feed: every insert, update and soft delete takes the next number. The
    # transaction-scoped advisory lock makes numbers commit in order, so a mirror reading
    # "changes after N" never skips a change that commits late with a smaller number.
    op.execute(f"CREATE SEQUENCE {s}.park_change_seq")
    op.add_column(
        "parks",
        sa.Column(
            "change_seq",
            sa.BigInteger,
            nullable=False,
            server_default=sa.text(f"nextval('{s}.park_change_seq')"),
        ),
        schema=s,
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

    op.create_index("ix_parks_change_seq", "parks", ["change_seq"], unique=True, schema=s)
    op.create_index(
        "ix_parks_search_vector", "parks", ["search_vector"], schema=s, postgresql_using="gin"
    )
    op.create_index(
        "ix_parks_search_names_trgm",
        "parks",
        ["search_names"],
        schema=s,
        postgresql_using="gin",
        postgresql_ops={"search_names": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_parks_specializations", "parks", ["specializations"], schema=s, postgresql_using="gin"
    )
    op.create_index(
        "ix_parks_name_id",
        "parks",
        ["name", "id"],
        schema=s,
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.create_index(
        "ix_parks_created_at_id",
        "parks",
        ["created_at", "id"],
        schema=s,
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.create_index("ix_parks_kind", "parks", ["kind"], schema=s)
    op.create_index("ix_parks_region", "parks", ["region"], schema=s)
    op.create_index("ix_parks_parent_id", "parks", ["parent_id"], schema=s)

    op.create_table(
        "residents",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "park_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{s}.parks.id", name="fk_residents_park_id_parks"),
            nullable=False,
        ),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("name_en", sa.String(300)),
        sa.Column("legal_country", sa.String(2)),
        sa.Column("registration_number", sa.String(50)),
        sa.Column("legal_id", sa.String(60)),
        sa.Column("stage", sa.String(20)),
        sa.Column("technologies", ARRAY(sa.String(100)), nullable=False),
        sa.Column("sectors", ARRAY(sa.String(100)), nullable=False),
        sa.Column("employees", sa.Integer),
        sa.Column("products_count", sa.Integer),
        sa.Column("patents_count", sa.Integer),
        sa.Column("know_how_count", sa.Integer),
        sa.Column("description", sa.Text),
        sa.Column("website", sa.String(500)),
        sa.Column("contact_email", sa.String(320)),
        sa.Column("admitted_on", sa.Date, nullable=False),
        sa.Column("left_on", sa.Date),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("search_names", sa.Text, nullable=False, server_default=""),
        sa.Column("search_body", sa.Text, nullable=False, server_default=""),
        sa.Column("search_vector", TSVECTOR, sa.Computed(RESIDENT_SEARCH_VECTOR, persisted=True)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("legal_id", name="uq_residents_legal_id"),
        schema=s,
    )
    op.create_index("ix_residents_park_id_name", "residents", ["park_id", "name", "id"], schema=s)
    op.create_index("ix_residents_name_id", "residents", ["name", "id"], schema=s)
    op.create_index(
        "ix_residents_search_vector",
        "residents",
        ["search_vector"],
        schema=s,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_residents_technologies", "residents", ["technologies"], schema=s, postgresql_using="gin"
    )

    op.create_table(
        "clusters",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("name_en", sa.String(500)),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column(
            "coordinator_park_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{s}.parks.id", name="fk_clusters_coordinator_park_id_parks"),
        ),
        sa.Column("specializations", ARRAY(sa.String(100)), nullable=False),
        sa.Column("members", JSONB, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema=s,
    )
    op.create_index("ix_clusters_name_id", "clusters", ["name", "id"], schema=s)
    op.create_index(
        "ix_clusters_coordinator_park_id", "clusters", ["coordinator_park_id"], schema=s
    )

    op.create_table(
        "agreements",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("parties", JSONB, nullable=False),
        sa.Column("park_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("signed_on", sa.Date),
        sa.Column("signed_at", sa.String(300)),
        sa.Column("scope", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema=s,
    )
    op.create_index("ix_agreements_created_at_id", "agreements", ["created_at", "id"], schema=s)
    op.create_index(
        "ix_agreements_park_ids", "agreements", ["park_ids"], schema=s, postgresql_using="gin"
    )

    op.create_table(
        "kpi_reports",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "park_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{s}.parks.id", name="fk_kpi_reports_park_id_parks"),
            nullable=False,
        ),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("quarter", sa.Integer),
        sa.Column("residents", sa.Integer, nullable=False),
        sa.Column("jobs", sa.Integer, nullable=False),
        sa.Column("resident_revenue", sa.Numeric(20, 2), nullable=False),
        sa.Column("taxes_paid", sa.Numeric(20, 2), nullable=False),
        sa.Column("investments_attracted", sa.Numeric(20, 2), nullable=False),
        sa.Column("area_occupied", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        schema=s,
    )
    # One report per park and period; an annual report has no quarter.
    op.execute(
        f"CREATE UNIQUE INDEX uq_kpi_reports_park_period ON {s}.kpi_reports "
        f"(park_id, year, coalesce(quarter, 0))"
    )
    op.create_index("ix_kpi_reports_year", "kpi_reports", ["year"], schema=s)


def downgrade() -> None:
    s = SCHEMA
    for table in ("kpi_reports", "agreements", "clusters", "residents"):
        op.drop_table(table, schema=s)
    op.execute(f"DROP TRIGGER parks_change_seq ON {s}.parks")
    op.execute(f"DROP FUNCTION {s}.park_changed()")
    for col in (
        "search_vector",
        "change_seq",
        "search_names",
        "search_body",
        "membership_status",
        "name_en",
        "legal_name",
        "parent_id",
        "city",
        "address",
        "latitude",
        "longitude",
        "founded_year",
        "ownership",
        "total_area",
        "occupied_area",
        "website",
        "email",
        "phone",
        "description",
        "member_since",
        "accreditation_certificate_id",
        "accreditation_status",
        "accreditation_certificate_number",
        "accreditation_level",
        "accreditation_issued_on",
        "accreditation_valid_until",
        "accreditation_changed_at",
        "removed_at",
    ):
        op.drop_column("parks", col, schema=s)
    op.execute(f"DROP SEQUENCE {s}.park_change_seq")
