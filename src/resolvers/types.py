"""The read graph: Node, Money, connections, Citizen, Claim, Department, Statement, plans and payments.

The types form one connected graph (a claim shows its plan, a plan its claims), so they live together;
mutations live per domain (``plans.py``, ``payments.py``). Objects are built from ledger rows with plain
attributes; relations resolve through the per-request DataLoaders, so a page of claims costs a constant
number of SQL statements however many claims and statement lines it has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import strawberry
from sqlalchemy import Row
from strawberry.types.nodes import SelectedField

from gateway.domain.claims import ClaimKind, ClaimStatus, EntryKind, claim_status, statement_lines
from gateway.domain.collection import CollectionStatus, marker
from gateway.domain.contacts import ContactInfo
from gateway.domain.enrolments import EnrolmentStatus, installment_channel
from gateway.domain.errors import ErrorCode, GatewayError
from gateway.domain.money import CURRENCY, format_dkk, to_decimal_string
from resolvers.common import ids
from resolvers.common.errors import UserErrorCode
from resolvers.context import Context, Info

if TYPE_CHECKING:
    from resolvers.citizens import Citizen

T = TypeVar("T")

strawberry.enum(ClaimKind, description="What a claim is for (the kind of bill).")
strawberry.enum(ClaimStatus, description="OPEN while anything is outstanding, PAID when settled.")
strawberry.enum(EntryKind, name="StatementLineKind")
strawberry.enum(CollectionStatus, description="Whether Gældsstyrelsen holds the claim for collection (R14).")
strawberry.enum(EnrolmentStatus, name="PaymentMethodStatus")


# --- Node, Money, connections ------------------------------------------------------------------------


@strawberry.interface(description="An object with a global, opaque ID (never containing a CPR number).")
class Node:
    id: strawberry.ID


@strawberry.type(description="An amount of money. Never a float: `amountOere` is integer øre.")
class Money:
    # Plain attributes, filled in once: a resolver per field would cost more than formatting the strings.
    amount_oere: int = strawberry.field(description="The amount in øre (1 krone = 100 øre).")
    amount: str = strawberry.field(description='Decimal string in kroner, e.g. "350.00".')
    currency: str = strawberry.field(description="ISO 4217 currency code (always DKK).")
    formatted: str = strawberry.field(description='Danish display form, e.g. "1.234,50 kr.".')


def money(oere: int) -> Money:
    return Money(amount_oere=oere, amount=to_decimal_string(oere), currency=CURRENCY, formatted=format_dkk(oere))


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    total_count: int


DEFAULT_PAGE = 100


def check_page(info: Info, first: int | None, after: str | None) -> tuple[int, int]:
    limit = info.context.services.settings.max_page_size
    if first is None:
        first = min(DEFAULT_PAGE, limit)
    if first < 0 or first > limit:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_FIRST", max=limit)
    offset = 0
    if after is not None:
        try:
            offset = ids.decode_cursor(after) + 1
        except ids.InvalidGlobalId:
            raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_CURSOR") from None
    return first, offset


def paginate(items: Sequence[T], first: int, offset: int) -> Connection[T]:
    page = list(items[offset : offset + first])
    edges = [Edge(cursor=ids.encode_cursor(offset + i), node=n) for i, n in enumerate(page)]
    return Connection(
        edges=edges,
        nodes=page,
        page_info=PageInfo(
            has_next_page=offset + len(page) < len(items),
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=len(items),
    )


# --- Contacts ----------------------------------------------------------------------------------------


@strawberry.enum
class Weekday(Enum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


@strawberry.type(description="When a phone line is open, local Danish time.")
class PhoneHours:
    weekday: Weekday
    opens: str = strawberry.field(description='"09:00"')
    closes: str = strawberry.field(description='"12:00"')


@strawberry.type(description="How to reach someone: Betalingskontoret, a sending department or Gældsstyrelsen.")
class ContactDetails:
    name: str
    phone: str | None
    email: str | None
    address: str | None
    web: str | None
    phone_hours: list[PhoneHours]


def contact_details(c: ContactInfo) -> ContactDetails:
    return ContactDetails(
        name=c.name,
        phone=c.phone,
        email=c.email,
        address=c.address,
        web=c.web,
        phone_hours=[PhoneHours(weekday=Weekday(h.weekday), opens=h.opens, closes=h.closes) for h in c.phone_hours],
    )


@strawberry.type(
    description="A municipal department that sends claims (afsender). Questions about a bill go here (R7)."
)
class Department(Node):
    code: str
    name: str
    contact: ContactDetails

    @classmethod
    def from_row(cls, r: Row[Any]) -> Department:
        hours = [PhoneHours(weekday=Weekday(h["weekday"]), opens=h["opens"], closes=h["closes"]) for h in r.phone_hours]
        return cls(
            id=strawberry.ID(ids.encode("Department", r.id)),
            code=r.code,
            name=r.name,
            contact=ContactDetails(
                name=r.name, phone=r.phone, email=r.email, address=r.address, web=r.web, phone_hours=hours
            ),
        )


# --- Claims --------------------------------------------------------------------------------------------


@strawberry.type(description="One posting on a claim's statement (kontoudtog), with the balance after it.")
class StatementLine:
    posted_on: date
    kind: EntryKind
    text: str
    amount: Money
    balance_after: Money


@strawberry.type(description="A claim's statement: earlier charges and the payments made on it (R2).")
class Statement:
    lines: list[StatementLine]
    balance: Money


@strawberry.type(description='Whether Gældsstyrelsen holds the claim for collection. `marker` is "*" when it does.')
class Collection:
    status: CollectionStatus
    marker: str | None
    since: date | None
    return_reason: str | None = strawberry.field(
        description="Why Gældsstyrelsen returned the claim (when status is RETURNED)."
    )


@strawberry.type(description="What the citizen can do with a claim now, and why not.")
class Eligibility:
    can_pay: bool
    can_create_installment_plan: bool
    reasons: list[UserErrorCode]


@strawberry.input
class ClaimFilter:
    status: ClaimStatus | None = strawberry.UNSET


@strawberry.type(description="A claim (krav, gældspost) the citizen owes the municipality.")
class Claim(Node):
    reference: str
    title: str
    kind: ClaimKind
    issued_on: date
    due_on: date
    original_amount: Money
    outstanding: Money
    status: ClaimStatus
    pk: strawberry.Private[int]
    citizen_pk: strawberry.Private[int]
    department_pk: strawberry.Private[int]
    # Set by ``prefetch_claims`` for a page of claims, so these resolve without an await per claim.
    prefetched_sender: strawberry.Private[Department | None] = None
    prefetched_statement: strawberry.Private[Statement | None] = None

    @classmethod
    def from_row(cls, r: Row[Any]) -> Claim:
        return cls(
            id=strawberry.ID(ids.encode("Claim", r.id)),
            reference=r.reference,
            title=r.title,
            kind=ClaimKind(r.kind),
            issued_on=r.issued_on,
            due_on=r.due_on,
            original_amount=money(r.original_amount_oere),
            outstanding=money(r.outstanding_oere),
            status=claim_status(r.outstanding_oere),
            pk=r.id,
            citizen_pk=r.citizen_id,
            department_pk=r.department_id,
        )

    @strawberry.field(description="The sending department; questions about the bill go to it (R7).")
    def sender(self, info: Info) -> Department:
        # Plain value when the page that loaded this claim prefetched it; an awaitable otherwise.
        if self.prefetched_sender is not None:
            return self.prefetched_sender
        return self._load_sender(info)  # type: ignore[return-value]

    async def _load_sender(self, info: Info) -> Department:
        return Department.from_row(await info.context.loaders.department.load(self.department_pk))

    @strawberry.field(description="The claim's statement: charges, interest, fees and payments (R2).")
    def statement(self, info: Info) -> Statement:
        if self.prefetched_statement is not None:
            return self.prefetched_statement
        return self._load_statement(info)  # type: ignore[return-value]

    async def _load_statement(self, info: Info) -> Statement:
        return build_statement(await info.context.loaders.entries_by_claim.load(self.pk))

    @strawberry.field(description="Collection at Gældsstyrelsen (R14), asked live; UNKNOWN when it cannot be asked.")
    async def collection(self, info: Info) -> Collection:
        return await collection_of(info.context, self.reference, self.citizen_pk)

    @strawberry.field(description="The live installment plan this claim is in, if any.")
    async def installment_plan(self, info: Info) -> InstallmentPlan | None:
        plan_id = await live_plan_id(info.context, self.pk)
        if plan_id is None:
            return None
        return InstallmentPlan.from_row(await info.context.loaders.plan.load(plan_id))

    @strawberry.field(description="The live automatic-payment enrolment covering this claim, if any.")
    async def automatic_payment(self, info: Info) -> PaymentMethod | None:
        enrolment_id = await live_enrolment_id_for_claim(info.context, self.pk)
        if enrolment_id is None:
            return None
        return PaymentMethod.from_row(await info.context.loaders.enrolment.load(enrolment_id))

    @strawberry.field(description="Whether the claim can be paid now or put in a plan (R11, R14).")
    async def eligibility(self, info: Info) -> Eligibility:
        collection = await collection_of(info.context, self.reference, self.citizen_pk)
        in_plan = await live_plan_id(info.context, self.pk) is not None
        return eligibility(self.outstanding.amount_oere, collection.status, in_plan)


def build_statement(rows: Sequence[Row[Any]]) -> Statement:
    lines = statement_lines((r.id, r.posted_on, r.kind, r.text, r.amount_oere) for r in rows)
    return Statement(
        lines=[
            StatementLine(
                posted_on=ln.posted_on,
                kind=EntryKind(ln.kind),
                text=ln.text,
                amount=money(ln.amount_oere),
                balance_after=money(ln.balance_after_oere),
            )
            for ln in lines
        ],
        balance=money(lines[-1].balance_after_oere if lines else 0),
    )


async def prefetch_claims(info: Info, claims: Sequence[Claim]) -> None:
    """Resolve the senders and statements of a page of claims in two batched loads, run together, when the
    query asks for them: performance.md's "resolve a whole subtree in few awaits"."""
    wanted = _node_fields(info)
    loaders = info.context.loaders
    if claims and wanted & {"collection", "eligibility"} and _collection_warmer:
        # Ask Gældsstyrelsen now, without waiting: the call overlaps the ledger reads and the execution.
        _collection_warmer[0](info.context, claims[0].citizen_pk)
    jobs: list[Awaitable[Any]] = []
    if "sender" in wanted:
        jobs.append(loaders.department.load_many(list({c.department_pk for c in claims})))
    if "statement" in wanted:
        jobs.append(loaders.entries_by_claim.load_many([c.pk for c in claims]))
    if not jobs or not claims:
        return
    results = iter(await asyncio.gather(*jobs))
    if "sender" in wanted:
        departments = {row.id: Department.from_row(row) for row in next(results) if row is not None}
        for c in claims:
            c.prefetched_sender = departments.get(c.department_pk)
    if "statement" in wanted:
        for c, rows in zip(claims, next(results), strict=True):
            c.prefetched_statement = build_statement(rows)


