"""Each claim's outstanding amount, kept by triggers on the ledger entries (issue 12: the caseworkers' portfolio
summed all 2,000,000 entries of the bulk ledger on every request; it now sums 200,000 claim balances)

The balance is the sum of the claim's entries, changed in the same statement as the entries that change it:
row triggers on SQLite; on PostgreSQL statement triggers with transition tables, one grouped upsert per
statement, in claim order (a bulk import of thousands of entries costs one statement, not one per entry). The
triggers are created before the backfill: on PostgreSQL creating them locks ``ledger_entries`` against writes
until this migration commits, so no entry is counted twice or missed.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_FUNCTION = """
CREATE FUNCTION ledger_entries_claim_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO claim_balances (claim_id, outstanding_oere)
        SELECT claim_id, SUM(amount_oere) FROM new_entries GROUP BY claim_id ORDER BY claim_id
        ON CONFLICT (claim_id) DO UPDATE
            SET outstanding_oere = claim_balances.outstanding_oere + excluded.outstanding_oere;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO claim_balances (claim_id, outstanding_oere)
        SELECT claim_id, -SUM(amount_oere) FROM old_entries GROUP BY claim_id ORDER BY claim_id
        ON CONFLICT (claim_id) DO UPDATE
            SET outstanding_oere = claim_balances.outstanding_oere + excluded.outstanding_oere;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO claim_balances (claim_id, outstanding_oere)
        SELECT claim_id, SUM(amount_oere) FROM (
            SELECT claim_id, amount_oere FROM new_entries
            UNION ALL
            SELECT claim_id, -amount_oere FROM old_entries
        ) AS changed
        GROUP BY claim_id HAVING SUM(amount_oere) <> 0 ORDER BY claim_id
        ON CONFLICT (claim_id) DO UPDATE
            SET outstanding_oere = claim_balances.outstanding_oere + excluded.outstanding_oere;
    ELSIF TG_OP = 'TRUNCATE' THEN
        DELETE FROM claim_balances;
    END IF;
    RETURN NULL;
END
$$
"""

_PG_TRIGGERS = (
    "CREATE TRIGGER trg_ledger_entries_balance_insert AFTER INSERT ON ledger_entries "
    "REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_claim_balances()",
    "CREATE TRIGGER trg_ledger_entries_balance_update AFTER UPDATE ON ledger_entries "
    "REFERENCING OLD TABLE AS old_entries NEW TABLE AS new_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_claim_balances()",
    "CREATE TRIGGER trg_ledger_entries_balance_delete AFTER DELETE ON ledger_entries "
    "REFERENCING OLD TABLE AS old_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_claim_balances()",
    "CREATE TRIGGER trg_ledger_entries_balance_truncate AFTER TRUNCATE ON ledger_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_claim_balances()",
)

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER trg_ledger_entries_balance_insert AFTER INSERT ON ledger_entries BEGIN
        INSERT INTO claim_balances (claim_id, outstanding_oere) VALUES (NEW.claim_id, NEW.amount_oere)
            ON CONFLICT (claim_id) DO UPDATE
                SET outstanding_oere = claim_balances.outstanding_oere + excluded.outstanding_oere;
    END""",
    """CREATE TRIGGER trg_ledger_entries_balance_update AFTER UPDATE OF claim_id, amount_oere ON ledger_entries
    BEGIN
        INSERT INTO claim_balances (claim_id, outstanding_oere) VALUES (OLD.claim_id, -OLD.amount_oere)
            ON CONFLICT (claim_id) DO UPDATE
                SET outstanding_oere = claim_balances.outstanding_oere + excluded.outstanding_oere;
        INSERT INTO claim_balances (claim_id, outstanding_oere) VALUES (NEW.claim_id, NEW.amount_oere)
            ON CONFLICT (claim_id) DO UPDATE
                SET outstanding_oere = claim_balances.outstanding_oere + excluded.outstanding_oere;
    END""",
    """CREATE TRIGGER trg_ledger_entries_balance_delete AFTER DELETE ON ledger_entries BEGIN
        INSERT INTO claim_balances (claim_id, outstanding_oere) VALUES (OLD.claim_id, -OLD.amount_oere)
            ON CONFLICT (claim_id) DO UPDATE
                SET outstanding_oere = claim_balances.outstanding_oere + excluded.outstanding_oere;
    END""",
)

_TRIGGER_NAMES = ("insert", "update", "delete", "truncate")


def upgrade() -> None:
    op.create_table(
        "claim_balances",
        sa.Column("claim_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("outstanding_oere", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name="fk_claim_balances_claim_id_claims", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("claim_id", name="pk_claim_balances"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(
        "INSERT INTO claim_balances (claim_id, outstanding_oere) "
        "SELECT claim_id, SUM(amount_oere) FROM ledger_entries GROUP BY claim_id"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in _TRIGGER_NAMES if postgresql else _TRIGGER_NAMES[:3]:
        op.execute(f"DROP TRIGGER trg_ledger_entries_balance_{name}" + (" ON ledger_entries" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION ledger_entries_claim_balances()")
    op.drop_table("claim_balances")
