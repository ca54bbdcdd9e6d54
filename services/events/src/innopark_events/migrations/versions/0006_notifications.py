"""E-mail notifications to registrants, written in the transaction of the change they
tell about and sent by the service's sender loop (innopark_shared.notifications); and the
park's e-mail in the park read model, which the registry's park events now carry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op
from innopark_shared.migrations import create_notifications_table
from innopark_shared.readmodels.parks import add_known_parks_email

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "events"


def upgrade() -> None:
    create_notifications_table(op, SCHEMA)
    add_known_parks_email(op, SCHEMA)


def downgrade() -> None:
    op.drop_column("known_parks", "email", schema=SCHEMA)
    op.drop_table("notifications", schema=SCHEMA)
