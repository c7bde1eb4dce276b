"""The ledger's last known Gældsstyrelsen status of each claim (issue 12: the caseworkers' portfolio counts claims
by collection status without asking Gældsstyrelsen about the whole ledger)

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_collection_statuses",
        sa.Column("claim_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name="fk_claim_collection_statuses_claim_id_claims", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("claim_id", name="pk_claim_collection_statuses"),
    )
    op.create_index("ix_claim_collection_statuses_checked_at", "claim_collection_statuses", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_claim_collection_statuses_checked_at", table_name="claim_collection_statuses")
    op.drop_table("claim_collection_statuses")
