"""Work queue items marked resolved by a caseworker (the lapsed plans, failed payments and draws and claims that
left a plan for collection would otherwise stay in their queues for ever)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "work_queue_resolutions",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(40), nullable=False),
        sa.Column("key1", sa.BigInteger(), nullable=False),
        sa.Column("key2", sa.BigInteger(), nullable=False),
        sa.Column(
            "citizen_id",
            PK,
            sa.ForeignKey("citizens.id", name="fk_work_queue_resolutions_citizen_id_citizens"),
            nullable=False,
        ),
        sa.Column("resolved_by", sa.String(80), nullable=False),
        sa.Column("resolver_name", sa.String(200)),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.UniqueConstraint("queue", "key1", "key2", name="uq_work_queue_resolutions_queue_key1_key2"),
    )
    op.create_index("ix_work_queue_resolutions_citizen_id", "work_queue_resolutions", ["citizen_id"])


def downgrade() -> None:
    op.drop_index("ix_work_queue_resolutions_citizen_id", table_name="work_queue_resolutions")
    op.drop_table("work_queue_resolutions")
