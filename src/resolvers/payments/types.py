"""Payments in GraphQL: automatic payment (PaymentMethod, MobilePayAccount) and one-off payments (Payment)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from adapters.ledger.queries import EnrolmentRow, MobilePayAccountRow, PaymentRow
from gateway.domain.clock import today
from gateway.domain.enrolments import EnrolmentStatus
from resolvers.claims.types import Claim, load_claims
from resolvers.common import ids
from resolvers.common.types import Money, Node, money
from resolvers.context import Info
from resolvers.loaders.base import present
from resolvers.plans.draws import Draw, next_draw
from resolvers.plans.types import InstallmentPlan

strawberry.enum(EnrolmentStatus, name="PaymentMethodStatus")


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
    def from_row(cls, r: MobilePayAccountRow) -> MobilePayAccount:
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
    def from_row(cls, r: EnrolmentRow) -> PaymentMethod:
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
        return InstallmentPlan.from_row(present(await info.context.loaders.plan.load(self.plan_pk)))

    @strawberry.field(description="The claims it covers, if it covers bills.")
    async def claims(self, info: Info) -> list[Claim]:
        links = await info.context.loaders.enrolment_claims.load(self.pk)
        return await load_claims(info, (link.claim_id for link in links))

    @strawberry.field(description="Every collection taken (or invoiced) through it, by date (R6).")
    async def draws(self, info: Info) -> list[Draw]:
        return [Draw.from_row(r) for r in await info.context.loaders.draws_by_enrolment.load(self.pk)]

    @strawberry.field(description="The next collection to look for on the account, if any (R6).")
    async def next_draw(self, info: Info) -> Draw | None:
        return next_draw(await info.context.loaders.draws_by_enrolment.load(self.pk), today())


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
        return Claim.from_row(present(await info.context.loaders.claim.load(self.claim_pk)))


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
    def from_row(cls, r: PaymentRow) -> Payment:
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
        return await load_claims(info, (link.claim_id for link in links))

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
