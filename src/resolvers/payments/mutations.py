"""Pay now (R3) and automatic payment (R4, R5, R9, R10): startPayment, enrolAutomaticPayment, stopAutomaticPayment."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import payments as store
from adapters.payments.client import PaymentsRejected, PaymentsUnavailable, looks_like_cpr
from gateway.domain.clock import utcnow
from gateway.domain.errors import ErrorCode, GatewayError, payments_unavailable
from gateway.domain.money import InvalidAmount, parse_oere
from resolvers.common import ids
from resolvers.common.errors import UserError, UserErrorCode, user_error
from resolvers.context import Context, Info
from resolvers.mutations import Outcome, recorded, run_idempotent
from resolvers.types import Payment, PaymentKind, PaymentMethod, PaymentMethodKind

MAX_CLAIMS = 100
ErrorList = list[tuple[UserErrorCode, list[str] | None]]


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


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    # A CPR-shaped number in a URL is refused here: it would reach the provider and its logs.
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(url) <= 500 and not looks_like_cpr(url)


def _decode_many(global_ids: list[strawberry.ID], type_name: str, field: str) -> tuple[list[int], ErrorList]:
    pks: list[int] = []
    errors: ErrorList = []
    for i, gid in enumerate(global_ids):
        try:
            pks.append(ids.decode_as(gid, type_name))
        except ids.InvalidGlobalId:
            errors.append((UserErrorCode.CLAIM_NOT_FOUND, ["input", field, str(i)]))
    if len(set(pks)) != len(pks):
        errors.append((UserErrorCode.DUPLICATE_CLAIMS, ["input", field]))
    return pks, errors


async def _owned_claims(
    conn: AsyncConnection, pks: list[int], citizen_id: int | None, field: str, *, lock: bool
) -> tuple[list[Row[Any]], ErrorList]:
    rows = {r.id: r for r in await store.claims_with_outstanding(conn, pks, lock=lock)} if pks else {}
    errors: ErrorList = []
    found = []
    for i, pk in enumerate(pks):
        row = rows.get(pk)
        if row is None or row.citizen_id != citizen_id:
            errors.append((UserErrorCode.CLAIM_NOT_FOUND, ["input", field, str(i)]))
        elif row.outstanding_oere <= 0:
            errors.append((UserErrorCode.CLAIM_NOT_OPEN, ["input", field, str(i)]))
        else:
            found.append(row)
    return found, errors


# --- startPayment --------------------------------------------------------------------------------------------


async def start_payment(info: Info, input: StartPaymentInput) -> StartPaymentPayload:
    ctx = info.context
    ctx.require_citizen()
    if len(input.claim_ids) > MAX_CLAIMS:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_INPUT")
    citizen_id = await ctx.viewer_citizen_id()
    pks, errors = _decode_many(input.claim_ids, "Claim", "claimIds")
    if not input.claim_ids:
        errors.append((UserErrorCode.NO_CLAIMS_SELECTED, ["input", "claimIds"]))
    if not _valid_url(input.return_url):
        errors.append((UserErrorCode.INVALID_RETURN_URL, ["input", "returnUrl"]))
    requested: int | None = None
    if input.amount is not None:
        try:
            requested = parse_oere(input.amount)
        except InvalidAmount:
            errors.append((UserErrorCode.INVALID_AMOUNT, ["input", "amount"]))
    payload = {
        "claimIds": list(input.claim_ids),
        "method": input.method.value,
        "returnUrl": input.return_url,
        "amount": input.amount,
    }

    async def work(conn: AsyncConnection) -> Outcome:
        if errors:
            return Outcome(errors=errors)
        claims, claim_errors = await _owned_claims(conn, pks, citizen_id, "claimIds", lock=True)
        if claim_errors or citizen_id is None:
            return Outcome(errors=claim_errors or [(UserErrorCode.CLAIM_NOT_FOUND, ["input", "claimIds"])])
        total = sum(c.outstanding_oere for c in claims)
        if total <= 0:
            return Outcome(errors=[(UserErrorCode.NOTHING_TO_PAY, ["input", "claimIds"])])
        if requested is not None and requested > total:
            # A payment may never make a claim's outstanding negative.
            return Outcome(errors=[(UserErrorCode.AMOUNT_EXCEEDS_OUTSTANDING, ["input", "amount"])])
        payment_id = await store.insert_payment(
            conn,
            citizen_id=citizen_id,
            method=input.method.value,
            amount_oere=requested or total,
            return_url=input.return_url,
            claim_ids=pks,
            now=utcnow(),
        )
        return Outcome(result={"payment": payment_id})

    outcome = await run_idempotent(ctx, "startPayment", input.idempotency_key, payload, work)
    payment = None
    if outcome.ok:
        payment_id = int(outcome.result["payment"])
        try:
            # After the commit: a crash here leaves a CREATED payment that a retry (same key) or the poll completes.
            await ctx.services.payflow.ensure_provider_payment(payment_id)
        except (PaymentsUnavailable, PaymentsRejected):
            raise payments_unavailable() from None
        async with ctx.db.read() as conn:
            row = await store.payment_row(conn, payment_id)
        payment = Payment.from_row(row) if row is not None else None
    return StartPaymentPayload(payment=payment, user_errors=[user_error(c, ctx.language, f) for c, f in outcome.errors])


# --- enrolAutomaticPayment -------------------------------------------------------------------------------


async def enrol_automatic_payment(info: Info, input: EnrolAutomaticPaymentInput) -> PaymentMethodPayload:
    ctx = info.context
    ctx.require_citizen()
    citizen_id = await ctx.viewer_citizen_id()
    errors: ErrorList = []
    claim_pks: list[int] = []
    if (input.claim_ids is None) == (input.plan_id is None) or (input.claim_ids is not None and not input.claim_ids):
        errors.append((UserErrorCode.INVALID_INPUT, ["input", "claimIds"]))
    elif input.claim_ids is not None:
        if len(input.claim_ids) > MAX_CLAIMS:
            raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_INPUT")
        claim_pks, errors = _decode_many(input.claim_ids, "Claim", "claimIds")
    plan_pk: int | None = None
    if input.plan_id is not None:
        try:
            plan_pk = ids.decode_as(input.plan_id, "InstallmentPlan")
        except ids.InvalidGlobalId:
            errors.append((UserErrorCode.PLAN_NOT_FOUND, ["input", "planId"]))
    account_pk: int | None = None
    mobilepay = input.kind is PaymentMethodKind.MOBILEPAY_SUBSCRIPTION
    if mobilepay:
        try:
            account_pk = ids.decode_as(input.mobile_pay_account_id or "", "MobilePayAccount")
        except ids.InvalidGlobalId:
            errors.append((UserErrorCode.MOBILEPAY_ACCOUNT_NOT_FOUND, ["input", "mobilePayAccountId"]))
    elif input.mobile_pay_account_id is not None:
        errors.append((UserErrorCode.INVALID_INPUT, ["input", "mobilePayAccountId"]))
    return_url = input.return_url or f"{ctx.services.settings.public_url}/graphql"
    if not _valid_url(return_url):
        errors.append((UserErrorCode.INVALID_RETURN_URL, ["input", "returnUrl"]))
    payload = {
        "kind": input.kind.value,
        "claimIds": input.claim_ids,
        "planId": input.plan_id,
        "mobilePayAccountId": input.mobile_pay_account_id,
        "returnUrl": input.return_url,
    }
    account_ref: list[str | None] = [None]

    async def work(conn: AsyncConnection) -> Outcome:
        if errors or citizen_id is None:
            return Outcome(errors=errors or [(UserErrorCode.NOT_ALLOWED, None)])
        if account_pk is not None:
            account = await store.account(conn, account_pk)
            if account is None or account.citizen_id != citizen_id:
                return Outcome(errors=[(UserErrorCode.MOBILEPAY_ACCOUNT_NOT_FOUND, ["input", "mobilePayAccountId"])])
            account_ref[0] = account.provider_ref
        if plan_pk is not None:
            plan = await store.plan(conn, plan_pk)
            if plan is None or plan.citizen_id != citizen_id:
                return Outcome(errors=[(UserErrorCode.PLAN_NOT_FOUND, ["input", "planId"])])
            if plan.status not in ("ACTIVE", "PENDING_APPROVAL"):
                return Outcome(errors=[(UserErrorCode.NOT_ALLOWED, ["input", "planId"])])
        else:
            _, claim_errors = await _owned_claims(conn, claim_pks, citizen_id, "claimIds", lock=True)
            if claim_errors:
                return Outcome(errors=claim_errors)
        if await store.live_enrolment_conflicts(conn, claim_ids=claim_pks, plan_id=plan_pk):
            field = ["input", "planId"] if plan_pk is not None else ["input", "claimIds"]
            return Outcome(errors=[(UserErrorCode.ENROLMENT_ALREADY_ACTIVE, field)])
        enrolment_id = await store.insert_enrolment(
            conn,
            citizen_id=citizen_id,
            kind=input.kind.value,
            account_id=account_pk,
            plan_id=plan_pk,
            claim_ids=claim_pks,
            now=utcnow(),
        )
        return Outcome(result={"paymentMethod": enrolment_id, "accountRef": account_ref[0]})

    outcome = await run_idempotent(ctx, "enrolAutomaticPayment", input.idempotency_key, payload, work)
    method = None
    if outcome.ok:
        enrolment_id = int(outcome.result["paymentMethod"])
        try:
            await ctx.services.payflow.ensure_provider_agreement(
                enrolment_id, account_ref=outcome.result.get("accountRef"), return_url=return_url
            )
        except (PaymentsUnavailable, PaymentsRejected):
            raise payments_unavailable() from None
        method = await _method(ctx, enrolment_id)
    return PaymentMethodPayload(
        payment_method=method, user_errors=[user_error(c, ctx.language, f) for c, f in outcome.errors]
    )


async def _method(ctx: Context, enrolment_id: int) -> PaymentMethod | None:
    async with ctx.db.read() as conn:
        row = await store.enrolment_row(conn, enrolment_id)
    return PaymentMethod.from_row(row) if row is not None else None


# --- stopAutomaticPayment --------------------------------------------------------------------------------


async def stop_automatic_payment(info: Info, input: StopAutomaticPaymentInput) -> PaymentMethodPayload:
    ctx = info.context
    ctx.require_citizen()
    citizen_id = await ctx.viewer_citizen_id()
    try:
        enrolment_pk: int | None = ids.decode_as(input.payment_method_id, "PaymentMethod")
    except ids.InvalidGlobalId:
        enrolment_pk = None
    not_found: ErrorList = [(UserErrorCode.PAYMENT_METHOD_NOT_FOUND, ["input", "paymentMethodId"])]
    row = None
    if enrolment_pk is not None:
        async with ctx.db.read() as conn:
            row = await store.enrolment_row(conn, enrolment_pk)
    if row is None or row.citizen_id != citizen_id:
        return PaymentMethodPayload(
            payment_method=None, user_errors=[user_error(c, ctx.language, f) for c, f in not_found]
        )
    payload = {"paymentMethodId": input.payment_method_id}
    earlier = await recorded(ctx, "stopAutomaticPayment", input.idempotency_key, payload)
    if earlier is not None:  # a replay, or a reused key: the provider is not asked again
        method = await _method(ctx, row.id) if earlier.ok else None
        return PaymentMethodPayload(
            payment_method=method, user_errors=[user_error(c, ctx.language, f) for c, f in earlier.errors]
        )
    if row.status in ("PENDING", "ACTIVE") and row.provider_ref is not None:
        # The provider first: our record must never say "stopped" while money is still being drawn.
        try:
            await ctx.services.payflow.stop_agreement(row.id, row.provider_ref)
        except (PaymentsUnavailable, PaymentsRejected):
            raise payments_unavailable() from None

    async def work(conn: AsyncConnection) -> Outcome:
        current = await store.enrolment_for_update(conn, row.id)
        if current is not None and current.status in ("PENDING", "ACTIVE"):
            await store.update_enrolment(conn, row.id, live=False, status="STOPPED", ended_at=utcnow())
        return Outcome(result={"paymentMethod": row.id})

    outcome = await run_idempotent(ctx, "stopAutomaticPayment", input.idempotency_key, payload, work)
    method = await _method(ctx, row.id) if outcome.ok else None
    return PaymentMethodPayload(
        payment_method=method, user_errors=[user_error(c, ctx.language, f) for c, f in outcome.errors]
    )