def _node_fields(info: Info) -> set[str]:
    """Names of the fields asked for on the connection's nodes (``nodes { … }`` or ``edges { node { … } }``);
    with fragments in the way, every prefetchable field counts as asked (prefetching is only an optimisation)."""
    names: set[str] = set()

    def walk(selections: Sequence[Any], depth: int) -> None:
        for sel in selections:
            if not isinstance(sel, SelectedField):
                names.update(("sender", "statement", "collection"))
            elif depth == 0 and sel.name in ("nodes", "edges"):
                walk(sel.selections, 1 if sel.name == "nodes" else 2)
            elif depth == 2 and sel.name == "node":
                walk(sel.selections, 1)
            elif depth == 1:
                names.add(sel.name)

    for field in info.selected_fields:
        walk(field.selections, 0)
    return names


def eligibility(outstanding_oere: int, status: CollectionStatus, in_plan: bool) -> Eligibility:
    reasons: list[UserErrorCode] = []
    if outstanding_oere <= 0:
        reasons.append(UserErrorCode.CLAIM_NOT_OPEN)
    if status is CollectionStatus.AT_COLLECTION:
        reasons.append(UserErrorCode.CLAIM_AT_COLLECTION)
    elif status is CollectionStatus.UNKNOWN:
        reasons.append(UserErrorCode.COLLECTION_STATUS_UNAVAILABLE)
    if in_plan:
        reasons.append(UserErrorCode.CLAIM_ALREADY_IN_PLAN)
    return Eligibility(can_pay=outstanding_oere > 0, can_create_installment_plan=not reasons, reasons=reasons)


