"""The municipal debt ledger: SQLAlchemy 2 models, identical on SQLite and PostgreSQL.

Amounts are integer øre (BIGINT). A claim's outstanding amount is the sum of its ledger entries
(charges, interest and fees positive; payments negative; adjustments either way); its statement is
those entries in posting order with a running balance.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identity columns.
PK = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that comes back with its UTC offset on both databases (SQLite stores none), so every
    timestamp the API shows carries one."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utc_column() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), nullable=False)


def new_provider_key() -> str:
    """A random key for one row's dealings with the payment provider (32 hex digits)."""
    return uuid.uuid4().hex


def provider_key_column() -> Mapped[str]:
    """The row's own key at the payment provider: its idempotency keys and references are derived from it, never
    from the row's id, so two ledgers on one provider account (staging and production, a restored database)
    never collide. Set on insert."""
    return mapped_column(String(32), unique=True, nullable=False, default=new_provider_key)


class Citizen(Base):
    """borger"""

    __tablename__ = "citizens"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    cpr: Mapped[str] = mapped_column(String(10), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = utc_column()
    updated_at: Mapped[datetime] = utc_column()
    # Raised in the same transaction as every write that changes what this citizen can read (see
    # adapters.ledger.versions); with id and created_at it keys the response cache exactly.
    data_version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")


class Department(Base):
    """afsender: the municipal department that sent a claim (R7: questions go to it)."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    web: Mapped[str | None] = mapped_column(String(300))
    # [{"weekday": "TUESDAY", "opens": "09:00", "closes": "12:00"}, ...]
    phone_hours: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False, default=list)


class Claim(Base):
    """krav / gældspost"""

    __tablename__ = "claims"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    issued_on: Mapped[date] = mapped_column(Date, nullable=False)
    due_on: Mapped[date] = mapped_column(Date, nullable=False)
    original_amount_oere: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = utc_column()
    updated_at: Mapped[datetime] = utc_column()

    __table_args__ = (Index("ix_claims_citizen_due", "citizen_id", "due_on"),)


class ClaimCollectionStatus(Base):
    """The last status Gældsstyrelsen gave for a claim (``gateway.domain.collection.CollectionStatus``) and when:
    recorded by the worker as it asks, so that the caseworkers' portfolio can count claims by collection status
    without asking about the whole ledger. A claim without a row has never been asked about (UNKNOWN)."""

    __tablename__ = "claim_collection_statuses"
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, index=True)


class LedgerEntry(Base):
    """A posting on a claim: CHARGE, INTEREST, FEE, PAYMENT or ADJUSTMENT (signed øre)."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), nullable=False)
    posted_on: Mapped[date] = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    # For PAYMENT/ADJUSTMENT entries: which component they settle (FEE, INTEREST, PRINCIPAL), if known.
    component: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(300), nullable=False)
    amount_oere: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Identity in the source system (import) so re-importing updates instead of duplicating.
    external_ref: Mapped[str | None] = mapped_column(String(80))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    # Set on the entries a monthly draw posted (a charged MobilePay charge or Betalingsservice instruction).
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("draws.id"))
    created_at: Mapped[datetime] = utc_column()

    __table_args__ = (
        Index("ix_ledger_entries_claim_posted", "claim_id", "posted_on", "id"),
        UniqueConstraint("claim_id", "external_ref", name="uq_ledger_entries_claim_external_ref"),
    )


class ClaimBalance(Base):
    """A claim's outstanding amount: the sum of its ledger entries, kept by the database itself. Triggers on
    ``ledger_entries`` (migration 0007: row triggers on SQLite, statement triggers with transition tables on
    PostgreSQL) add every insert, update and delete of an entry to its claim's row in the same statement, so it
    is never behind the entries, whoever writes them (the importer, payments, draws, a test). The caseworkers'
    portfolio sums these instead of the whole ledger (issue 12). A claim that never had an entry has no row."""

    __tablename__ = "claim_balances"
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True)
    outstanding_oere: Mapped[int] = mapped_column(BigInteger, nullable=False)


