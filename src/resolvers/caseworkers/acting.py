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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

import strawberry

from gateway.domain.acting import FIELD_PURPOSE, Acting, clean_purpose, purpose_problem
from gateway.domain.errors import UserErrorCode
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


class _OnBehalfInput(Protocol):
    """What every input of an action on a citizen's behalf carries."""

    @property
    def citizen_id(self) -> str: ...
    @property
    def purpose(self) -> str: ...


class UseCaseArguments(TypedDict):
    """The arguments every use-case takes for an action on a citizen's behalf."""

    actor: str
    citizen_id: int | None
    idempotency_key: str
    payload: dict[str, Any]
    acting: Acting


@dataclass(frozen=True)
class OnBehalf:
    """A caseworker acting for the citizen an input names: the caseworker's idempotency actor, the citizen's global
    ID and id (None: no such citizen), the action as the access log records it, and what is wrong with the citizen or
    the purpose (``problems``: then nothing is done and nothing of the citizen's is shown)."""

    actor: str
    citizen_gid: str
    citizen_pk: int | None
    acting: Acting
    problems: Problems

    @classmethod
    async def of(cls, ctx: Context, input: _OnBehalfInput) -> OnBehalf:
        caseworker = ctx.caseworker()
        problems: Problems = []
        citizen_pk = ids.decode_or_none(input.citizen_id, "Citizen")
        row = await ctx.loaders.citizen.load(citizen_pk) if citizen_pk else None
        if row is None:
            problems.append((UserErrorCode.CITIZEN_NOT_FOUND, ["input", "citizenId"]))
        if (code := purpose_problem(input.purpose)) is not None:
            problems.append((code, list(FIELD_PURPOSE)))
        acting = Acting(actor=actor_of(caseworker), purpose=clean_purpose(input.purpose), request_id=ctx.request_id)
        return cls(
            actor=caseworker.actor_key,
            citizen_gid=input.citizen_id,
            citizen_pk=row.id if row is not None else None,
            acting=acting,
            problems=problems,
        )

    def arguments(self, idempotency_key: str, payload: dict[str, Any]) -> UseCaseArguments:
        """The caseworker as the actor, the named citizen, the action to log, and the idempotency key with the input's
        fingerprint, of which the citizen and the purpose are part."""
        return UseCaseArguments(
            actor=self.actor,
            citizen_id=self.citizen_pk,
            idempotency_key=idempotency_key,
            payload={**payload, "citizenId": self.citizen_gid, "purpose": self.acting.purpose},
            acting=self.acting,
        )


async def _on_behalf(
    ctx: Context,
    input: _OnBehalfInput,
    action: Callable[[OnBehalf], Awaitable[Outcome]],
    problems: Problems | None = None,
) -> Outcome:
    """An action on the citizen's behalf: refused with the citizen's and the purpose's problems (then the action's
    own ``problems``) before anything is asked, else the use-case that ``action`` calls with ``OnBehalf.arguments``
    (which writes the citizen's access log in its own transaction)."""
    on = await OnBehalf.of(ctx, input)
    refusal = [*on.problems, *(problems or [])]
    if refusal:
        return Outcome(errors=refusal)
    return await action(on)


async def preview_installment_plan_on_behalf(
    info: Info, input: PreviewInstallmentPlanOnBehalfInput
) -> InstallmentPlanPreview:
    """Caseworkers: the preview the citizen would get, for the citizen on the phone; logged with its purpose."""
    ctx = info.context
    on = await OnBehalf.of(ctx, input)
    if on.problems:
        # Nothing of anyone is shown: the preview runs for nobody, so every claim is "not found".
        return _plan_fields(await preview_for(ctx, None, input.plan, on.problems))
    assert on.citizen_pk is not None
    await ctx.services.access_log.record(
        caseworker_id=on.acting.actor.caseworker_id,
        citizen_ids=[on.citizen_pk],
        operation="previewInstallmentPlanOnBehalf",
        request_id=ctx.request_id,
        actor=on.acting.actor,
        purpose=on.acting.purpose,
    )
    return _plan_fields(await preview_for(ctx, on.citizen_pk, input.plan))


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
    problems: Problems = []
    if input.plan.terms_version is None:
        # On the phone the caseworker reads a version of the terms out: which one is always recorded.
        problems.append((UserErrorCode.INVALID_INPUT, ["input", "plan", "termsVersion"]))

    async def create(on: OnBehalf) -> Outcome:
        outcome = await ctx.services.plans.create(
            terms=plan_terms_of(input.plan),
            **on.arguments(input.plan.idempotency_key, create_payload_of(input.plan)),
        )
        return _under(outcome, "plan")

    return await plan_payload(ctx, await _on_behalf(ctx, input, create, problems))


async def cancel_installment_plan_on_behalf(
    info: Info, input: CancelInstallmentPlanOnBehalfInput
) -> InstallmentPlanPayload:
    ctx = info.context

    async def cancel(on: OnBehalf) -> Outcome:
        return await ctx.services.plans.cancel(
            plan_id=ids.decode_or_none(input.plan_id, "InstallmentPlan"),
            **on.arguments(input.idempotency_key, {"planId": input.plan_id}),
        )

    return await plan_payload(ctx, await _on_behalf(ctx, input, cancel))


async def enrol_automatic_payment_on_behalf(
    info: Info, input: EnrolAutomaticPaymentOnBehalfInput
) -> PaymentMethodPayload:
    ctx = info.context

    async def enrol(on: OnBehalf) -> Outcome:
        request = enrolment_request(ctx, input.enrolment)
        outcome = await ctx.services.enrolments.enrol(
            kind=request.kind,
            claim_ids=request.claim_pks,
            plan_id=request.plan_pk,
            account_id=request.account_pk,
            return_url=request.return_url,
            problems=_under(Outcome(errors=request.problems), "enrolment").errors,
            **on.arguments(input.enrolment.idempotency_key, request.payload),
        )
        return _under(outcome, "enrolment")

    return await method_payload(ctx, await _on_behalf(ctx, input, enrol))


async def stop_automatic_payment_on_behalf(
    info: Info, input: StopAutomaticPaymentOnBehalfInput
) -> PaymentMethodPayload:
    ctx = info.context

    async def stop(on: OnBehalf) -> Outcome:
        return await ctx.services.enrolments.stop(
            enrolment_id=ids.decode_or_none(input.payment_method_id, "PaymentMethod"),
            **on.arguments(input.idempotency_key, {"paymentMethodId": input.payment_method_id}),
        )

    return await method_payload(ctx, await _on_behalf(ctx, input, stop))


async def send_payment_link(info: Info, input: SendPaymentLinkInput) -> SendPaymentLinkPayload:
    ctx = info.context
    claim_pks, claim_problems = payment_claim_pks(input.claim_ids, "claimIds")
    if not input.claim_ids:
        claim_problems.append((UserErrorCode.NO_CLAIMS_SELECTED, ["input", "claimIds"]))

    async def send(on: OnBehalf) -> Outcome:
        return await ctx.services.payments.request_payment(
            claim_ids=claim_pks,
            problems=claim_problems,
            **on.arguments(input.idempotency_key, {"claimIds": list(input.claim_ids)}),
        )

    outcome = await _on_behalf(ctx, input, send)
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
