"""A caseworker acting on a citizen's behalf, by phone (issue 12, item 4): preview and create a plan (the citizen
accepts the terms on the phone), cancel one, enrol or stop automatic payment, and send a link to pay ticked claims.

Every input names the citizen by their global ID (never a CPR, which could end up in a URL or a log) and carries the
caseworker's purpose, which is written with the caseworker and the request id to the citizen's access log in the
action's own transaction. The rules are the citizen's own: each resolver calls the very use-case the citizen's
mutation calls, with the named citizen and the caseworker as the actor (idempotency keys are the caseworker's).
The named citizen must own what the input names: a plan, claim, enrolment or MobilePay account of someone else is
"not found", exactly as for the citizen, so a caseworker cannot act on the wrong person by mistake.
"""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.domain.acting import FIELD_PURPOSE, Acting, clean_purpose, purpose_problem
from gateway.domain.errors import UserErrorCode
from gateway.domain.viewers import CaseworkerViewer
from gateway.usecases.idempotency import Outcome, Problems
from resolvers.citizens.notices import PaymentRequest, payment_request
from resolvers.common import ids
from resolvers.common.acting import actor_of
from resolvers.common.errors import UserError, user_errors
from resolvers.common.permissions import CaseworkerCanAct
from resolvers.context import Context, Info
from resolvers.payments.mutations import (
    EnrolAutomaticPaymentInput,
    PaymentMethodPayload,
    enrolment_request,
    method_payload,
    payment_claim_pks,
)
from resolvers.plans.mutations import (
    CreateInstallmentPlanInput,
    InstallmentPlanInput,
    InstallmentPlanPayload,
    InstallmentPlanPreview,
    create_payload_of,
    plan_payload,
    plan_terms_of,
    preview_for,
)

PURPOSE_DESCRIPTION = (
    "Why the caseworker acts (required, at most 500 characters): written to the citizen's access log, which the "
    "citizen reads."
)


@strawberry.input(description="The plan a caseworker previews with a citizen on the phone.")
class PreviewInstallmentPlanOnBehalfInput:
    citizen_id: strawberry.ID
    purpose: str = strawberry.field(description=PURPOSE_DESCRIPTION)
    plan: InstallmentPlanInput


@strawberry.input(
    description="A plan a caseworker creates for a citizen on the phone: the citizen accepted the terms of "
    "termsVersion on the phone (acceptTerms), recorded as such on the plan."
)
class CreateInstallmentPlanOnBehalfInput:
    citizen_id: strawberry.ID
    purpose: str = strawberry.field(description=PURPOSE_DESCRIPTION)
    plan: CreateInstallmentPlanInput


@strawberry.input
class CancelInstallmentPlanOnBehalfInput:
    citizen_id: strawberry.ID
    plan_id: strawberry.ID
    purpose: str = strawberry.field(description=PURPOSE_DESCRIPTION)
    idempotency_key: str


@strawberry.input
class EnrolAutomaticPaymentOnBehalfInput:
    citizen_id: strawberry.ID
    purpose: str = strawberry.field(description=PURPOSE_DESCRIPTION)
    enrolment: EnrolAutomaticPaymentInput


@strawberry.input
class StopAutomaticPaymentOnBehalfInput:
    citizen_id: strawberry.ID
    payment_method_id: strawberry.ID
    purpose: str = strawberry.field(description=PURPOSE_DESCRIPTION)
    idempotency_key: str


@strawberry.input(
    description="Send the citizen a link to pay ticked claims: a notice (PAYMENT_REQUESTED) in their notices; they "
    "pay in their own session. A caseworker never handles card data."
)
class SendPaymentLinkInput:
    citizen_id: strawberry.ID
    claim_ids: list[strawberry.ID]
    purpose: str = strawberry.field(description=PURPOSE_DESCRIPTION)
    idempotency_key: str


@strawberry.type
class SendPaymentLinkPayload:
    payment_request: PaymentRequest | None
    user_errors: list[UserError]