class InstallmentPlan(Base):
    """afdragsordning"""

    __tablename__ = "installment_plans"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    principal_oere: Mapped[int] = mapped_column(BigInteger, nullable=False)
    monthly_amount_oere: Mapped[int] = mapped_column(BigInteger, nullable=False)
    months: Mapped[int] = mapped_column(Integer, nullable=False)
    day_of_month: Mapped[int] = mapped_column(Integer, nullable=False)
    excludes_future_interest: Mapped[bool] = mapped_column(Boolean, nullable=False)
    assessment_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    terms_accepted_at: Mapped[datetime] = utc_column()
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = utc_column()
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The caseworkers' internal note on the assessment (approve, reject or counter-offer): never shown to the citizen.
    approval_note: Mapped[str | None] = mapped_column(Text)
    # The terms the citizen accepted (gateway.domain.terms), and how: ONLINE (their own click) or PHONE (a
    # caseworker recorded it on the phone). NULL for plans made before terms were versioned.
    terms_version: Mapped[str | None] = mapped_column(String(40))
    terms_accepted_via: Mapped[str | None] = mapped_column(String(20))
    # The individual assessment (R11): the citizen's reason for asking, and the caseworker's decision (APPROVED,
    # REJECTED, COUNTER_OFFERED), by whom and when, the message shown to the citizen, and a counter-offer's terms.
    assessment_reason: Mapped[str | None] = mapped_column(Text)
    assessment_outcome: Mapped[str | None] = mapped_column(String(20))
    assessed_by: Mapped[str | None] = mapped_column(String(80))
    assessed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    message_to_citizen: Mapped[str | None] = mapped_column(Text)
    counter_offer_monthly_oere: Mapped[int | None] = mapped_column(BigInteger)
    counter_offer_months: Mapped[int | None] = mapped_column(Integer)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(80))
    # When it became COMPLETED or DEFAULTED (or ended because no claim was left in it), and why.
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (Index("ix_installment_plans_status_created", "status", "created_at"),)


