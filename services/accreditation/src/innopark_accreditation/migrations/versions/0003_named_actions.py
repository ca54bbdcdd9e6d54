"""Status histories name their action: `certificate_status_changes.action` (a
CertificateAction, backfilled from the rows' statuses and reasons) and a new
`application_status_changes` table (ApplicationAction).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "accreditation"


def upgrade() -> None:
    op.add_column("certificate_status_changes", sa.Column("action", sa.String(20)), schema=SCHEMA)
    # What each earlier row was, read from how the service wrote it.
    op.execute(
        f"""
        UPDATE "{SCHEMA}".certificate_status_changes AS h SET action = CASE
            WHEN h.from_status IS NULL THEN
                CASE WHEN c.previous_certificate_id IS NULL THEN 'grant' ELSE 'renew' END
            WHEN h.from_status = h.to_status THEN 'amend'
            WHEN h.to_status = 'suspended' THEN 'suspend'
            WHEN h.to_status = 'active' THEN 'reinstate'
            WHEN h.to_status = 'revoked' THEN 'revoke'
            WHEN h.reason LIKE 'superseded by %' THEN 'supersede'
            ELSE 'expire'
        END
        FROM "{SCHEMA}".certificates AS c WHERE c.id = h.certificate_id
        """
    )
    op.alter_column("certificate_status_changes", "action", nullable=False, schema=SCHEMA)

    op.create_table(
        "application_status_changes",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("application_id", UUID(as_uuid=True), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_application_status_changes"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            [f"{SCHEMA}.applications.id"],
            name="fk_application_status_changes_application_id_applications",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_application_status_changes_application_id",
        "application_status_changes",
        ["application_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("application_status_changes", schema=SCHEMA)
    op.drop_column("certificate_status_changes", "action", schema=SCHEMA)