# Hooks filled in by the modules that own those concerns (collection: resolvers.collection).
CollectionLookup = Callable[[Context, str, int], Awaitable[Collection]]
_collection_lookup: list[CollectionLookup] = []
_collection_warmer: list[Callable[[Context, int], None]] = []


def register_collection_lookup(fn: CollectionLookup, warmer: Callable[[Context, int], None]) -> None:
    _collection_lookup[:] = [fn]
    _collection_warmer[:] = [warmer]


async def collection_of(ctx: Context, reference: str, citizen_pk: int) -> Collection:
    return await _collection_lookup[0](ctx, reference, citizen_pk)


def collection_view(status: CollectionStatus, since: date | None, return_reason: str | None) -> Collection:
    return Collection(status=status, marker=marker(status), since=since, return_reason=return_reason)


async def live_plan_id(ctx: Context, claim_pk: int) -> int | None:
    rows = await ctx.loaders.live_plan_by_claim.load(claim_pk)
    return rows[0].plan_id if rows else None


async def live_enrolment_id_for_claim(ctx: Context, claim_pk: int) -> int | None:
    rows = await ctx.loaders.live_enrolment_by_claim.load(claim_pk)
    return rows[0].enrolment_id if rows else None


# --- Installment plans -----------------------------------------------------------------------------


