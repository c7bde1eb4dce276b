"""Installment plans (afdragsordning): preview, create, the individual assessment (approve, reject, counter-offer,
and the citizen's answer to a counter-offer), cancel, and the approval queue (R11, R13, R14).

Gældsstyrelsen is always asked before a transaction starts, so no row lock is held during an HTTP call. A
caseworker acting on a citizen's behalf (``Acting``) goes through the very same rules; only the actor differs, and
the action is written to the citizen's access log with its purpose in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.domain.acting import Acting, Actor
from gateway.domain.claims import ClaimKind
from gateway.domain.clock import today, utcnow
from gateway.domain.errors import UserErrorCode
from gateway.domain.money import InvalidAmount, parse_oere
from gateway.domain.plan_states import can_answer_counter_offer, can_cancel, can_decide
from gateway.domain.plans import (
    FIELD_CLAIM_IDS,
    MIN_MONTHLY_OERE,
    PlanClaim,
    PlanEvaluation,
    ScheduledInstallment,
    build_schedule,
    counter_offer,
    evaluate_plan,
)
from gateway.domain.terms import CURRENT_TERMS_VERSION
from gateway.domain.text import has_control_characters
from gateway.usecases.access import log_acting, log_decision
from gateway.usecases.enrolments import Enrolments
from gateway.usecases.idempotency import Outcome, Problems, refused, run_idempotent
from gateway.usecases.ports import CollectionStatuses, CollectionStatusUnavailable, Ledger, LedgerTx, Row

PLAN_FIELD = ("input", "planId")
MAX_NOTE_LENGTH = 2000
"""Characters of a caseworker's internal note, of their message to the citizen, and of the citizen's reason."""

ONLINE, PHONE = "ONLINE", "PHONE"  # how the citizen accepted the terms: their own click, or on the phone


@dataclass(frozen=True)
class PlanTerms:
    """What the citizen asks for. ``claim_ids`` keep the input's positions (None: not a claim ID)."""

    claim_ids: Sequence[int | None]
    monthly_amount: str
    day_of_month: int
    accept_terms: bool
    request_assessment: bool
    terms_version: str | None = None  # the version the citizen was shown; None: an older client sent none
    assessment_reason: str | None = None  # why the citizen asks for a longer plan


@dataclass(frozen=True)
class AssessmentRequest:
    """What a caseworker's decision on a plan waiting for its individual assessment (R11) says, whichever it is
    (approve, reject, counter-offer): the caseworker (``caseworker_id`` for the plan and the access log, ``actor``
    for the idempotency key, ``who`` as the citizen's access log names them), the plan (None: not a plan's ID), the
    internal note, the message to the citizen as typed (required by rejecting and counter-offering), and the
    idempotency key with the input's fingerprint (``payload``)."""

    caseworker_id: str
    actor: str
    plan_id: int | None
    note: str
    message_to_citizen: str | None
    idempotency_key: str
    payload: dict[str, Any]
    request_id: str | None
    who: Actor | None = None

    @property
    def message(self) -> str | None:
        """The message to the citizen as stored: trimmed; None when there is none."""
        text = self.message_to_citizen.strip() if self.message_to_citizen else ""
        return text or None


@dataclass(frozen=True)
class Preview:
    evaluation: PlanEvaluation
    monthly_oere: int | None  # None when the amount could not be read
    errors: Problems

    @property
    def allowed(self) -> bool:
        return not self.errors and self.evaluation.status is not None


def _decode_errors(claim_ids: Sequence[int | None]) -> Problems:
    return [(UserErrorCode.CLAIM_NOT_FOUND, [*FIELD_CLAIM_IDS, str(i)]) for i, pk in enumerate(claim_ids) if pk is None]


def text_problem(text: str | None, field: str, *, required: bool) -> Problems:
    """A caseworker's note or message, or the citizen's reason: required where the rules say so, and bounded."""
    if text is None or not text.strip():
        if not required:
            return []
        code = UserErrorCode.MESSAGE_TO_CITIZEN_REQUIRED if field == "messageToCitizen" else UserErrorCode.INVALID_INPUT
        return [(code, ["input", field])]
    if len(text) > MAX_NOTE_LENGTH or has_control_characters(text):
        return [(UserErrorCode.INVALID_INPUT, ["input", field])]
    return []