class PlanClaim(Base):
    """A claim in a plan. ``live_claim_id`` is the claim id while the plan is live (pending or active)
    and NULL afterwards: its unique constraint makes "one live plan per claim" hold under races on
    both databases (NULLs never collide)."""

    __tablename__ = "plan_claims"
    plan_id: Mapped[int] = mapped_column(ForeignKey("installment_plans.id"), primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    outstanding_oere: Mapped[int] = mapped_column(BigInteger, nullable=False)
    live_claim_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # Set when the claim left a live plan because Gældsstyrelsen took it for collection (R14).
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    left_reason: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (Index("ix_plan_claims_claim", "claim_id"),)


class Installment(Base):
    __tablename__ = "installments"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("installment_plans.id"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    due_on: Mapped[date] = mapped_column(Date, nullable=False)
    amount_oere: Mapped[int] = mapped_column(BigInteger, nullable=False)
    paid_oere: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)

    __table_args__ = (UniqueConstraint("plan_id", "number", name="uq_installments_plan_number"),)


class MobilePayAccount(Base):
    """One of a citizen's MobilePay accounts (R4: e.g. a budget account)."""

    __tablename__ = "mobilepay_accounts"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    masked_number: Mapped[str] = mapped_column(String(40), nullable=False)
    provider_ref: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Enrolment(Base):
    """An automatic-payment enrolment: a Betalingsservice mandate or a MobilePay subscription."""

    __tablename__ = "enrolments"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    mobilepay_account_id: Mapped[int | None] = mapped_column(ForeignKey("mobilepay_accounts.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("installment_plans.id"))
    # Set while live (PENDING/ACTIVE), NULL after: at most one live enrolment per plan.
    live_plan_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    provider_ref: Mapped[str | None] = mapped_column(String(80), unique=True)
    provider_sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    confirmation_url: Mapped[str | None] = mapped_column(String(500))
    requested_at: Mapped[datetime] = utc_column()
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    provider_key: Mapped[str] = provider_key_column()
    # When the status poll last asked the provider about it (the poll takes the least recently asked first).
    polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_enrolments_status_polled", "status", "polled_at"),)


class EnrolmentClaim(Base):
    __tablename__ = "enrolment_claims"
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    live_claim_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class Payment(Base):
    """A one-off payment by card or MobilePay (R3)."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False, index=True)
    method: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    amount_oere: Mapped[int] = mapped_column(BigInteger, nullable=False)
    provider_ref: Mapped[str | None] = mapped_column(String(80), unique=True)
    provider_sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    redirect_url: Mapped[str | None] = mapped_column(String(500))
    return_url: Mapped[str] = mapped_column(String(500), nullable=False)
    created_at: Mapped[datetime] = utc_column()
    updated_at: Mapped[datetime] = utc_column()
    captured_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    provider_key: Mapped[str] = provider_key_column()
    # When the status poll last asked the provider about it (the poll takes the least recently asked first).
    polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # How often the provider refused it (404, 4xx): after a bounded number it ends FAILED with the reason.
    provider_refusals: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    failure_reason: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (Index("ix_payments_status_polled", "status", "polled_at"),)


class PaymentClaim(Base):
    """The claims a payment was started for (the citizen's ticks, R3)."""

    __tablename__ = "payment_claims"
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)


class AccessLogEntry(Base):
    """Who looked at whose data (citizens may ask to see this)."""

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = utc_column()
    actor_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[str] = mapped_column(String(80), nullable=False)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    operation: Mapped[str] = mapped_column(String(80), nullable=False)
    request_id: Mapped[str] = mapped_column(String(64), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)
    # Who, for people: the caseworker's name and unit as their token said at the time (NULL where it said nothing),
    # and why they acted on the citizen's behalf (required for such actions; gateway.domain.acting).
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_unit: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_access_log_citizen_at", "citizen_id", "at"),)


class IdempotencyRecord(Base):
    """A mutation's idempotency key, scoped per actor, with the payload it produced."""

    __tablename__ = "idempotency_keys"
    actor: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    operation: Mapped[str] = mapped_column(String(60), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    response: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = utc_column()


class WebhookEvent(Base):
    """Provider webhook events already processed (redelivery is a no-op)."""

    __tablename__ = "webhook_events"
    event_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    received_at: Mapped[datetime] = utc_column()
    event_type: Mapped[str] = mapped_column(String(60), nullable=False)


class Draw(Base):
    """One collection for an installment (or a bill enrolled directly): a MobilePay Recurring charge, a
    Betalingsservice payment instruction, or an invoice (opkrævning) sent to Digital Post.

    ``draw_key`` ("installment:<id>", "bill:<enrolment>:<claim>") is unique: whatever retries, restarts or
    workers do, an installment is drawn at most once. The provider's idempotency key is derived from it."""

    __tablename__ = "draws"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    draw_key: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False, index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("installment_plans.id"), index=True)
    installment_id: Mapped[int | None] = mapped_column(ForeignKey("installments.id"), index=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    channel: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    amount_oere: Mapped[int] = mapped_column(BigInteger, nullable=False)
    due_on: Mapped[date] = mapped_column(Date, nullable=False)
    provider_ref: Mapped[str | None] = mapped_column(String(80), unique=True)
    provider_sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failure_reason: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = utc_column()
    updated_at: Mapped[datetime] = utc_column()
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    provider_key: Mapped[str] = provider_key_column()

    __table_args__ = (Index("ix_draws_status_due", "status", "due_on"),)


class CitizenNotice(Base):
    """Something the citizen is told once it happened (a missed draw, an invoice to look for in Digital Post,
    a plan that ended, a claim that left a plan). ``dedupe_key`` makes every notice happen once."""

    __tablename__ = "citizen_notices"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("installment_plans.id"))
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("draws.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    created_at: Mapped[datetime] = utc_column()
    # A caseworker sent the citizen a link to pay these claims (PAYMENT_REQUESTED).
    payment_request_id: Mapped[int | None] = mapped_column(ForeignKey("payment_requests.id"))


class PaymentRequest(Base):
    """A caseworker asked the citizen, on the phone, to pay ticked claims: the citizen gets a notice with a link
    and pays in their own session (a caseworker never handles card data)."""

    __tablename__ = "payment_requests"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False, index=True)
    requested_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = utc_column()


class PaymentRequestClaim(Base):
    __tablename__ = "payment_request_claims"
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id"), primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)


class CaseworkerItem(Base):
    """An item for Betalingskontoret's work queues (a missed draw, a defaulted plan, a claim that left a plan
    for collection). ``dedupe_key`` makes every item happen once; ``resolved_at`` closes it."""

    __tablename__ = "caseworker_items"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False, index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("installment_plans.id"))
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("draws.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    created_at: Mapped[datetime] = utc_column()
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_caseworker_items_kind_created", "kind", "created_at"),)


def table(model: type[Base]) -> Table:
    """A model's Core table, typed as such (``__table__`` is typed as a plain FromClause)."""
    return cast(Table, model.__table__)


class WorkQueueResolution(Base):
    """A work queue's item that a caseworker marked resolved (``gateway.domain.workqueues``): which queue, the item's
    key there (the keys a queue orders its items by: a plan's, a payment's, a draw's, an installment's or an
    enrolment's id, and for a claim that left a plan the plan's and the claim's), who, when, and their note for
    colleagues. One mark per item, ever: a second caseworker finds it resolved."""

    __tablename__ = "work_queue_resolutions"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    queue: Mapped[str] = mapped_column(String(40), nullable=False)
    key1: Mapped[int] = mapped_column(BigInteger, nullable=False)
    key2: Mapped[int] = mapped_column(BigInteger, nullable=False)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), nullable=False, index=True)
    resolved_by: Mapped[str] = mapped_column(String(80), nullable=False)
    resolver_name: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime] = utc_column()
    note: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (UniqueConstraint("queue", "key1", "key2", name="uq_work_queue_resolutions_queue_key1_key2"),)