@strawberry.enum
class InstallmentPlanStatus(Enum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    DEFAULTED = "DEFAULTED"
    CANCELLED = "CANCELLED"


@strawberry.enum
class InstallmentChannel(Enum):
    AUTOMATIC = "AUTOMATIC"
    INVOICE = "INVOICE"


@strawberry.enum
class InstallmentStatus(Enum):
    UPCOMING = "UPCOMING"
    DUE = "DUE"
    PAID = "PAID"
    OVERDUE = "OVERDUE"
    CANCELLED = "CANCELLED"


@strawberry.type(description="One monthly installment of a plan.")
class Installment(Node):
    number: int
    due_on: date
    amount: Money
    paid: Money
    status: InstallmentStatus
    channel: InstallmentChannel = strawberry.field(
        description="AUTOMATIC when an ACTIVE enrolment covers the plan; otherwise an invoice in Digital Post (R10)."
    )


@strawberry.type(description="An installment plan (afdragsordning).")
class InstallmentPlan(Node):
    status: InstallmentPlanStatus
    principal: Money
    monthly_amount: Money
    months: int
    day_of_month: int
    excludes_future_interest: bool = strawberry.field(
        description="True when a beboerindskudslån is included: interest accruing after the plan "
        "is not part of it (R13)."
    )
    assessment_requested: bool
    terms_accepted_at: datetime
    created_at: datetime
    created_by: str
    approved_by: str | None
    approved_at: datetime | None
    approval_note: str | None
    cancelled_at: datetime | None
    pk: strawberry.Private[int]
    citizen_pk: strawberry.Private[int]
    status_raw: strawberry.Private[str]

    @classmethod
    def from_row(cls, r: Row[Any]) -> InstallmentPlan:
        return cls(
            id=strawberry.ID(ids.encode("InstallmentPlan", r.id)),
            status=InstallmentPlanStatus(r.status),
            principal=money(r.principal_oere),
            monthly_amount=money(r.monthly_amount_oere),
            months=r.months,
            day_of_month=r.day_of_month,
            excludes_future_interest=r.excludes_future_interest,
            assessment_requested=r.assessment_requested,
            terms_accepted_at=r.terms_accepted_at,
            created_at=r.created_at,
            created_by=r.created_by,
            approved_by=r.approved_by,
            approved_at=r.approved_at,
            approval_note=r.approval_note,
            cancelled_at=r.cancelled_at,
            pk=r.id,
            citizen_pk=r.citizen_id,
            status_raw=r.status,
        )

    @strawberry.field(description="The citizen the plan belongs to.")
    async def citizen(self, info: Info) -> Annotated[Citizen, strawberry.lazy("resolvers.citizens")]:
        from resolvers.citizens import Citizen

        return Citizen.from_row(await info.context.loaders.citizen.load(self.citizen_pk))

    @strawberry.field
    async def claims(self, info: Info) -> list[Claim]:
        links = await info.context.loaders.plan_claims.load(self.pk)
        rows = await info.context.loaders.claim.load_many([link.claim_id for link in links])
        return [Claim.from_row(r) for r in rows if r is not None]

    @strawberry.field(description="The live automatic-payment enrolment covering this plan (R9), if any.")
    async def payment_method(self, info: Info) -> PaymentMethod | None:
        rows = await info.context.loaders.live_enrolment_by_plan.load(self.pk)
        return PaymentMethod.from_row(rows[0]) if rows else None

    @strawberry.field
    async def installments(self, info: Info) -> list[Installment]:
        return await self.load_installments(info)

    async def load_installments(self, info: Info) -> list[Installment]:
        from gateway.domain.clock import today

        loaders = info.context.loaders
        rows, enrolment, paid_rows = await asyncio.gather(
            loaders.installments_by_plan.load(self.pk),
            loaders.live_enrolment_by_plan.load(self.pk),
            loaders.paid_into_plan.load(self.pk),
        )
        channel = InstallmentChannel(installment_channel(EnrolmentStatus(enrolment[0].status) if enrolment else None))
        now = today()
        # What has been paid on the plan's claims since it was made fills its installments in order.
        paid = installments_paid([r.amount_oere for r in rows], paid_rows[0].paid_oere if paid_rows else 0)
        return [
            Installment(
                id=strawberry.ID(ids.encode("Installment", r.id)),
                number=r.number,
                due_on=r.due_on,
                amount=money(r.amount_oere),
                paid=money(p),
                status=installment_status(self.status_raw, r.due_on, r.amount_oere, p, now),
                channel=channel,
            )
            for r, p in zip(rows, paid, strict=True)
        ]


def installments_paid(amounts: Sequence[int], paid_oere: int) -> list[int]:
    """Spread what was paid over the installments, earliest first."""
    remaining = max(paid_oere, 0)
    result = []
    for amount in amounts:
        part = min(amount, remaining)
        result.append(part)
        remaining -= part
    return result


def installment_status(plan_status: str, due_on: date, amount: int, paid: int, today: date) -> InstallmentStatus:
    if paid >= amount:
        return InstallmentStatus.PAID
    if plan_status == "CANCELLED":
        return InstallmentStatus.CANCELLED
    if due_on < today:
        return InstallmentStatus.OVERDUE
    if due_on == today:
        return InstallmentStatus.DUE
    return InstallmentStatus.UPCOMING


# --- Automatic payment and payments ------------------------------------------------------------------


@strawberry.enum
class PaymentMethodKind(Enum):
    BETALINGSSERVICE = "BETALINGSSERVICE"
    MOBILEPAY_SUBSCRIPTION = "MOBILEPAY_SUBSCRIPTION"


@strawberry.type(description="One of the citizen's MobilePay accounts, e.g. a budget account (R4).")
class MobilePayAccount(Node):
    name: str
    masked_number: str
    is_default: bool

    @classmethod
    def from_row(cls, r: Row[Any]) -> MobilePayAccount:
        return cls(
            id=strawberry.ID(ids.encode("MobilePayAccount", r.id)),
            name=r.name,
            masked_number=r.masked_number,
            is_default=r.is_default,
        )


@strawberry.type(description="An automatic-payment enrolment: Betalingsservice or a MobilePay subscription (R4, R5).")
class PaymentMethod(Node):
    kind: PaymentMethodKind
    status: EnrolmentStatus
    requested_at: datetime
    activated_at: datetime | None
    ended_at: datetime | None
    confirmation_url: str | None = strawberry.field(
        description="Where the citizen approves a MobilePay subscription (while PENDING)."
    )
    pk: strawberry.Private[int]
    citizen_pk: strawberry.Private[int]
    plan_pk: strawberry.Private[int | None]
    account_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, r: Row[Any]) -> PaymentMethod:
        return cls(
            id=strawberry.ID(ids.encode("PaymentMethod", r.id)),
            kind=PaymentMethodKind(r.kind),
            status=EnrolmentStatus(r.status),
            requested_at=r.requested_at,
            activated_at=r.activated_at,
            ended_at=r.ended_at,
            confirmation_url=r.confirmation_url if r.status == "PENDING" else None,
            pk=r.id,
            citizen_pk=r.citizen_id,
            plan_pk=r.plan_id,
            account_pk=r.mobilepay_account_id,
        )

    @strawberry.field(description="True while invoices still come to Digital Post because it is not active yet (R10).")
    def invoices_sent_meanwhile(self) -> bool:
        return self.status is EnrolmentStatus.PENDING

    @strawberry.field(description="The MobilePay account it draws on (MobilePay subscriptions).")
    async def mobile_pay_account(self, info: Info) -> MobilePayAccount | None:
        if self.account_pk is None:
            return None
        row = await info.context.loaders.account.load(self.account_pk)
        return MobilePayAccount.from_row(row) if row is not None else None

    @strawberry.field(description="The installment plan it covers (R9), if it covers a plan.")
    async def installment_plan(self, info: Info) -> InstallmentPlan | None:
        if self.plan_pk is None:
            return None
        return InstallmentPlan.from_row(await info.context.loaders.plan.load(self.plan_pk))

    @strawberry.field(description="The claims it covers, if it covers bills.")
    async def claims(self, info: Info) -> list[Claim]:
        links = await info.context.loaders.enrolment_claims.load(self.pk)
        rows = await info.context.loaders.claim.load_many([link.claim_id for link in links])
        return [Claim.from_row(r) for r in rows if r is not None]


