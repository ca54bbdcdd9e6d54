"""Certificate alerts (expiring, monitoring report overdue), each recorded once, and the
e-mail notifications that tell the park (innopark_shared.notifications); the park's
e-mail in the park read model, which the registry's park events now carry.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from innopark_shared.migrations import create_notifications_table
from innopark_shared.readmodels.parks import add_known_parks_email
from sqlalchemy.dialects.postgresql import UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "accreditation"


def upgrade() -> None:
    create_notifications_table(op, SCHEMA)
    add_known_parks_email(op, SCHEMA)
    op.create_table(
        "certificate_alerts",
        sa.Column("certificate_id", UUID(as_uuid=True), nullable=False),
        sa.Column("alert", sa.String(60), nullable=False),
        sa.Column(
            "raised_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("notification_id", UUID(as_uuid=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            [f"{SCHEMA}.certificates.id"],
            name="fk_certificate_alerts_certificate_id_certificates",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("certificate_id", "alert", name="pk_certificate_alerts"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("certificate_alerts", schema=SCHEMA)
    op.drop_column("known_parks", "email", schema=SCHEMA)
    op.drop_table("notifications", schema=SCHEMA)
