"""Pay now (R3) and automatic payment (R4, R5, R9, R10) in GraphQL: startPayment, enrolAutomaticPayment,
stopAutomaticPayment. Thin: decode the input, call ``gateway.usecases.payments`` / ``.enrolments``, shape the
answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

from gateway.domain.cpr import valid_return_url
from gateway.domain.errors import ErrorCode, GatewayError, UserErrorCode
from gateway.usecases.idempotency import Outcome, Problems
from resolvers.common import ids
from resolvers.common.errors import UserError, user_errors
from resolvers.context import Context, Info
from resolvers.payments.types import Payment, PaymentKind, PaymentMethod, PaymentMethodKind

MAX_CLAIMS = 100


@strawberry.input
class StartPaymentInput:
    claim_ids: list[strawberry.ID] = strawberry.field(description="The ticked claims (R3); claims at collection too.")
    method: PaymentKind
    return_url: str = strawberry.field(description="Where the provider sends the citizen back afterwards.")
    idempotency_key: str
    amount: str | None = strawberry.field(
        default=None, description='Pay less than the total outstanding, e.g. "500.00". Default: everything.'
    )


@strawberry.type
class StartPaymentPayload:
    payment: Payment | None
    user_errors: list[UserError]


@strawberry.input
class EnrolAutomaticPaymentInput:
    kind: PaymentMethodKind
    idempotency_key: str
    claim_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Bills to enrol (or planId).")
    plan_id: strawberry.ID | None = strawberry.field(default=None, description="An installment plan to enrol (R9).")
    mobile_pay_account_id: strawberry.ID | None = strawberry.field(
        default=None, description="For MOBILEPAY_SUBSCRIPTION: which of the citizen's MobilePay accounts (R4)."
    )
    return_url: str | None = strawberry.field(
        default=None, description="For MobilePay: where the citizen returns after approving in the app."
    )


@strawberry.input
class StopAutomaticPaymentInput:
    payment_method_id: strawberry.ID
    idempotency_key: str


@strawberry.type
class PaymentMethodPayload:
    payment_method: PaymentMethod | None
    user_errors: list[UserError]


def payment_claim_pks(global_ids: list[strawberry.ID], field: str) -> tuple[list[int], Problems]:
    """The ticked claims' keys; an ID that is not a claim's, and a claim ticked twice, are reported per field."""
    if len(global_ids) > MAX_CLAIMS:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_INPUT")
    pks: list[int] = []
    problems: Problems = []
    for i, gid in enumerate(global_ids):
        pk = ids.decode_or_none(gid, "Claim")
        if pk is None:
            problems.append((UserErrorCode.CLAIM_NOT_FOUND, ["input", field, str(i)]))
        else:
            pks.append(pk)
    if len(set(pks)) != len(pks):
        problems.append((UserErrorCode.DUPLICATE_CLAIMS, ["input", field]))
    return pks, problems


async def start_payment(info: Info, input: StartPaymentInput) -> StartPaymentPayload:
    ctx = info.context
    viewer = ctx.require_citizen()
    if len(input.claim_ids) > MAX_CLAIMS:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_INPUT")
    citizen_id = await ctx.viewer_citizen_id()
    pks, problems = payment_claim_pks(input.claim_ids, "claimIds")
    if not input.claim_ids:
        problems.append((UserErrorCode.NO_CLAIMS_SELECTED, ["input", "claimIds"]))
    if not valid_return_url(input.return_url):
        problems.append((UserErrorCode.INVALID_RETURN_URL, ["input", "returnUrl"]))
    outcome = await ctx.services.payments.start(
        actor=viewer.actor_key,
        citizen_id=citizen_id,
        claim_ids=pks,
        problems=problems,
        method=input.method.value,
        return_url=input.return_url,
        amount=input.amount,
        idempotency_key=input.idempotency_key,
        payload={
            "claimIds": list(input.claim_ids),
            "method": input.method.value,
            "returnUrl": input.return_url,
            "amount": input.amount,
        },
    )
    payment = None
    if outcome.ok:
        row = await ctx.services.payments.payment(int(outcome.result["payment"]))
        payment = Payment.from_row(row) if row is not None else None
    return StartPaymentPayload(payment=payment, user_errors=user_errors(outcome.errors, ctx.language))


@dataclass(frozen=True)
class EnrolmentRequest:
    """An enrolment's input decoded: what the use-case needs, and what is wrong with it already."""

    kind: str
    claim_pks: list[int]
    plan_pk: int | None
    account_pk: int | None
    return_url: str
    problems: Problems
    payload: dict[str, Any]


