"""Installment plans (afdragsordning): preview, create, approve, cancel, and the approval queue (R11, R13, R14).

Gældsstyrelsen is always asked before a transaction starts, so no row lock is held during an HTTP call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.domain.claims import ClaimKind
from gateway.domain.clock import today, utcnow
from gateway.domain.errors import UserErrorCode
from gateway.domain.money import InvalidAmount, parse_oere
from gateway.domain.plan_states import can_approve, can_cancel
from gateway.domain.plans import (
    FIELD_CLAIM_IDS,
    MIN_MONTHLY_OERE,
    PlanClaim,
    PlanEvaluation,
    build_schedule,
    evaluate_plan,
)
from gateway.usecases.enrolments import Enrolments
from gateway.usecases.idempotency import Outcome, Problems, refused, run_idempotent
from gateway.usecases.ports import CollectionStatuses, CollectionStatusUnavailable, Ledger, LedgerTx, Row

PLAN_FIELD = ("input", "planId")
MAX_NOTE_LENGTH = 2000


@dataclass(frozen=True)
class PlanTerms:
    """What the citizen asks for. ``claim_ids`` keep the input's positions (None: not a claim ID)."""

    claim_ids: Sequence[int | None]
    monthly_amount: str
    day_of_month: int
    accept_terms: bool
    request_assessment: bool


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
            errors = [(UserErrorCode.INVALID_AMOUNT, ["input", "monthlyAmount"])] + [
                e for e in errors if e[0] is not UserErrorCode.MONTHLY_AMOUNT_BELOW_MINIMUM
            ]
        return Preview(evaluation=evaluation, monthly_oere=monthly, errors=errors)

    # --- create -----------------------------------------------------------------------------------------

    async def create(
        self, *, actor: str, citizen_id: int | None, terms: PlanTerms, idempotency_key: str, payload: dict[str, Any]
    ) -> Outcome:
        """Create the plan: ACTIVE, or PENDING_APPROVAL when an individual assessment is asked for."""
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
                now=utcnow(),
            )
            return Outcome(result={"plan": plan_id})

        return await run_idempotent(self.ledger, actor, "createInstallmentPlan", idempotency_key, payload, work)

    # --- approve and cancel -----------------------------------------------------------------------------

    async def approve(
        self,
        *,
        caseworker_id: str,
        actor: str,
        plan_id: int | None,
        note: str,
        idempotency_key: str,
        payload: dict[str, Any],
        request_id: str | None,
    ) -> Outcome:
        """A caseworker's approval after an individual assessment (R11); re-checks collection (R14) and
        reschedules what is owed at approval, starting from today."""
        collection: dict[str, str] | None = {}
        if plan_id is not None:
            async with self.ledger.read() as tx:
                references = [c.reference for c in await tx.plan_claim_rows(plan_id)]
            collection = await self._statuses(references)

        async def work(tx: LedgerTx) -> Outcome:
            if plan_id is None:
                return refused(UserErrorCode.PLAN_NOT_FOUND, *PLAN_FIELD)
            if not note or len(note) > MAX_NOTE_LENGTH:
                return refused(UserErrorCode.INVALID_INPUT, "input", "note")
            plan = await tx.plan_for_update(plan_id)
            if plan is None:
                return refused(UserErrorCode.PLAN_NOT_FOUND, *PLAN_FIELD)
            if not can_approve(plan.status):
                return refused(UserErrorCode.PLAN_NOT_PENDING, *PLAN_FIELD)
            claims = await tx.claims_with_outstanding([c.claim_id for c in await tx.plan_claim_rows(plan_id)])
            if collection is None:
                return refused(UserErrorCode.COLLECTION_STATUS_UNAVAILABLE, *PLAN_FIELD)
            if any(collection.get(c.reference) == "AT_COLLECTION" for c in claims):
                return refused(UserErrorCode.CLAIM_AT_COLLECTION, *PLAN_FIELD)
            # What is owed now: payments made while the plan waited for approval reduce it.
            principal = sum(max(c.outstanding_oere, 0) for c in claims)
            if principal <= 0:
                return refused(UserErrorCode.CLAIM_NOT_OPEN, *PLAN_FIELD)
            now = utcnow()
            # The schedule starts from the approval, so no installment falls due before the plan is in force.
            schedule = build_schedule(principal, plan.monthly_amount_oere, plan.day_of_month, today())
            await tx.replace_schedule(plan_id, schedule)
            await tx.approve(
                plan_id, by=caseworker_id, note=note, now=now, principal_oere=principal, months=len(schedule)
            )
            await tx.log_access(
                caseworker_id=caseworker_id,
                citizen_ids=[plan.citizen_id],
                operation="approveInstallmentPlan",
                request_id=request_id,
                now=now,
            )
            return Outcome(result={"plan": plan_id})

        return await run_idempotent(self.ledger, actor, "approveInstallmentPlan", idempotency_key, payload, work)

    async def cancel(
        self,
        *,
        actor: str,
        caseworker_id: str | None,
        citizen_id: int | None,
        plan_id: int | None,
        idempotency_key: str,
        payload: dict[str, Any],
        request_id: str | None,
    ) -> Outcome:
        """Cancel a pending or active plan (a citizen their own, a caseworker anyone's, logged); its claims become
        free for a new plan and its automatic payment stops."""

        async def work(tx: LedgerTx) -> Outcome:
            plan = await tx.plan_for_update(plan_id) if plan_id is not None else None
            if plan is None or (caseworker_id is None and plan.citizen_id != citizen_id):
                return refused(UserErrorCode.PLAN_NOT_FOUND, *PLAN_FIELD)
            if not can_cancel(plan.status):
                return refused(UserErrorCode.PLAN_NOT_CANCELLABLE, *PLAN_FIELD)
            now = utcnow()
            await tx.cancel(plan.id, by=actor, now=now)
            if caseworker_id is not None:
                await tx.log_access(
                    caseworker_id=caseworker_id,
                    citizen_ids=[plan.citizen_id],
                    operation="cancelInstallmentPlan",
                    request_id=request_id,
                    now=now,
                )
            return Outcome(result={"plan": plan.id})

        outcome = await run_idempotent(self.ledger, actor, "cancelInstallmentPlan", idempotency_key, payload, work)
        if outcome.ok:
            # Also on a replay: a cancelled plan's automatic payment must stop, and a retry finishes the job.
            await self.enrolments.stop_for_plan(int(outcome.result["plan"]))
        return outcome

    # --- the caseworkers' queue -------------------------------------------------------------------------

    async def awaiting_approval(self) -> list[Row]:
        """Plans waiting for an individual assessment, oldest first."""
        async with self.ledger.read() as tx:
            return await tx.pending_plans()
