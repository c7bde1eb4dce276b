"""Claims in GraphQL: Claim, its sender (Department), its Statement and what the citizen may do with it now.

Objects are built from ledger rows with plain attributes; relations resolve through the request's DataLoaders,
so a page of claims costs a constant number of SQL statements however many claims and statement lines it has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import partial
from operator import itemgetter
from typing import cast

import strawberry

from adapters.ledger.fastread import CLAIM_COLUMNS, DEPARTMENT_COLUMNS, ENTRY_COLUMNS, position
from adapters.ledger.queries import ClaimRow, DepartmentRow, EnrolmentRow, EntryRow, PlanRow
from gateway.domain.claims import ClaimKind, ClaimStatus, EntryKind, claim_status, statement_lines
from gateway.domain.claims import StatementLine as DomainLine
from gateway.domain.installments import eligibility as claim_eligibility
from resolvers.claims.collection import Collection, collection_in, collection_of
from resolvers.common import ids
from resolvers.common.contacts import ContactDetails, PhoneHours, Weekday
from resolvers.common.errors import UserErrorCode
from resolvers.common.lazy import LazyNode
from resolvers.common.mapping import Related, Tables, Value, attribute, column
from resolvers.common.types import Money, Node, money
from resolvers.context import Context, Info
from resolvers.loaders.base import present

# (id, posted_on, kind, text, amount_oere) of an entry row, as ``statement_lines`` takes them.
_ENTRY_FIELDS = itemgetter(*(position(ENTRY_COLUMNS, c) for c in ("id", "posted_on", "kind", "text", "amount_oere")))

# A claim shows its plan and its automatic payment, whose packages are above this one.
_PLAN = LazyNode[PlanRow]("resolvers.plans.types", "InstallmentPlan")
_PAYMENT_METHOD = LazyNode[EnrolmentRow]("resolvers.payments.types", "PaymentMethod")

strawberry.enum(ClaimKind, description="What a claim is for (the kind of bill).")
strawberry.enum(ClaimStatus, description="OPEN while anything is outstanding, PAID when settled.")
strawberry.enum(EntryKind, name="StatementLineKind")


@strawberry.type(
    description="A municipal department that sends claims (afsender). Questions about a bill go here (R7)."
)
class Department(Node):
    code: str
    name: str
    contact: ContactDetails

    @classmethod
    def from_row(cls, r: DepartmentRow) -> Department:
        return cls(id=strawberry.ID(ids.encode("Department", r.id)), code=r.code, name=r.name, contact=contact_of(r))


def contact_of(r: DepartmentRow) -> ContactDetails:
    hours = [PhoneHours(weekday=Weekday(h["weekday"]), opens=h["opens"], closes=h["closes"]) for h in r.phone_hours]
    return ContactDetails(name=r.name, phone=r.phone, email=r.email, address=r.address, web=r.web, phone_hours=hours)


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
    def from_row(cls, r: ClaimRow) -> Claim:
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
        return Department.from_row(present(await info.context.loaders.department.load(self.department_pk)))

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

    @strawberry.field(
        description="The live installment plan this claim is in, if any.", graphql_type=_PLAN.graphql_type | None
    )
    async def installment_plan(self, info: Info) -> Node | None:
        row = await live_plan_row(info.context, self.pk)
        return None if row is None else _PLAN.build(row)

    @strawberry.field(
        description="The live automatic-payment enrolment that draws this claim, if any: its own, or that of the "
        "installment plan it is in.",
        graphql_type=_PAYMENT_METHOD.graphql_type | None,
    )
    async def automatic_payment(self, info: Info) -> Node | None:
        row = await automatic_payment_row(info.context, self.pk)
        return None if row is None else _PAYMENT_METHOD.build(row)

    @strawberry.field(description="Whether the claim can be paid now or put in a plan (R11, R14).")
    async def eligibility(self, info: Info) -> Eligibility:
        return await eligibility_of(
            info.context, self.pk, self.reference, self.citizen_pk, self.outstanding.amount_oere
        )


# What the three fields above resolve to, by the claim's keys: the resolvers and the compiled read path
# (resolvers/compiled/relations.py) both call these, so the rules live in one place.


async def live_plan_row(ctx: Context, claim_pk: int) -> PlanRow | None:
    """The live installment plan the claim is in, if any."""
    plan_id = await live_plan_id(ctx, claim_pk)
    return None if plan_id is None else present(await ctx.loaders.plan.load(plan_id))


async def automatic_payment_row(ctx: Context, claim_pk: int) -> EnrolmentRow | None:
    """The live enrolment that draws the claim: its own, or that of the installment plan it is in."""
    loaders = ctx.loaders
    rows = await loaders.live_enrolment_by_claim.load(claim_pk)
    if rows:
        return present(await loaders.enrolment.load(rows[0].enrolment_id))
    # A claim is drawn by at most one live enrolment, directly or through its plan (ENROLMENT_ALREADY_ACTIVE).
    plan_id = await live_plan_id(ctx, claim_pk)
    if plan_id is None:
        return None
    through_plan = await loaders.live_enrolment_by_plan.load(plan_id)
    return through_plan[0] if through_plan else None


async def eligibility_of(
    ctx: Context, claim_pk: int, reference: str, citizen_pk: int, outstanding_oere: int
) -> Eligibility:
    """What the citizen can do with the claim now: the domain's rules on its collection status and plan."""
    collection = await collection_of(ctx, reference, citizen_pk)
    in_plan = await live_plan_id(ctx, claim_pk) is not None
    rules = claim_eligibility(outstanding_oere, collection.status, in_plan)
    return Eligibility(
        can_pay=rules.can_pay,
        can_create_installment_plan=rules.can_create_installment_plan,
        reasons=list(rules.reasons),
    )