async def _acting(
    ctx: Context, citizen_gid: str, purpose: str
) -> tuple[CaseworkerViewer, int | None, Acting, Problems]:
    """The caseworker, the named citizen's id (None: no such citizen), the action to log, and what is wrong with
    the citizen or the purpose."""
    caseworker = ctx.caseworker()
    problems: Problems = []
    citizen_pk = ids.decode_or_none(citizen_gid, "Citizen")
    row = await ctx.loaders.citizen.load(citizen_pk) if citizen_pk else None
    if row is None:
        problems.append((UserErrorCode.CITIZEN_NOT_FOUND, ["input", "citizenId"]))
    if (code := purpose_problem(purpose)) is not None:
        problems.append((code, list(FIELD_PURPOSE)))
    acting = Acting(actor=actor_of(caseworker), purpose=clean_purpose(purpose), request_id=ctx.request_id)
    return caseworker, row.id if row is not None else None, acting, problems


def _key(payload: dict[str, Any], citizen_gid: str, acting: Acting) -> dict[str, Any]:
    """The idempotency fingerprint of an action on a citizen's behalf: the citizen and the purpose are part of it."""
    return {**payload, "citizenId": citizen_gid, "purpose": acting.purpose}


async def preview_installment_plan_on_behalf(
    info: Info, input: PreviewInstallmentPlanOnBehalfInput
) -> InstallmentPlanPreview:
    """Caseworkers: the preview the citizen would get, for the citizen on the phone; logged with its purpose."""
    ctx = info.context
    _, citizen_pk, acting, problems = await _acting(ctx, input.citizen_id, input.purpose)
    if problems:
        # Nothing of anyone is shown: the preview runs for nobody, so every claim is "not found".
        return _plan_fields(await preview_for(ctx, None, input.plan, problems))
    assert citizen_pk is not None
    await ctx.services.access_log.record(
        caseworker_id=acting.actor.caseworker_id,
        citizen_ids=[citizen_pk],
        operation="previewInstallmentPlanOnBehalf",
        request_id=ctx.request_id,
        actor=acting.actor,
        purpose=acting.purpose,
    )
    return _plan_fields(await preview_for(ctx, citizen_pk, input.plan))


def _plan_fields(preview: InstallmentPlanPreview) -> InstallmentPlanPreview:
    """The preview's violations point into ``input.plan`` (the citizen's and the purpose's stay where they are)."""
    for v in preview.violations:
        if v.field and v.field[0] == "input" and v.field[1:2] not in (["citizenId"], ["purpose"]):
            v.field = ["input", "plan", *v.field[1:]]
    return preview


async def create_installment_plan_on_behalf(
    info: Info, input: CreateInstallmentPlanOnBehalfInput
) -> InstallmentPlanPayload:
    ctx = info.context
    caseworker, citizen_pk, acting, problems = await _acting(ctx, input.citizen_id, input.purpose)
    if input.plan.terms_version is None:
        # On the phone the caseworker reads a version of the terms out: which one is always recorded.
        problems.append((UserErrorCode.INVALID_INPUT, ["input", "plan", "termsVersion"]))
    if problems:
        return InstallmentPlanPayload(plan=None, user_errors=user_errors(problems, ctx.language))
    outcome = await ctx.services.plans.create(
        actor=caseworker.actor_key,
        citizen_id=citizen_pk,
        terms=plan_terms_of(input.plan),
        idempotency_key=input.plan.idempotency_key,
        payload=_key(create_payload_of(input.plan), input.citizen_id, acting),
        acting=acting,
    )
    return await plan_payload(ctx, _under(outcome, "plan"))


async def cancel_installment_plan_on_behalf(
    info: Info, input: CancelInstallmentPlanOnBehalfInput
) -> InstallmentPlanPayload:
    ctx = info.context
    caseworker, citizen_pk, acting, problems = await _acting(ctx, input.citizen_id, input.purpose)
    if problems:
        return InstallmentPlanPayload(plan=None, user_errors=user_errors(problems, ctx.language))
    outcome = await ctx.services.plans.cancel(
        actor=caseworker.actor_key,
        citizen_id=citizen_pk,
        plan_id=ids.decode_or_none(input.plan_id, "InstallmentPlan"),
        idempotency_key=input.idempotency_key,
        payload=_key({"planId": input.plan_id}, input.citizen_id, acting),
        acting=acting,
    )
    return await plan_payload(ctx, outcome)


