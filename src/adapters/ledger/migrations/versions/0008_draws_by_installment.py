"""Draws by installment (issue 12: the caseworkers' portfolio joins each installment to its draw; without an index
PostgreSQL's generic plan for the prepared statement, chosen after five executions, compared every installment
with every draw: 2 s of the portfolio's 2.3 s at p95 on the bulk ledger)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_draws_installment_id", "draws", ["installment_id"])


def downgrade() -> None:
    op.drop_index("ix_draws_installment_id", table_name="draws")
