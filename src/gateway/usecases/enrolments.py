"""Automatic payment (R4, R5, R9, R10): enrol bills or a plan in Betalingsservice or a MobilePay subscription,
stop an enrolment, and apply the provider's view of its agreement (PENDING → ACTIVE → STOPPED / EXPIRED).

The provider is always told first when stopping: our record must never say "stopped" while money can still be
drawn. Applying the provider's state is order-safe (versions) and follows ``domain.enrolments``' transitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from gateway.domain.acting import Acting
from gateway.domain.clock import utcnow
from gateway.domain.enrolments import EnrolmentStatus, InvalidTransition, is_live, transition
from gateway.domain.errors import UserErrorCode, payments_unavailable
from gateway.domain.plan_states import is_live as is_live_plan
from gateway.usecases.access import log_acting
from gateway.usecases.idempotency import Outcome, Problems, recorded, refused, run_idempotent
from gateway.usecases.payments import owned_open_claims
from gateway.usecases.ports import (
    CollectionStatuses,
    CollectionStatusUnavailable,
    Ledger,
    LedgerTx,
    PaymentProvider,
    ProviderAgreement,
    ProviderRejected,
    ProviderUnavailable,
    Row,
)

log = structlog.get_logger(__name__)

METHOD_FIELD = ("input", "paymentMethodId")


def customer_ref(citizen_id: int) -> str:
    """An opaque reference for the provider: never a CPR number."""
    return f"rk-citizen-{citizen_id}"


class Enrolments:
    def __init__(
        self, ledger: Ledger, provider: PaymentProvider, public_url: str, collection: CollectionStatuses
    ) -> None:
        self.ledger = ledger
        self.provider = provider
        self.public_url = public_url
        self.collection = collection

    @property
    def default_return_url(self) -> str:
        return f"{self.public_url}/graphql"

    async def enrol(
        self,
        *,
        actor: str,
        citizen_id: int | None,
        kind: str,
        claim_ids: Sequence[int],
        plan_id: int | None,
        account_id: int | None,
        return_url: str,
        problems: Problems,
        idempotency_key: str,
        payload: dict[str, Any],
        acting: Acting | None = None,
    ) -> Outcome:
        """Enrol bills (``claim_ids``) or a plan (``plan_id``); a MobilePay subscription draws on the citizen's
        chosen account. Bills that Gældsstyrelsen holds cannot be enrolled (R14: we do not draw them). The
        agreement is created at the provider after the commit (a retry or the poll finishes it if the provider
        is down). ``acting``: a caseworker enrols on the citizen's behalf (logged with its purpose)."""
        operation = "enrolAutomaticPaymentOnBehalf" if acting is not None else "enrolAutomaticPayment"
        at_collection: set[int] | None = set()
        if claim_ids and not problems:
            at_collection = await self._at_collection(claim_ids, citizen_id)

        async def work(tx: LedgerTx) -> Outcome:
            if problems:
                return Outcome(errors=list(problems))
            # A citizen the ledger has no record of owns nothing: their claims, plan and account are not found
            # below, as anybody else's are (not a bare NOT_ALLOWED).
            if at_collection is None:
                return refused(UserErrorCode.COLLECTION_STATUS_UNAVAILABLE, "input", "claimIds")
            for i, pk in enumerate(claim_ids):
                if pk in at_collection:
                    return refused(UserErrorCode.CLAIM_AT_COLLECTION, "input", "claimIds", str(i))
            account_ref = None
            if account_id is not None:
                account = await tx.account(account_id)
                if account is None or account.citizen_id != citizen_id:
                    return refused(UserErrorCode.MOBILEPAY_ACCOUNT_NOT_FOUND, "input", "mobilePayAccountId")
                account_ref = account.provider_ref
            if plan_id is not None:
                plan = await tx.plan(plan_id)
                if plan is None or plan.citizen_id != citizen_id:
                    return refused(UserErrorCode.PLAN_NOT_FOUND, "input", "planId")
                if not is_live_plan(plan.status):
                    return refused(UserErrorCode.NOT_ALLOWED, "input", "planId")
            else:
                _, claim_errors = await owned_open_claims(tx, claim_ids, citizen_id, "claimIds", lock=True)
                if claim_errors:
                    return Outcome(errors=claim_errors)
            if await tx.live_enrolment_conflicts(claim_ids=claim_ids, plan_id=plan_id):
                field = "planId" if plan_id is not None else "claimIds"
                return refused(UserErrorCode.ENROLMENT_ALREADY_ACTIVE, "input", field)
            if citizen_id is None:
                return Outcome(errors=[(UserErrorCode.NOT_ALLOWED, None)])
            now = utcnow()
            enrolment_id = await tx.insert_enrolment(
                citizen_id=citizen_id,
                kind=kind,
                account_id=account_id,
                plan_id=plan_id,
                claim_ids=claim_ids,
                now=now,
            )
            if acting is not None:
                await log_acting(tx, acting, citizen_id, operation, now)
            return Outcome(result={"paymentMethod": enrolment_id, "accountRef": account_ref})

        outcome = await run_idempotent(self.ledger, actor, operation, idempotency_key, payload, work)
        if outcome.ok:
            try:
                await self.ensure_provider_agreement(
                    int(outcome.result["paymentMethod"]),
                    account_ref=outcome.result.get("accountRef"),
                    return_url=return_url,
                )
            except (ProviderUnavailable, ProviderRejected):
                raise payments_unavailable() from None
        return outcome

    async def _at_collection(self, claim_ids: Sequence[int], citizen_id: int | None) -> set[int] | None:
        """The citizen's named claims that Gældsstyrelsen holds; None when it cannot be asked."""
        async with self.ledger.read() as tx:
            rows = [r for r in await tx.claims_with_outstanding(claim_ids) if r.citizen_id == citizen_id]
        if not rows:
            return set()
        try:
            statuses = await self.collection.statuses([r.reference for r in rows])
        except CollectionStatusUnavailable:
            return None
        return {r.id for r in rows if statuses.get(r.reference) == "AT_COLLECTION"}

    async def enrolment(self, enrolment_id: int) -> Row | None:
        async with self.ledger.read() as tx:
            return await tx.enrolment_row(enrolment_id)

    async def owned(self, enrolment_id: int | None, citizen_id: int | None) -> Row | None:
        """The enrolment if it is the citizen's."""
        row = await self.enrolment(enrolment_id) if enrolment_id is not None else None
        return row if row is not None and row.citizen_id == citizen_id else None

    async def stop(
        self,
        *,
        actor: str,
        citizen_id: int | None,
        enrolment_id: int | None,
        idempotency_key: str,
        payload: dict[str, Any],
        acting: Acting | None = None,
    ) -> Outcome:
        """Stop an enrolment: at the provider first, then in the ledger. A stopped one never comes back; stopping
        again is a no-op, and a replayed key does not ask the provider again. ``acting``: a caseworker stops it on
        the citizen's behalf (logged with its purpose)."""
        operation = "stopAutomaticPaymentOnBehalf" if acting is not None else "stopAutomaticPayment"
        row = await self.owned(enrolment_id, citizen_id)
        if row is None:
            return refused(UserErrorCode.PAYMENT_METHOD_NOT_FOUND, *METHOD_FIELD)
        earlier = await recorded(self.ledger, actor, operation, idempotency_key, payload)
        if earlier is not None:
            return earlier
        if row.status in ("PENDING", "ACTIVE") and row.provider_ref is not None:
            try:
                await self.stop_agreement(row.id, row.provider_ref)
            except (ProviderUnavailable, ProviderRejected):
                raise payments_unavailable() from None

        async def work(tx: LedgerTx) -> Outcome:
            current = await tx.enrolment_for_update(row.id)
            now = utcnow()
            if current is not None and current.status in ("PENDING", "ACTIVE"):
                await tx.update_enrolment(row.id, live=False, status="STOPPED", ended_at=now)
            if acting is not None:
                await log_acting(tx, acting, row.citizen_id, operation, now)
            return Outcome(result={"paymentMethod": row.id})

        return await run_idempotent(self.ledger, actor, operation, idempotency_key, payload, work)

    async def stop_for_plan(self, plan_id: int) -> None:
        """Stop the automatic payment of a plan that ended (cancelled); safe to repeat."""
        async with self.ledger.read() as tx:
            live = await tx.live_enrolments_of_plan(plan_id)
        for enrolment in live:
            try:
                if enrolment.provider_ref is not None:
                    await self.stop_agreement(enrolment.id, enrolment.provider_ref)
                async with self.ledger.transaction() as tx:
                    await tx.update_enrolment(enrolment.id, live=False, status="STOPPED", ended_at=utcnow())
            except (ProviderUnavailable, ProviderRejected):
                raise payments_unavailable() from None

    async def ensure_provider_agreement(self, enrolment_id: int, *, account_ref: str | None, return_url: str) -> None:
        async with self.ledger.read() as tx:
            row = await tx.enrolment_row(enrolment_id)
        if row is None or row.provider_ref is not None:
            return
        agreement = await self.provider.create_agreement(
            idempotency_key=f"enrol-{row.provider_key}",  # the row's own key: two ledgers never collide
            kind=row.kind,
            customer_ref=customer_ref(row.citizen_id),
            mobilepay_account_ref=account_ref,
            description="Randers Kommune, automatisk betaling",
            return_url=return_url if row.kind == "MOBILEPAY_SUBSCRIPTION" else None,
        )
        async with self.ledger.transaction() as tx:
            await tx.set_enrolment_provider(
                enrolment_id, provider_ref=agreement.id, confirmation_url=agreement.confirmation_url
            )
        await self.sync_agreement(enrolment_id, agreement)

    async def sync_agreement(self, enrolment_id: int, agreement: ProviderAgreement) -> str:
        async with self.ledger.transaction() as tx:
            row = await tx.enrolment_for_update(enrolment_id)
            if row is None:
                return "UNKNOWN"
            if agreement.version <= row.provider_sequence:
                return str(row.status)
            try:
                new = transition(EnrolmentStatus(row.status), EnrolmentStatus(agreement.state))
            except InvalidTransition:
                log.warning("enrolment.ignored_transition", enrolment=enrolment_id, state=agreement.state)
                return str(row.status)
            now = utcnow()
            values: dict[str, Any] = {"status": new.value, "provider_sequence": agreement.version}
            if new is EnrolmentStatus.ACTIVE and row.activated_at is None:
                values["activated_at"] = now
            if not is_live(new):
                values["ended_at"] = now
            chosen = agreement.mobilepay_account_ref
            if chosen is not None and row.kind == "MOBILEPAY_SUBSCRIPTION":
                # R4: the account the citizen actually picked in MobilePay is the one we show.
                account = await tx.account_by_provider_ref(row.citizen_id, chosen)
                if account is None:
                    log.warning("enrolment.unknown_account", enrolment=enrolment_id)
                elif account.id != row.mobilepay_account_id:
                    values["mobilepay_account_id"] = account.id
            await tx.update_enrolment(enrolment_id, live=is_live(new), **values)
            log.info("enrolment.state", enrolment=enrolment_id, status=new.value)
            return new.value

    async def stop_agreement(self, enrolment_id: int, provider_ref: str) -> None:
        try:
            agreement = await self.provider.stop_agreement(provider_ref, idempotency_key=f"stop-{provider_ref}")
        except ProviderRejected as exc:
            if exc.code not in ("INVALID_STATE", "AGREEMENT_STOPPED"):
                raise
            agreement = await self.provider.get_agreement(provider_ref)
        await self.sync_agreement(enrolment_id, agreement)

    async def poll(self, rows: Sequence[Row]) -> int:
        """Ask the provider about pending enrolments (catches lost webhooks); returns how many were synced."""
        synced = 0
        for e in rows:
            try:
                if e.provider_ref is None:  # the provider was down when it was requested
                    await self.ensure_provider_agreement(
                        e.id, account_ref=e.account_ref, return_url=self.default_return_url
                    )
                else:
                    await self.sync_agreement(e.id, await self.provider.get_agreement(e.provider_ref))
                synced += 1
            except Exception as exc:  # noqa: BLE001 - one bad enrolment must not stop the poll for the others
                log.warning("poll.enrolment_failed", enrolment=e.id, error=type(exc).__name__)
        return synced