def enrolment_request(ctx: Context, input: EnrolAutomaticPaymentInput) -> EnrolmentRequest:
    problems: Problems = []
    claim_pks: list[int] = []
    if (input.claim_ids is None) == (input.plan_id is None) or (input.claim_ids is not None and not input.claim_ids):
        problems.append((UserErrorCode.INVALID_INPUT, ["input", "claimIds"]))
    elif input.claim_ids is not None:
        claim_pks, problems = payment_claim_pks(input.claim_ids, "claimIds")
    plan_pk: int | None = None
    if input.plan_id is not None:
        plan_pk = ids.decode_or_none(input.plan_id, "InstallmentPlan")
        if plan_pk is None:
            problems.append((UserErrorCode.PLAN_NOT_FOUND, ["input", "planId"]))
    account_pk: int | None = None
    if input.kind is PaymentMethodKind.MOBILEPAY_SUBSCRIPTION:
        account_pk = ids.decode_or_none(input.mobile_pay_account_id or "", "MobilePayAccount")
        if account_pk is None:
            problems.append((UserErrorCode.MOBILEPAY_ACCOUNT_NOT_FOUND, ["input", "mobilePayAccountId"]))
    elif input.mobile_pay_account_id is not None:
        problems.append((UserErrorCode.INVALID_INPUT, ["input", "mobilePayAccountId"]))
    return_url = input.return_url or ctx.services.enrolments.default_return_url
    if not valid_return_url(return_url):
        problems.append((UserErrorCode.INVALID_RETURN_URL, ["input", "returnUrl"]))
    return EnrolmentRequest(
        kind=input.kind.value,
        claim_pks=claim_pks,
        plan_pk=plan_pk,
        account_pk=account_pk,
        return_url=return_url,
        problems=problems,
        payload={
            "kind": input.kind.value,
            "claimIds": input.claim_ids,
            "planId": input.plan_id,
            "mobilePayAccountId": input.mobile_pay_account_id,
            "returnUrl": input.return_url,
        },
    )


async def enrol_automatic_payment(info: Info, input: EnrolAutomaticPaymentInput) -> PaymentMethodPayload:
    ctx = info.context
    viewer = ctx.require_citizen()
    request = enrolment_request(ctx, input)
    outcome = await ctx.services.enrolments.enrol(
        actor=viewer.actor_key,
        citizen_id=await ctx.viewer_citizen_id(),
        kind=request.kind,
        claim_ids=request.claim_pks,
        plan_id=request.plan_pk,
        account_id=request.account_pk,
        return_url=request.return_url,
        problems=request.problems,
        idempotency_key=input.idempotency_key,
        payload=request.payload,
    )
    return await method_payload(ctx, outcome)


async def stop_automatic_payment(info: Info, input: StopAutomaticPaymentInput) -> PaymentMethodPayload:
    ctx = info.context
    viewer = ctx.require_citizen()
    outcome = await ctx.services.enrolments.stop(
        actor=viewer.actor_key,
        citizen_id=await ctx.viewer_citizen_id(),
        enrolment_id=ids.decode_or_none(input.payment_method_id, "PaymentMethod"),
        idempotency_key=input.idempotency_key,
        payload={"paymentMethodId": input.payment_method_id},
    )
    return await method_payload(ctx, outcome)


async def method_payload(ctx: Context, outcome: Outcome) -> PaymentMethodPayload:
    method = None
    if outcome.ok:
        row = await ctx.services.enrolments.enrolment(int(outcome.result["paymentMethod"]))
        method = PaymentMethod.from_row(row) if row is not None else None
    return PaymentMethodPayload(payment_method=method, user_errors=user_errors(outcome.errors, ctx.language))
