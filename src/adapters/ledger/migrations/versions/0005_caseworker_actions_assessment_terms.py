"""The caseworker's workplace (issue 12): the terms version a plan was accepted on and how, the individual
assessment's reason, decision, message to the citizen and counter-offer, the access log's who (name, unit) and
why (purpose), and payment requests (a link to pay ticked claims, sent by a caseworker)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("installment_plans") as batch_op:
        batch_op.add_column(sa.Column("terms_version", sa.String(40)))
        batch_op.add_column(sa.Column("terms_accepted_via", sa.String(20)))
        batch_op.add_column(sa.Column("assessment_reason", sa.Text()))
        batch_op.add_column(sa.Column("assessment_outcome", sa.String(20)))
        batch_op.add_column(sa.Column("assessed_by", sa.String(80)))
        batch_op.add_column(sa.Column("assessed_at", TS))
        batch_op.add_column(sa.Column("message_to_citizen", sa.Text()))
        batch_op.add_column(sa.Column("counter_offer_monthly_oere", sa.BigInteger()))
        batch_op.add_column(sa.Column("counter_offer_months", sa.Integer()))
    # Plans approved before: their decision is known (the note stays the caseworkers' internal note).
    plans = sa.table(
        "installment_plans",
        sa.column("approved_by"),
        sa.column("approved_at"),
        sa.column("assessment_outcome"),
        sa.column("assessed_by"),
        sa.column("assessed_at"),
    )
    op.execute(
        sa.update(plans)
        .where(plans.c.approved_at.is_not(None))
        .values(assessment_outcome="APPROVED", assessed_by=plans.c.approved_by, assessed_at=plans.c.approved_at)
    )

    with op.batch_alter_table("access_log") as batch_op:
        batch_op.add_column(sa.Column("actor_name", sa.String(200)))
        batch_op.add_column(sa.Column("actor_unit", sa.String(200)))
        batch_op.add_column(sa.Column("purpose", sa.String(500)))

    op.create_table(
        "payment_requests",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column(
            "citizen_id",
            PK,
            sa.ForeignKey("citizens.id", name="fk_payment_requests_citizen_id_citizens"),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(80), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_payment_requests_citizen_id", "payment_requests", ["citizen_id"])
    op.create_table(
        "payment_request_claims",
        sa.Column(
            "request_id",
            PK,
            sa.ForeignKey("payment_requests.id", name="fk_payment_request_claims_request_id_payment_requests"),
            primary_key=True,
        ),
        sa.Column(
            "claim_id",
            PK,
            sa.ForeignKey("claims.id", name="fk_payment_request_claims_claim_id_claims"),
            primary_key=True,
        ),
    )
    with op.batch_alter_table("citizen_notices") as batch_op:
        batch_op.add_column(sa.Column("payment_request_id", PK))
        batch_op.create_foreign_key(
            "fk_citizen_notices_payment_request_id_payment_requests", "payment_requests", ["payment_request_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("citizen_notices") as batch_op:
        batch_op.drop_constraint("fk_citizen_notices_payment_request_id_payment_requests", type_="foreignkey")
        batch_op.drop_column("payment_request_id")
    op.drop_table("payment_request_claims")
    op.drop_index("ix_payment_requests_citizen_id", table_name="payment_requests")
    op.drop_table("payment_requests")
    with op.batch_alter_table("access_log") as batch_op:
        batch_op.drop_column("purpose")
        batch_op.drop_column("actor_unit")
        batch_op.drop_column("actor_name")
    with op.batch_alter_table("installment_plans") as batch_op:
        for column in (
            "counter_offer_months",
            "counter_offer_monthly_oere",
            "message_to_citizen",
            "assessed_at",
            "assessed_by",
            "assessment_outcome",
            "assessment_reason",
            "terms_accepted_via",
            "terms_version",
        ):
            batch_op.drop_column(column)
