"""The token revocations read model, fed by the gateway's TokensRevokedV1 events, so a
token revoked at the gateway is refused here too (innopark_shared.readmodels.revocations).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op
from innopark_shared.readmodels.revocations import create_token_revocations_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "accreditation"


def upgrade() -> None:
    create_token_revocations_table(op, SCHEMA)


def downgrade() -> None:
    op.drop_table("token_revocations", schema=SCHEMA)
