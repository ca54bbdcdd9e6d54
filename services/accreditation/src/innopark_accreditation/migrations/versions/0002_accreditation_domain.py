"""Criteria catalogue, applications, expert assessments, certificates, monitoring reports;
seeds the default criteria catalogue (version 1, published).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "accreditation"
NS = uuid.UUID("6f1d1c2e-7a43-4d0e-9a52-1c1f0a7d2b01")  # seed ids are stable across databases

LEVELS = {"gold": 85, "silver": 70, "bronze": 55}

# (heading, code, title, description, weight, scale_min, scale_max, mandatory, pass_score)
DEFAULT_CRITERIA = [
    (
        "Infrastructure",
        "infrastructure.specialised",
        "Specialised infrastructure present",
        "Laboratories, prototyping and testing facilities, clean rooms, data centre or pilot "
        "production suited to the park's specialisations.",
        3.0,
        0,
        5,
        True,
        3,
    ),
    (
        "Infrastructure",
        "infrastructure.occupancy",
        "Occupancy",
        "Share of the rentable area occupied by residents.",
        2.0,
        0,
        5,
        False,
        3,
    ),
    (
        "Programmes and services",
        "programmes.support",
        "Support and commercialisation programmes",
        "Number and reach of the park's support, acceleration and commercialisation programmes.",
        2.0,
        0,
        5,
        True,
        3,
    ),
    (
        "Programmes and services",
        "services.sme",
        "Services for SMEs",
        "Consulting, IP, legal, accounting, export and financing services available to small "
        "and medium-sized companies.",
        2.0,
        0,
        5,
        True,
        3,
    ),
    (
        "Residents",
        "residents.count",
        "Resident count",
        "Number of resident companies and its growth.",
        2.0,
        0,
        5,
        False,
        3,
    ),
    (
        "Residents",
        "residents.performance",
        "Resident performance",
        "Jobs, revenue, investments attracted and patents of residents.",
        1.5,
        0,
        5,
        False,
        3,
    ),
    (
        "Management and cooperation",
        "management.team",
        "Management company",
        "A dedicated management company with a development strategy.",
        1.0,
        0,
        5,
        False,
        3,
    ),
    (
        "Management and cooperation",
        "cooperation.international",
        "Cooperation",
        "Agreements with other parks, universities and foreign partners.",
        1.0,
        0,
        5,
        False,
        3,
    ),
]


def upgrade() -> None:
    op.create_table(
        "catalogue_versions",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("levels", JSONB, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalogue_versions"),
        sa.UniqueConstraint("number", name="uq_catalogue_versions_number"),
        schema=SCHEMA,
    )
    op.create_table(
        "criteria",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("catalogue_id", UUID(as_uuid=True), nullable=False),
        sa.Column("heading", sa.String(300), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("code", sa.String(80), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("scale_min", sa.Integer, nullable=False),
        sa.Column("scale_max", sa.Integer, nullable=False),
        sa.Column("mandatory", sa.Boolean, nullable=False),
        sa.Column("pass_score", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_criteria"),
        sa.ForeignKeyConstraint(
            ["catalogue_id"],
            [f"{SCHEMA}.catalogue_versions.id"],
            name="fk_criteria_catalogue_id_catalogue_versions",
        ),
        sa.UniqueConstraint("catalogue_id", "code", name="uq_criteria_catalogue_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_criteria_catalogue_id", "criteria", ["catalogue_id"], schema=SCHEMA)
    op.create_table(
        "applications",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("park_id", UUID(as_uuid=True), nullable=False),
        sa.Column("catalogue_id", UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("self_assessment", JSONB, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        sa.Column("review_started_at", sa.DateTime(timezone=True)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("outcome", sa.String(20)),
        sa.Column("level", sa.String(40)),
        sa.Column("reasons", sa.Text),
        sa.Column("conditions", sa.Text),
        sa.Column("decided_total", sa.Float),
        sa.Column("certificate_id", UUID(as_uuid=True)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_applications"),
        sa.ForeignKeyConstraint(
            ["catalogue_id"],
            [f"{SCHEMA}.catalogue_versions.id"],
            name="fk_applications_catalogue_id_catalogue_versions",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_applications_park_id", "applications", ["park_id"], schema=SCHEMA)
    op.create_table(
        "expert_assignments",
        sa.Column("application_id", UUID(as_uuid=True), nullable=False),
        sa.Column("expert_id", sa.String(200), nullable=False),
        sa.Column("assigned_by", sa.String(200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("application_id", "expert_id", name="pk_expert_assignments"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            [f"{SCHEMA}.applications.id"],
            name="fk_expert_assignments_application_id_applications",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_expert_assignments_expert_id", "expert_assignments", ["expert_id"], schema=SCHEMA
    )
    op.create_table(
        "scores",
        sa.Column("application_id", UUID(as_uuid=True), nullable=False),
        sa.Column("expert_id", sa.String(200), nullable=False),
        sa.Column("criterion_id", UUID(as_uuid=True), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("scored_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("application_id", "expert_id", "criterion_id", name="pk_scores"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            [f"{SCHEMA}.applications.id"],
            name="fk_scores_application_id_applications",
        ),
        sa.ForeignKeyConstraint(
            ["criterion_id"], [f"{SCHEMA}.criteria.id"], name="fk_scores_criterion_id_criteria"
        ),
        schema=SCHEMA,
    )
    op.execute(sa.schema.CreateSequence(sa.Sequence("certificate_number_seq", schema=SCHEMA)))
    op.create_table(
        "certificates",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("park_id", UUID(as_uuid=True), nullable=False),
        sa.Column("park_name", sa.String(300), nullable=False),
        sa.Column("level", sa.String(40)),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("application_id", UUID(as_uuid=True), nullable=False),
        sa.Column("previous_certificate_id", UUID(as_uuid=True)),
        sa.Column("previous_number", sa.String(40)),
        sa.Column("issuer", sa.String(300), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_certificates"),
        sa.UniqueConstraint("number", name="uq_certificates_number"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            [f"{SCHEMA}.applications.id"],
            name="fk_certificates_application_id_applications",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_certificates_park_id", "certificates", ["park_id"], schema=SCHEMA)
    op.create_index("ix_certificates_status", "certificates", ["status"], schema=SCHEMA)
    op.create_table(
        "certificate_status_changes",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("certificate_id", UUID(as_uuid=True), nullable=False),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_certificate_status_changes"),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            [f"{SCHEMA}.certificates.id"],
            name="fk_certificate_status_changes_certificate_id_certificates",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_certificate_status_changes_certificate_id",
        "certificate_status_changes",
        ["certificate_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "monitoring_reports",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("certificate_id", UUID(as_uuid=True), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("residents", sa.Integer),
        sa.Column("occupancy_percent", sa.Float),
        sa.Column("programmes", sa.Integer),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_monitoring_reports"),
        sa.UniqueConstraint("certificate_id", "year", name="uq_monitoring_reports_certificate_id"),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            [f"{SCHEMA}.certificates.id"],
            name="fk_monitoring_reports_certificate_id_certificates",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_monitoring_reports_certificate_id",
        "monitoring_reports",
        ["certificate_id"],
        schema=SCHEMA,
    )
    _seed_default_catalogue()


def _seed_default_catalogue() -> None:
    catalogue_id = uuid.uuid5(NS, "catalogue-1")
    catalogues = sa.table(
        "catalogue_versions",
        sa.column("id"),
        sa.column("number"),
        sa.column("title"),
        sa.column("description"),
        sa.column("status"),
        sa.column("levels", JSONB),
        sa.column("published_at"),
        sa.column("version"),
        schema=SCHEMA,
    )
    criteria = sa.table(
        "criteria",
        *(
            sa.column(c)
            for c in (
                "id",
                "catalogue_id",
                "heading",
                "position",
                "code",
                "title",
                "description",
                "weight",
                "scale_min",
                "scale_max",
                "mandatory",
                "pass_score",
            )
        ),
        schema=SCHEMA,
    )
    op.execute(
        catalogues.insert().values(
            id=catalogue_id,
            number=1,
            title="Accreditation criteria for technology parks",
            description="The association's voluntary accreditation scheme (default catalogue).",
            status="published",
            levels=LEVELS,
            published_at=sa.func.now(),
            version=1,
        )
    )
    op.execute(
        criteria.insert().values(
            [
                {
                    "id": uuid.uuid5(NS, f"criterion-1-{code}"),
                    "catalogue_id": catalogue_id,
                    "heading": heading,
                    "position": i,
                    "code": code,
                    "title": title,
                    "description": description,
                    "weight": weight,
                    "scale_min": lo,
                    "scale_max": hi,
                    "mandatory": mandatory,
                    "pass_score": pass_score,
                }
                for i, (
                    heading,
                    code,
                    title,
                    description,
                    weight,
                    lo,
                    hi,
                    mandatory,
                    pass_score,
                ) in enumerate(DEFAULT_CRITERIA)
            ]
        )
    )


def downgrade() -> None:
    for table in (
        "monitoring_reports",
        "certificate_status_changes",
        "certificates",
        "scores",
        "expert_assignments",
        "applications",
        "criteria",
        "catalogue_versions",
    ):
        op.drop_table(table, schema=SCHEMA)
    op.execute(sa.schema.DropSequence(sa.Sequence("certificate_number_seq", schema=SCHEMA)))