async def enrol_automatic_payment_on_behalf(
    info: Info, input: EnrolAutomaticPaymentOnBehalfInput
) -> PaymentMethodPayload:
    ctx = info.context
    caseworker, citizen_pk, acting, problems = await _acting(ctx, input.citizen_id, input.purpose)
    if problems:
        return PaymentMethodPayload(payment_method=None, user_errors=user_errors(problems, ctx.language))
    request = enrolment_request(ctx, input.enrolment)
    outcome = await ctx.services.enrolments.enrol(
        actor=caseworker.actor_key,
        citizen_id=citizen_pk,
        kind=request.kind,
        claim_ids=request.claim_pks,
        plan_id=request.plan_pk,
        account_id=request.account_pk,
        return_url=request.return_url,
        problems=_under(Outcome(errors=request.problems), "enrolment").errors,
        idempotency_key=input.enrolment.idempotency_key,
        payload=_key(request.payload, input.citizen_id, acting),
        acting=acting,
    )
    return await method_payload(ctx, _under(outcome, "enrolment"))


async def stop_automatic_payment_on_behalf(
    info: Info, input: StopAutomaticPaymentOnBehalfInput
) -> PaymentMethodPayload:
    ctx = info.context
    caseworker, citizen_pk, acting, problems = await _acting(ctx, input.citizen_id, input.purpose)
    if problems:
        return PaymentMethodPayload(payment_method=None, user_errors=user_errors(problems, ctx.language))
    outcome = await ctx.services.enrolments.stop(
        actor=caseworker.actor_key,
        citizen_id=citizen_pk,
        enrolment_id=ids.decode_or_none(input.payment_method_id, "PaymentMethod"),
        idempotency_key=input.idempotency_key,
        payload=_key({"paymentMethodId": input.payment_method_id}, input.citizen_id, acting),
        acting=acting,
    )
    return await method_payload(ctx, outcome)


async def send_payment_link(info: Info, input: SendPaymentLinkInput) -> SendPaymentLinkPayload:
    ctx = info.context
    caseworker, citizen_pk, acting, problems = await _acting(ctx, input.citizen_id, input.purpose)
    claim_pks, claim_problems = payment_claim_pks(input.claim_ids, "claimIds")
    if not input.claim_ids:
        claim_problems.append((UserErrorCode.NO_CLAIMS_SELECTED, ["input", "claimIds"]))
    if problems:
        return SendPaymentLinkPayload(payment_request=None, user_errors=user_errors(problems, ctx.language))
    outcome = await ctx.services.payments.request_payment(
        actor=caseworker.actor_key,
        citizen_id=citizen_pk,
        claim_ids=claim_pks,
        problems=claim_problems,
        acting=acting,
        idempotency_key=input.idempotency_key,
        payload=_key({"claimIds": list(input.claim_ids)}, input.citizen_id, acting),
    )
    request = await payment_request(ctx, int(outcome.result["paymentRequest"])) if outcome.ok else None
    return SendPaymentLinkPayload(payment_request=request, user_errors=user_errors(outcome.errors, ctx.language))


def _under(outcome: Outcome, name: str) -> Outcome:
    """The errors of a nested input (``input.plan``, ``input.enrolment``) point into it: ``["input", "plan", ...]``."""
    errors: Problems = []
    for code, field in outcome.errors:
        if field and field[0] == "input" and field[1:2] not in (["citizenId"], ["purpose"], ["idempotencyKey"]):
            field = ["input", name, *field[1:]]
        elif field and field[:2] == ["input", "idempotencyKey"]:
            field = ["input", name, "idempotencyKey"]
        errors.append((code, field))
    return Outcome(result=outcome.result, errors=errors)


@strawberry.type
class ActingQueries:
    @strawberry.field(
        description="Caseworkers: the plan a citizen on the phone would get (the citizen's own preview, for them). "
        "Logged in the citizen's access log with its purpose.",
        permission_classes=[CaseworkerCanAct],
    )
    async def preview_installment_plan_on_behalf(
        self, info: Info, input: PreviewInstallmentPlanOnBehalfInput
    ) -> InstallmentPlanPreview:
        return await preview_installment_plan_on_behalf(info, input)
