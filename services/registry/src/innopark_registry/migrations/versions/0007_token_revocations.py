"""The token revocations read model, fed by the gateway's TokensRevokedV1 events, so a
token revoked at the gateway is refused here too (innopark_shared.readmodels.revocations).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op
from innopark_shared.readmodels.revocations import create_token_revocations_table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "registry"


def upgrade() -> None:
    create_token_revocations_table(op, SCHEMA)


def downgrade() -> None:
    op.drop_table("token_revocations", schema=SCHEMA)