def lines_of(rows: Sequence[EntryRow]) -> list[DomainLine]:
    """A claim's entries, in posting order, as statement lines with the balance after each. The rows are
    ``adapters.ledger.fastread``'s, read by position (on PostgreSQL an attribute costs a Python call)."""
    return statement_lines(map(_ENTRY_FIELDS, rows))  # type: ignore[arg-type]


class _LightStatementLine:
    """A StatementLine at run time (``build_statement``): five slots set positionally, the kind looked up in a dict
    and the two amounts made only when a query selects them. The overview shows ~200 lines, and a Strawberry
    dataclass with two eager Money objects per line cost more than the rest of the line's fields together."""

    __slots__ = ("_amount_oere", "_balance_after_oere", "kind", "posted_on", "text")

    def __init__(self, posted_on: date, kind: EntryKind, text: str, amount_oere: int, balance_after_oere: int) -> None:
        self.posted_on = posted_on
        self.kind = kind
        self.text = text
        self._amount_oere = amount_oere
        self._balance_after_oere = balance_after_oere

    @property
    def amount(self) -> Money:
        return money(self._amount_oere)

    @property
    def balance_after(self) -> Money:
        return money(self._balance_after_oere)


_ENTRY_KINDS = {kind.value: kind for kind in EntryKind}


def build_statement(rows: Sequence[EntryRow]) -> Statement:
    lines = lines_of(rows)
    light = [
        _LightStatementLine(ln.posted_on, _ENTRY_KINDS[ln.kind], ln.text, ln.amount_oere, ln.balance_after_oere)
        for ln in lines
    ]
    return Statement(
        lines=cast(list[StatementLine], light), balance=money(lines[-1].balance_after_oere if lines else 0)
    )


async def load_claims(info: Info, claim_ids: Iterable[int]) -> list[Claim]:
    """Claims by their ledger ids (a plan's, an enrolment's, a payment's), in that order, in one batched load."""
    rows = await info.context.loaders.claim.load_many(list(claim_ids))
    return [Claim.from_row(r) for r in rows if r is not None]


async def live_plan_id(ctx: Context, claim_pk: int) -> int | None:
    rows = await ctx.loaders.live_plan_by_claim.load(claim_pk)
    return rows[0].plan_id if rows else None


# --- the compiled read path's view of these types (resolvers/common/mapping.py) ---------------------------------
# Sources: a claim or department row read by position (adapters.ledger.fastread's columns), a statement as its
# domain lines, an amount as its øre. Each field here is what ``from_row``/``build_statement`` above make of it.
_C = partial(position, CLAIM_COLUMNS)
_D = partial(position, DEPARTMENT_COLUMNS)
_CLAIM_ID, _CLAIM_OUT, _CLAIM_REF, _CLAIM_KIND = _C("id"), _C("outstanding_oere"), _C("reference"), _C("kind")
# ``eligibility_of``'s arguments after the context.
_ELIGIBILITY_KEY = itemgetter(_CLAIM_ID, _CLAIM_REF, _C("citizen_id"), _CLAIM_OUT)

# The enums by their stored value: a dict lookup, where calling the enum would cost a Python-level call per line.
_CLAIM_KINDS = {k.value: k for k in ClaimKind}
_ENTRY_KINDS = {k.value: k for k in EntryKind}

COMPILED: Tables = {
    "Claim": {
        "id": Value(lambda r: ids.encode("Claim", r[_CLAIM_ID])),
        "reference": column(_CLAIM_REF),
        "title": column(_C("title")),
        "kind": Value(lambda r: _CLAIM_KINDS[r[_CLAIM_KIND]]),
        "issuedOn": column(_C("issued_on")),
        "dueOn": column(_C("due_on")),
        "originalAmount": column(_C("original_amount_oere")),
        "outstanding": column(_CLAIM_OUT),
        "status": Value(lambda r: claim_status(r[_CLAIM_OUT])),
        "sender": Related("department", itemgetter(_C("department_id")), lambda row, _r, _a: present(row)),
        "statement": Related("entries_by_claim", itemgetter(_CLAIM_ID), lambda rows, _r, _a: lines_of(rows)),
        "collection": Related(
            "collection", itemgetter(_C("citizen_id")), lambda states, r, _a: collection_in(states, r[_CLAIM_REF])
        ),
        # The three below are what ``live_plan_row``, ``automatic_payment_row`` and ``eligibility_of`` give, run for
        # all the claims of a level at once (the request's DataLoaders batch them as for the resolvers).
        "installmentPlan": Related(
            "live_plan", itemgetter(_CLAIM_ID), lambda row, _r, _a: None if row is None else _PLAN.build(row)
        ),
        "automaticPayment": Related(
            "automatic_payment",
            itemgetter(_CLAIM_ID),
            lambda row, _r, _a: None if row is None else _PAYMENT_METHOD.build(row),
        ),
        "eligibility": Related("eligibility", _ELIGIBILITY_KEY, lambda eligibility, _r, _a: eligibility),
    },
    "Department": {
        "id": Value(lambda r: ids.encode("Department", r[0])),
        "code": column(_D("code")),
        "name": column(_D("name")),
        "contact": Value(contact_of),
    },
    "Statement": {
        "lines": Value(lambda lines: lines),
        "balance": Value(lambda lines: lines[-1].balance_after_oere if lines else 0),
    },
    "StatementLine": {
        "postedOn": attribute("posted_on"),
        "kind": Value(lambda ln: _ENTRY_KINDS[ln.kind]),
        "text": attribute("text"),
        "amount": attribute("amount_oere"),
        "balanceAfter": attribute("balance_after_oere"),
    },
}