def _parse_amount(monthly_amount: str) -> int | None:
    try:
        return parse_oere(monthly_amount)
    except InvalidAmount:
        return None


class InstallmentPlans:
    def __init__(self, ledger: Ledger, collection: CollectionStatuses, enrolments: Enrolments) -> None:
        self.ledger = ledger
        self.collection = collection
        self.enrolments = enrolments

    # --- evaluation -------------------------------------------------------------------------------------

    async def _statuses(self, references: Sequence[str]) -> dict[str, str] | None:
        """Gældsstyrelsen's status per reference, or None when it cannot be asked."""
        if not references:
            return {}
        try:
            return dict(await self.collection.statuses(list(references)))
        except CollectionStatusUnavailable:
            return None

    async def _own_references(self, tx: LedgerTx, claim_ids: Sequence[int | None], citizen_id: int | None) -> list[str]:
        """The references of the named claims that are the citizen's (only those are asked about)."""
        known = [pk for pk in claim_ids if pk is not None]
        rows = await tx.claims_with_outstanding(known) if known else []
        return [r.reference for r in rows if r.citizen_id == citizen_id]

    async def _evaluate(
        self,
        tx: LedgerTx,
        terms: PlanTerms,
        *,
        citizen_id: int | None,
        monthly_oere: int,
        check_terms: bool,
        lock: bool,
        collection: dict[str, str] | None,
    ) -> tuple[PlanEvaluation, Problems, dict[int, Row]]:
        known = [pk for pk in terms.claim_ids if pk is not None]
        rows = {r.id: r for r in await tx.claims_with_outstanding(known, lock=lock)} if known else {}
        errors = _decode_errors(terms.claim_ids)
        plan_claims: list[PlanClaim] = []
        seen_index: list[int] = []  # input position of each claim the rules see
        for i, pk in enumerate(terms.claim_ids):
            if pk is None:
                continue
            row = rows.get(pk)
            if row is None or row.citizen_id != citizen_id:  # foreign claims look exactly like unknown ones
                errors.append((UserErrorCode.CLAIM_NOT_FOUND, [*FIELD_CLAIM_IDS, str(i)]))
                continue
            seen_index.append(i)
            status = "UNKNOWN" if collection is None else collection.get(row.reference, "UNKNOWN")
            plan_claims.append(
                PlanClaim(
                    claim_id=str(row.id),
                    outstanding_oere=row.outstanding_oere,
                    is_open=row.outstanding_oere > 0,
                    collection=status,  # type: ignore[arg-type]
                    in_active_plan=row.live_plan_id is not None,
                    is_resident_deposit_loan=row.kind == ClaimKind.BEBOERINDSKUDSLAAN.value,
                )
            )
        evaluation = evaluate_plan(
            plan_claims if not errors or plan_claims else [],
            monthly_oere=monthly_oere,
            day_of_month=terms.day_of_month,
            accept_terms=terms.accept_terms,
            request_assessment=terms.request_assessment,
            today=today(),
            check_terms=check_terms,
        )
        if check_terms and terms.terms_version is not None and terms.terms_version != CURRENT_TERMS_VERSION:
            # The citizen was shown other terms than those in force: they must read and accept these.
            errors.append((UserErrorCode.TERMS_VERSION_OUTDATED, ["input", "termsVersion"]))
        if terms.assessment_reason is not None and not terms.request_assessment:
            errors.append((UserErrorCode.INVALID_INPUT, ["input", "assessmentReason"]))
        else:
            errors.extend(text_problem(terms.assessment_reason, "assessmentReason", required=False))
        for v in evaluation.violations:
            if v.code is UserErrorCode.NO_CLAIMS_SELECTED and errors:
                continue  # the claims were named, just not found
            field = list(v.field)
            # Claim indexes in the rule's field paths refer to the claims it saw; map them back to the input's.
            if len(field) == 3 and field[:2] == list(FIELD_CLAIM_IDS) and field[2].isdigit():
                field[2] = str(seen_index[int(field[2])])
            errors.append((v.code, field))
        return evaluation, errors, rows

    # --- preview ----------------------------------------------------------------------------------------

    async def preview(self, citizen_id: int | None, terms: PlanTerms, *, check_terms: bool) -> Preview:
        """The plan the citizen would get, and every reason it is not allowed. Changes nothing."""
        monthly = _parse_amount(terms.monthly_amount)
        async with self.ledger.read() as tx:
            collection = await self._statuses(await self._own_references(tx, terms.claim_ids, citizen_id))
            evaluation, errors, _ = await self._evaluate(
                tx,
                terms,
                citizen_id=citizen_id,
                monthly_oere=monthly or MIN_MONTHLY_OERE,
                check_terms=check_terms,
                lock=False,
                collection=collection,
            )
        if monthly is None:
            # The rules saw the minimum in place of an amount that could not be read: what they say about the
            # amount (below the minimum, too long at it) is not about the citizen's.
            about_the_amount = (UserErrorCode.MONTHLY_AMOUNT_BELOW_MINIMUM, UserErrorCode.PLAN_TOO_LONG)
            errors = [(UserErrorCode.INVALID_AMOUNT, ["input", "monthlyAmount"])] + [
                e for e in errors if e[0] not in about_the_amount
            ]
        return Preview(evaluation=evaluation, monthly_oere=monthly, errors=errors)

    # --- create -----------------------------------------------------------------------------------------

    async def create(
        self,
        *,
        actor: str,
        citizen_id: int | None,
        terms: PlanTerms,
        idempotency_key: str,
        payload: dict[str, Any],
        acting: Acting | None = None,
    ) -> Outcome:
        """Create the plan: ACTIVE, or PENDING_APPROVAL when an individual assessment is asked for. The accepted terms
        version is stored with it (the current one when an older client sent none), and how: ONLINE, or PHONE when a
        caseworker records the citizen's acceptance on the phone (``acting``, logged with its purpose)."""
        monthly = _parse_amount(terms.monthly_amount)
        async with self.ledger.read() as tx:
            references = await self._own_references(tx, terms.claim_ids, citizen_id)
        collection = await self._statuses(references)

        async def work(tx: LedgerTx) -> Outcome:
            if monthly is None:
                return refused(UserErrorCode.INVALID_AMOUNT, "input", "monthlyAmount")
            evaluation, errors, rows = await self._evaluate(
                tx,
                terms,
                citizen_id=citizen_id,
                monthly_oere=monthly,
                check_terms=True,
                lock=True,
                collection=collection,
            )
            if errors or evaluation.status is None or citizen_id is None:
                return Outcome(errors=errors or [(UserErrorCode.NOT_ALLOWED, None)])
            claim_pks = list(dict.fromkeys(pk for pk in terms.claim_ids if pk is not None))
            now = utcnow()
            plan_id = await tx.insert_plan(
                citizen_id=citizen_id,
                status=evaluation.status,
                claims=[(pk, rows[pk].outstanding_oere) for pk in claim_pks],
                principal_oere=evaluation.principal_oere,
                monthly_oere=monthly,
                day_of_month=terms.day_of_month,
                schedule=evaluation.schedule,
                excludes_future_interest=evaluation.excludes_future_interest,
                assessment_requested=terms.request_assessment,
                created_by=actor,
                now=now,
                terms_version=terms.terms_version or CURRENT_TERMS_VERSION,
                terms_accepted_via=PHONE if acting is not None else ONLINE,
                assessment_reason=terms.assessment_reason.strip() if terms.assessment_reason else None,
            )
            if acting is not None:
                await log_acting(tx, acting, citizen_id, "createInstallmentPlanOnBehalf", now)
            return Outcome(result={"plan": plan_id})

        return await run_idempotent(self.ledger, actor, "createInstallmentPlan", idempotency_key, payload, work)

    # --- the individual assessment (R11) ---------------------------------------------------------------------

    async def _collection_of_plan(self, plan_id: int | None) -> dict[str, str] | None:
        """Gældsstyrelsen's status of a plan's claims, asked before the transaction (None: it cannot be asked)."""
        if plan_id is None:
            return {}
        async with self.ledger.read() as tx:
            references = [c.reference for c in await tx.plan_claim_rows(plan_id)]
        return await self._statuses(references)

    @staticmethod
    async def _owed_now(
        tx: LedgerTx, plan_id: int, collection: dict[str, str] | None
    ) -> tuple[int, list[Any]] | Outcome:
        """What the plan's claims owe now, if they may still be in a plan (R14), or why not."""
        claims = await tx.claims_with_outstanding([c.claim_id for c in await tx.plan_claim_rows(plan_id)])
        if collection is None:
            return refused(UserErrorCode.COLLECTION_STATUS_UNAVAILABLE, *PLAN_FIELD)
        if any(collection.get(c.reference) == "AT_COLLECTION" for c in claims):
            return refused(UserErrorCode.CLAIM_AT_COLLECTION, *PLAN_FIELD)
        # Payments made while the plan waited reduce it.
        principal = sum(max(c.outstanding_oere, 0) for c in claims)
        if principal <= 0:
            return refused(UserErrorCode.CLAIM_NOT_OPEN, *PLAN_FIELD)
        return principal, claims

    async def _assess(
        self,
        request: AssessmentRequest,
        *,
        operation: str,
        message_required: bool,
        decide: Callable[[LedgerTx, Row, datetime], Awaitable[Outcome | None]],
        notice: str,
    ) -> Outcome:
        """What approving, rejecting and counter-offering share: the plan must wait for its assessment, the internal
        note is required, the message to the citizen is required when the answer is not a plain yes (forvaltningsloven
        § 22: a decision that does not fully grant what was asked for comes with its reasons); the decision is logged
        and the citizen gets a notice, all in one transaction."""

        async def work(tx: LedgerTx) -> Outcome:
            if request.plan_id is None:
                return refused(UserErrorCode.PLAN_NOT_FOUND, *PLAN_FIELD)
            problems = text_problem(request.note, "note", required=True) + text_problem(
                request.message_to_citizen, "messageToCitizen", required=message_required
            )
            if problems:
                return Outcome(errors=problems)
            plan = await tx.plan_for_update(request.plan_id)
            if plan is None:
                return refused(UserErrorCode.PLAN_NOT_FOUND, *PLAN_FIELD)
            if not can_decide(plan.status):
                return refused(UserErrorCode.PLAN_NOT_PENDING, *PLAN_FIELD)
            now = utcnow()
            refusal = await decide(tx, plan, now)
            if refusal is not None:
                return refusal
            await tx.notify_citizen(
                citizen_id=plan.citizen_id, code=notice, dedupe_key=f"plan-assessed:{plan.id}", now=now, plan_id=plan.id
            )
            await log_decision(
                tx,
                caseworker_id=request.caseworker_id,
                who=request.who,
                citizen_id=plan.citizen_id,
                operation=operation,
                request_id=request.request_id,
                now=now,
            )
            return Outcome(result={"plan": plan.id})

        return await run_idempotent(
            self.ledger, request.actor, operation, request.idempotency_key, request.payload, work
        )

    async def approve(self, request: AssessmentRequest) -> Outcome:
        """A caseworker's approval after an individual assessment (R11); re-checks collection (R14) and
        reschedules what is owed at approval, starting from today. The note is for colleagues only; the message to
        the citizen (optional) is what the citizen reads."""
        collection = await self._collection_of_plan(request.plan_id)

        async def decide(tx: LedgerTx, plan: Row, now: datetime) -> Outcome | None:
            owed = await self._owed_now(tx, plan.id, collection)
            if isinstance(owed, Outcome):
                return owed
            principal, _ = owed
            # The schedule starts from the approval, so no installment falls due before the plan is in force.
            schedule = build_schedule(principal, plan.monthly_amount_oere, plan.day_of_month, today())
            await tx.replace_schedule(plan.id, schedule)
            await tx.approve(
                plan.id,
                by=request.caseworker_id,
                note=request.note,
                now=now,
                principal_oere=principal,
                months=len(schedule),
                message_to_citizen=request.message,
            )
            return None

        return await self._assess(
            request, operation="approveInstallmentPlan", message_required=False, decide=decide, notice="PLAN_APPROVED"
        )

    async def reject(self, request: AssessmentRequest) -> Outcome:
        """The assessment says no: REJECTED, the claims are free again (for a plan within the rules, or a payment),
        and the citizen is told why. A live automatic payment of the plan is stopped, as for a cancelled plan."""

        async def decide(tx: LedgerTx, plan: Row, now: datetime) -> Outcome | None:
            message = request.message
            assert message is not None  # _assess refused a decision without one
            await tx.reject(plan.id, by=request.caseworker_id, note=request.note, message_to_citizen=message, now=now)
            return None

        outcome = await self._assess(
            request, operation="rejectInstallmentPlan", message_required=True, decide=decide, notice="PLAN_REJECTED"
        )
        if outcome.ok:
            await self.enrolments.stop_for_plan(int(outcome.result["plan"]))
        return outcome

    async def counter_offer(
        self, request: AssessmentRequest, *, monthly_amount: str | None, months: int | None
    ) -> Outcome:
        """The assessment offers other terms: a monthly amount (at least 350.00 DKK, R11) or a number of months, on
        what the claims owe now. The plan waits for the citizen (COUNTER_OFFERED) and keeps its claims."""
        collection = await self._collection_of_plan(request.plan_id)
        monthly: int | None = None
        if monthly_amount is not None:
            monthly = _parse_amount(monthly_amount)
            if monthly is None:
                return refused(UserErrorCode.INVALID_AMOUNT, "input", "monthlyAmount")

        async def decide(tx: LedgerTx, plan: Row, now: datetime) -> Outcome | None:
            owed = await self._owed_now(tx, plan.id, collection)
            if isinstance(owed, Outcome):
                return owed
            principal, _ = owed
            offer, violation = counter_offer(principal, monthly_oere=monthly, months=months)
            if violation is not None or offer is None:
                assert violation is not None
                return refused(violation.code, *violation.field)
            message = request.message
            assert message is not None  # _assess refused a decision without one
            await tx.counter_offer(
                plan.id,
                by=request.caseworker_id,
                note=request.note,
                message_to_citizen=message,
                monthly_oere=offer.monthly_oere,
                months=offer.months,
                now=now,
            )
            return None

        return await self._assess(
            request,
            operation="counterOfferInstallmentPlan",
            message_required=True,
            decide=decide,
            notice="PLAN_COUNTER_OFFERED",
        )

    async def accept_counter_offer(
        self,
        *,
        actor: str,
        citizen_id: int | None,
        plan_id: int | None,
        accept_terms: bool,
        terms_version: str | None,
        idempotency_key: str,
        payload: dict[str, Any],
    ) -> Outcome:
        """The citizen accepts the caseworker's counter-offer: the plan becomes ACTIVE on its terms, on what the claims
        owe now (R14 re-checked), scheduled from today, with the terms version accepted again."""
        collection = await self._collection_of_plan(plan_id)

        async def work(tx: LedgerTx) -> Outcome:
            plan = await tx.plan_for_update(plan_id) if plan_id is not None else None
            if plan is None or plan.citizen_id != citizen_id:
                return refused(UserErrorCode.PLAN_NOT_FOUND, *PLAN_FIELD)
            problems: Problems = []
            if not accept_terms:
                problems.append((UserErrorCode.TERMS_NOT_ACCEPTED, ["input", "acceptTerms"]))
            if terms_version is not None and terms_version != CURRENT_TERMS_VERSION:
                problems.append((UserErrorCode.TERMS_VERSION_OUTDATED, ["input", "termsVersion"]))
            if not can_answer_counter_offer(plan.status):
                problems.append((UserErrorCode.PLAN_NOT_COUNTER_OFFERED, list(PLAN_FIELD)))
            if problems:
                return Outcome(errors=problems)
            owed = await self._owed_now(tx, plan.id, collection)
            if isinstance(owed, Outcome):
                return owed
            principal, _ = owed
            monthly = min(int(plan.counter_offer_monthly_oere), principal)
            schedule: list[ScheduledInstallment] = build_schedule(principal, monthly, plan.day_of_month, today())
            await tx.replace_schedule(plan.id, schedule)
            await tx.accept_counter_offer(
                plan.id,
                now=utcnow(),
                principal_oere=principal,
                monthly_oere=monthly,
                months=len(schedule),
                terms_version=terms_version or CURRENT_TERMS_VERSION,
                terms_accepted_via=ONLINE,
            )
            return Outcome(result={"plan": plan.id})

        return await run_idempotent(self.ledger, actor, "acceptCounterOffer", idempotency_key, payload, work)

    async def decline_counter_offer(
        self, *, actor: str, citizen_id: int | None, plan_id: int | None, idempotency_key: str, payload: dict[str, Any]
    ) -> Outcome:
        """The citizen declines the counter-offer: the plan ends CANCELLED (``end_reason`` COUNTER_OFFER_DECLINED)
        and its claims are free again."""

        async def work(tx: LedgerTx) -> Outcome:
            plan = await tx.plan_for_update(plan_id) if plan_id is not None else None
            if plan is None or plan.citizen_id != citizen_id:
                return refused(UserErrorCode.PLAN_NOT_FOUND, *PLAN_FIELD)
            if not can_answer_counter_offer(plan.status):
                return refused(UserErrorCode.PLAN_NOT_COUNTER_OFFERED, *PLAN_FIELD)
            await tx.cancel(plan.id, by=actor, now=utcnow(), reason="COUNTER_OFFER_DECLINED")
            return Outcome(result={"plan": plan.id})

        outcome = await run_idempotent(self.ledger, actor, "declineCounterOffer", idempotency_key, payload, work)
        if outcome.ok:
            await self.enrolments.stop_for_plan(int(outcome.result["plan"]))
        return outcome

    # --- cancel -----------------------------------------------------------------------------------------------

    async def cancel(
        self,
        *,
        actor: str,
        citizen_id: int | None,
        plan_id: int | None,
        idempotency_key: str,
        payload: dict[str, Any],
        acting: Acting | None = None,
    ) -> Outcome:
        """Cancel a live plan of the citizen's (their own, or a caseworker on their behalf: ``acting``, logged with
        its purpose); its claims become free for a new plan and its automatic payment stops."""
        operation = "cancelInstallmentPlanOnBehalf" if acting is not None else "cancelInstallmentPlan"

        async def work(tx: LedgerTx) -> Outcome:
            plan = await tx.plan_for_update(plan_id) if plan_id is not None else None
            if plan is None or plan.citizen_id != citizen_id:
                return refused(UserErrorCode.PLAN_NOT_FOUND, *PLAN_FIELD)
            if not can_cancel(plan.status):
                return refused(UserErrorCode.PLAN_NOT_CANCELLABLE, *PLAN_FIELD)
            now = utcnow()
            await tx.cancel(plan.id, by=actor, now=now)
            if acting is not None:
                await log_acting(tx, acting, plan.citizen_id, operation, now)
            return Outcome(result={"plan": plan.id})

        outcome = await run_idempotent(self.ledger, actor, operation, idempotency_key, payload, work)
        if outcome.ok:
            # Also on a replay: a cancelled plan's automatic payment must stop, and a retry finishes the job.
            await self.enrolments.stop_for_plan(int(outcome.result["plan"]))
        return outcome

    # --- the caseworkers' queue -------------------------------------------------------------------------

    async def awaiting_approval(self) -> list[Row]:
        """Plans waiting for an individual assessment, oldest first."""
        async with self.ledger.read() as tx:
            return await tx.pending_plans()
