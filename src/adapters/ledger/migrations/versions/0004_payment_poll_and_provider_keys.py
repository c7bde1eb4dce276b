"""Payments that end and a poll that reaches them all: a per-row provider key (payments, enrolments, draws), when
the poll last asked about a payment or an enrolment, and how often the provider refused a payment (with why)

Revision ID: 0004
Revises: 0003
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
KEYED = ("payments", "enrolments", "draws")


def _fill_provider_keys(table: str) -> None:
    # Row by row in Python: the same on both databases, and every existing row gets its own random key.
    conn = op.get_bind()
    t = sa.table(table, sa.column("id"), sa.column("provider_key"))
    for (row_id,) in conn.execute(sa.select(t.c.id).where(t.c.provider_key.is_(None))).all():
        conn.execute(sa.update(t).where(t.c.id == row_id).values(provider_key=uuid.uuid4().hex))


def upgrade() -> None:
    for table in KEYED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("provider_key", sa.String(32)))
        _fill_provider_keys(table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("provider_key", existing_type=sa.String(32), nullable=False)
            batch_op.create_unique_constraint(f"uq_{table}_provider_key", ["provider_key"])

    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(sa.Column("polled_at", TS))
        batch_op.add_column(sa.Column("provider_refusals", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("failure_reason", sa.String(60)))
        batch_op.create_index("ix_payments_status_polled", ["status", "polled_at"])
    with op.batch_alter_table("enrolments") as batch_op:
        batch_op.add_column(sa.Column("polled_at", TS))
        batch_op.create_index("ix_enrolments_status_polled", ["status", "polled_at"])


def downgrade() -> None:
    with op.batch_alter_table("enrolments") as batch_op:
        batch_op.drop_index("ix_enrolments_status_polled")
        batch_op.drop_column("polled_at")
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_index("ix_payments_status_polled")
        batch_op.drop_column("failure_reason")
        batch_op.drop_column("provider_refusals")
        batch_op.drop_column("polled_at")
    for table in reversed(KEYED):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_provider_key", type_="unique")
            batch_op.drop_column("provider_key")