@strawberry.enum
class PaymentKind(Enum):
    CARD = "CARD"
    MOBILEPAY = "MOBILEPAY"


@strawberry.enum
class PaymentStatus(Enum):
    CREATED = "CREATED"
    AUTHORIZED = "AUTHORIZED"
    CAPTURED = "CAPTURED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


@strawberry.enum
class AllocationComponent(Enum):
    FEE = "FEE"
    INTEREST = "INTEREST"
    PRINCIPAL = "PRINCIPAL"


@strawberry.type(description="How much of a captured payment went to one claim, and to which part of it.")
class PaymentAllocation:
    component: AllocationComponent
    amount: Money
    claim_pk: strawberry.Private[int]

    @strawberry.field
    async def claim(self, info: Info) -> Claim:
        return Claim.from_row(await info.context.loaders.claim.load(self.claim_pk))


@strawberry.type(description="A one-off payment by card or MobilePay (R3).")
class Payment(Node):
    method: PaymentKind
    status: PaymentStatus
    amount: Money
    redirect_url: str | None = strawberry.field(description="Send the citizen here to approve the payment.")
    created_at: datetime
    captured_at: datetime | None
    pk: strawberry.Private[int]
    citizen_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, r: Row[Any]) -> Payment:
        return cls(
            id=strawberry.ID(ids.encode("Payment", r.id)),
            method=PaymentKind(r.method),
            status=PaymentStatus(r.status),
            amount=money(r.amount_oere),
            redirect_url=r.redirect_url if r.status == "CREATED" else None,
            created_at=r.created_at,
            captured_at=r.captured_at,
            pk=r.id,
            citizen_pk=r.citizen_id,
        )

    @strawberry.field(description="The claims the citizen ticked for this payment.")
    async def claims(self, info: Info) -> list[Claim]:
        links = await info.context.loaders.payment_claims.load(self.pk)
        rows = await info.context.loaders.claim.load_many([link.claim_id for link in links])
        return [Claim.from_row(r) for r in rows if r is not None]

    @strawberry.field(description="Where the captured money went: per claim, fees, then interest, then principal.")
    async def allocations(self, info: Info) -> list[PaymentAllocation]:
        rows = await info.context.loaders.allocations_by_payment.load(self.pk)
        return [
            PaymentAllocation(
                component=AllocationComponent(r.component or "PRINCIPAL"),
                amount=money(-r.amount_oere),
                claim_pk=r.claim_id,
            )
            for r in rows
        ]
