"""Installments over time: draws (charges, payment instructions, invoices), citizens' notices, caseworkers'
items, plans that end (completed, defaulted) and claims that leave a plan for collection

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "draws",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("draw_key", sa.String(80), nullable=False),
        sa.Column("citizen_id", PK, sa.ForeignKey("citizens.id", name="fk_draws_citizen_id_citizens"), nullable=False),
        sa.Column("plan_id", PK, sa.ForeignKey("installment_plans.id", name="fk_draws_plan_id_installment_plans")),
        sa.Column("installment_id", PK, sa.ForeignKey("installments.id", name="fk_draws_installment_id_installments")),
        sa.Column("enrolment_id", PK, sa.ForeignKey("enrolments.id", name="fk_draws_enrolment_id_enrolments")),
        sa.Column("claim_id", PK, sa.ForeignKey("claims.id", name="fk_draws_claim_id_claims")),
        sa.Column("channel", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount_oere", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("provider_ref", sa.String(80)),
        sa.Column("provider_sequence", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failure_reason", sa.String(60)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("settled_at", TS),
        sa.UniqueConstraint("draw_key", name="uq_draws_draw_key"),
        sa.UniqueConstraint("provider_ref", name="uq_draws_provider_ref"),
    )
    op.create_index("ix_draws_citizen_id", "draws", ["citizen_id"])
    op.create_index("ix_draws_plan_id", "draws", ["plan_id"])
    op.create_index("ix_draws_enrolment_id", "draws", ["enrolment_id"])
    op.create_index("ix_draws_status_due", "draws", ["status", "due_on"])

    op.create_table(
        "citizen_notices",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column(
            "citizen_id",
            PK,
            sa.ForeignKey("citizens.id", name="fk_citizen_notices_citizen_id_citizens"),
            nullable=False,
        ),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("dedupe_key", sa.String(120), nullable=False),
        sa.Column(
            "plan_id", PK, sa.ForeignKey("installment_plans.id", name="fk_citizen_notices_plan_id_installment_plans")
        ),
        sa.Column("draw_id", PK, sa.ForeignKey("draws.id", name="fk_citizen_notices_draw_id_draws")),
        sa.Column("claim_id", PK, sa.ForeignKey("claims.id", name="fk_citizen_notices_claim_id_claims")),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("dedupe_key", name="uq_citizen_notices_dedupe_key"),
    )
    op.create_index("ix_citizen_notices_citizen_id", "citizen_notices", ["citizen_id"])

    op.create_table(
        "caseworker_items",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("dedupe_key", sa.String(120), nullable=False),
        sa.Column(
            "citizen_id",
            PK,
            sa.ForeignKey("citizens.id", name="fk_caseworker_items_citizen_id_citizens"),
            nullable=False,
        ),
        sa.Column(
            "plan_id", PK, sa.ForeignKey("installment_plans.id", name="fk_caseworker_items_plan_id_installment_plans")
        ),
        sa.Column("draw_id", PK, sa.ForeignKey("draws.id", name="fk_caseworker_items_draw_id_draws")),
        sa.Column("claim_id", PK, sa.ForeignKey("claims.id", name="fk_caseworker_items_claim_id_claims")),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.UniqueConstraint("dedupe_key", name="uq_caseworker_items_dedupe_key"),
    )
    op.create_index("ix_caseworker_items_citizen_id", "caseworker_items", ["citizen_id"])
    op.create_index("ix_caseworker_items_kind_created", "caseworker_items", ["kind", "created_at"])

    with op.batch_alter_table("ledger_entries") as batch_op:
        batch_op.add_column(sa.Column("draw_id", PK))
        batch_op.create_foreign_key("fk_ledger_entries_draw_id_draws", "draws", ["draw_id"], ["id"])
    with op.batch_alter_table("installment_plans") as batch_op:
        batch_op.add_column(sa.Column("ended_at", TS))
        batch_op.add_column(sa.Column("end_reason", sa.String(40)))
    with op.batch_alter_table("plan_claims") as batch_op:
        batch_op.add_column(sa.Column("left_at", TS))
        batch_op.add_column(sa.Column("left_reason", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("plan_claims") as batch_op:
        batch_op.drop_column("left_reason")
        batch_op.drop_column("left_at")
    with op.batch_alter_table("installment_plans") as batch_op:
        batch_op.drop_column("end_reason")
        batch_op.drop_column("ended_at")
    with op.batch_alter_table("ledger_entries") as batch_op:
        batch_op.drop_constraint("fk_ledger_entries_draw_id_draws", type_="foreignkey")
        batch_op.drop_column("draw_id")
    op.drop_table("caseworker_items")
    op.drop_table("citizen_notices")
    op.drop_table("draws")
