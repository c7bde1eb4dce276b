"""citizens.data_version: raised by every write a citizen can see (exact response-cache invalidation)

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citizens") as batch_op:
        batch_op.add_column(sa.Column("data_version", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("citizens") as batch_op:
        batch_op.drop_column("data_version")
