"""Pay now (R3): start a one-off payment by card or MobilePay, and apply the provider's view of it.

Applying is idempotent and order-safe: each provider object carries a version (the webhook's ``sequence``),
the row is locked, and an older or equal version changes nothing. A capture is posted to the ledger exactly
once (the status moves to CAPTURED in the same transaction as the ledger entries), allocated as domain.md
says: only the ticked claims; fees, then interest, then principal; oldest due date first; never below zero.

Every payment ends: the status poll (``poll``) reaches each open payment in turn; a checkout nobody finished
ends EXPIRED (the provider expires it; if it still says CREATED after ``PaymentPolicy.expire_created_after``, we
end it there ourselves); and a payment the provider keeps refusing (404, or a capture refused again and again)
ends FAILED after ``PaymentPolicy.max_refusals`` refusals, with the reason, a notice to the citizen and an item
for the caseworkers.

The provider knows a payment by the row's own random ``provider_key`` (idempotency keys, reference), never by
its id: two ledgers on one provider account must not collide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import structlog

from gateway.domain.acting import Acting
from gateway.domain.clock import utcnow
from gateway.domain.errors import UserErrorCode, payments_unavailable
from gateway.domain.money import InvalidAmount, parse_oere
from gateway.domain.payment_states import (
    PaymentStatus,
    ReportOutcome,
    classify_provider_state,
    from_provider,
    is_final,
    transition,
)
from gateway.usecases.access import log_acting
from gateway.usecases.idempotency import Outcome, Problems, refused, run_idempotent
from gateway.usecases.ports import (
    Ledger,
    LedgerTx,
    PaymentProvider,
    ProviderPayment,
    ProviderRejected,
    ProviderUnavailable,
    Row,
)
from gateway.usecases.posting import post_to_claims

log = structlog.get_logger(__name__)

METHOD_TEXT = {"CARD": "Indbetaling med betalingskort", "MOBILEPAY": "Indbetaling med MobilePay"}


MIN_PAYMENT_OERE: Final = 100
"""The smallest one-off payment: 1.00 DKK, unless it pays everything the ticked claims still owe (a claim can
always be paid off). Vipps MobilePay's documented minimums in DKK are 1 øre for an ePayment payment and 100 øre
for a Recurring charge; one rule for every channel, and nothing smaller is worth a transaction."""

_REFERENCE_PREFIX: Final = "RK-PAY-"
_PROVIDER_KEY_RE: Final = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class PaymentPolicy:
    """How the status poll treats open payments (settings ``GATEWAY_PAYMENTS_POLL_BATCH_SIZE``,
    ``GATEWAY_PAYMENTS_EXPIRE_CREATED_AFTER_SECONDS``, ``GATEWAY_PAYMENTS_MAX_PROVIDER_REFUSALS``)."""

    poll_batch: int = 200  # open payments asked about per poll round, least recently asked first
    # A checkout still CREATED at the provider this long after it was started is ended by us (EXPIRED). Vipps
    # MobilePay gives the citizen 10 minutes and says to wait at least that long; we wait three times longer.
    expire_created_after: timedelta = timedelta(minutes=30)
    max_refusals: int = 10  # the provider refused it this often (404, a refused capture): FAILED


def payment_reference(provider_key: str) -> str:
    """The provider's reference for a payment (also how a webhook that beats our own write finds it)."""
    return f"{_REFERENCE_PREFIX}{provider_key}"


def provider_key_from_reference(reference: str) -> str | None:
    tail = reference.removeprefix(_REFERENCE_PREFIX) if reference.startswith(_REFERENCE_PREFIX) else ""
    return tail if _PROVIDER_KEY_RE.fullmatch(tail) else None


async def owned_open_claims(
    tx: LedgerTx, claim_ids: Sequence[int], citizen_id: int | None, field: str, *, lock: bool
) -> tuple[list[Row], Problems]:
    """The named claims if they are the citizen's and open (foreign claims look exactly like unknown ones)."""
    rows = {r.id: r for r in await tx.claims_with_outstanding(claim_ids, lock=lock)} if claim_ids else {}
    errors: Problems = []
    found = []
    for i, pk in enumerate(claim_ids):
        row = rows.get(pk)
        if row is None or row.citizen_id != citizen_id:
            errors.append((UserErrorCode.CLAIM_NOT_FOUND, ["input", field, str(i)]))
        elif row.outstanding_oere <= 0:
            errors.append((UserErrorCode.CLAIM_NOT_OPEN, ["input", field, str(i)]))
        else:
            found.append(row)
    return found, errors


class Payments:
    """One-off payments: started by the citizen, moved on by the provider's webhooks and the poll."""

    def __init__(self, ledger: Ledger, provider: PaymentProvider, policy: PaymentPolicy | None = None) -> None:
        self.ledger = ledger
        self.provider = provider
        self.policy = policy or PaymentPolicy()

    async def start(
        self,
        *,
        actor: str,
        citizen_id: int | None,
        claim_ids: Sequence[int],
        problems: Problems,
        method: str,
        return_url: str,
        amount: str | None,
        idempotency_key: str,
        payload: dict[str, Any],
    ) -> Outcome:
        """Start paying the ticked claims (claims at collection too, R14): the whole outstanding, or ``amount``.

        ``problems`` are what the caller found in the input already (they are reported with the rest). The
        provider is called after the commit: a crash in between leaves a CREATED payment that a retry with the
        same key, or the poll, completes."""
        errors = list(problems)
        requested: int | None = None
        if amount is not None:
            try:
                requested = parse_oere(amount)
            except InvalidAmount:
                errors.append((UserErrorCode.INVALID_AMOUNT, ["input", "amount"]))

        async def work(tx: LedgerTx) -> Outcome:
            if errors:
                return Outcome(errors=errors)
            claims, claim_errors = await owned_open_claims(tx, claim_ids, citizen_id, "claimIds", lock=True)
            if claim_errors or citizen_id is None:
                return Outcome(errors=claim_errors or [(UserErrorCode.CLAIM_NOT_FOUND, ["input", "claimIds"])])
            total = sum(c.outstanding_oere for c in claims)
            if total <= 0:
                return refused(UserErrorCode.NOTHING_TO_PAY, "input", "claimIds")
            if requested is not None and requested > total:
                # A payment may never make a claim's outstanding negative.
                return refused(UserErrorCode.AMOUNT_EXCEEDS_OUTSTANDING, "input", "amount")
            if requested is not None and requested < min(MIN_PAYMENT_OERE, total):
                return refused(UserErrorCode.AMOUNT_BELOW_MINIMUM, "input", "amount")
            payment_id = await tx.insert_payment(
                citizen_id=citizen_id,
                method=method,
                amount_oere=requested or total,
                return_url=return_url,
                claim_ids=claim_ids,
                now=utcnow(),
            )
            return Outcome(result={"payment": payment_id})

        outcome = await run_idempotent(self.ledger, actor, "startPayment", idempotency_key, payload, work)
        if outcome.ok:
            try:
                await self.ensure_provider_payment(int(outcome.result["payment"]))
            except (ProviderUnavailable, ProviderRejected):
                raise payments_unavailable() from None
        return outcome

    async def request_payment(
        self,
        *,
        actor: str,
        citizen_id: int | None,
        claim_ids: Sequence[int],
        problems: Problems,
        acting: Acting,
        idempotency_key: str,
        payload: dict[str, Any],
    ) -> Outcome:
        """A caseworker on the phone sends the citizen a link to pay ticked claims: a payment request and a notice
        (PAYMENT_REQUESTED) in the citizen's notices with the link, in one transaction, logged with its purpose.

        Nothing is paid here and no payment is created: the citizen opens the link in their own session and pays
        with ``startPayment`` as always (a caseworker never sees card data). The claims must be the citizen's and
        still owe something, as for a payment (claims at collection too, R14)."""

        async def work(tx: LedgerTx) -> Outcome:
            if problems:
                return Outcome(errors=list(problems))
            _, claim_errors = await owned_open_claims(tx, claim_ids, citizen_id, "claimIds", lock=False)
            if claim_errors or citizen_id is None:
                return Outcome(errors=claim_errors or [(UserErrorCode.CITIZEN_NOT_FOUND, ["input", "citizenId"])])
            now = utcnow()
            request_id = await tx.insert_payment_request(
                citizen_id=citizen_id, requested_by=acting.actor.caseworker_id, claim_ids=claim_ids, now=now
            )
            await tx.notify_citizen(
                citizen_id=citizen_id,
                code="PAYMENT_REQUESTED",
                dedupe_key=f"payment-request:{request_id}",
                now=now,
                payment_request_id=request_id,
            )
            await log_acting(tx, acting, citizen_id, "sendPaymentLink", now)
            return Outcome(result={"paymentRequest": request_id})

        return await run_idempotent(self.ledger, actor, "sendPaymentLink", idempotency_key, payload, work)

    async def payment(self, payment_id: int) -> Row | None:
        async with self.ledger.read() as tx:
            return await tx.payment_row(payment_id)

    async def ensure_provider_payment(self, payment_id: int) -> str:
        """Create the payment at the provider if that has not happened yet (safe to repeat: the provider's
        idempotency key is the row's own key, so a repeat returns the same object). Returns our status; a refusal
        is counted (see :meth:`poll`) and raised."""
        async with self.ledger.read() as tx:
            row = await tx.payment_row(payment_id)
        if row is None:
            return "UNKNOWN"
        if row.provider_ref is not None or is_final(row.status):
            return str(row.status)
        try:
            provider = await self.provider.create_payment(
                idempotency_key=f"startPayment-{row.provider_key}",
                reference=payment_reference(row.provider_key),
                amount_oere=row.amount_oere,
                method=row.method,
                return_url=row.return_url,
                description="Betaling til Randers Kommune",
            )
        except ProviderRejected as exc:
            await self._refused(payment_id, exc.code)
            raise
        async with self.ledger.transaction() as tx:
            await tx.set_payment_provider(payment_id, provider_ref=provider.id, redirect_url=provider.redirect_url)
        return await self.sync_payment(payment_id, provider)

    async def sync_payment(self, payment_id: int, provider: ProviderPayment) -> str:
        """Apply the provider's view of a payment; capture it once authorised. Returns our status."""
        status = await self._apply_payment(payment_id, provider)
        if status == "AUTHORIZED":
            status = await self._capture(payment_id, provider)
        return status

    async def _apply_payment(self, payment_id: int, provider: ProviderPayment) -> str:
        async with self.ledger.transaction() as tx:
            row = await tx.payment_for_update(payment_id)
            if row is None:
                return "UNKNOWN"
            return await self._apply_locked(tx, row, provider)

    async def _apply_locked(self, tx: LedgerTx, row: Row, provider: ProviderPayment) -> str:
        """Apply the provider's state to a payment row locked by the caller's transaction."""
        if row.provider_ref is not None and row.provider_ref != provider.id:
            log.warning("payment.provider_mismatch", payment=row.id)
            return str(row.status)
        report = classify_provider_state(
            row.status, provider.state, version=provider.version, stored_version=row.provider_sequence
        )
        if report is not ReportOutcome.MOVE:
            if report is ReportOutcome.IMPOSSIBLE:
                log.warning("payment.impossible_report", payment=row.id, status=row.status, reported=provider.state)
            return str(row.status)
        new_status = from_provider(provider.state).value
        now = utcnow()
        values: dict[str, Any] = {"status": new_status, "updated_at": now, "provider_sequence": provider.version}
        if new_status == "CAPTURED":
            await self._post_capture(tx, row, provider.captured_oere, now)
            values["captured_at"] = now
        await tx.update_payment(row.id, **values)
        log.info("payment.state", payment=row.id, status=new_status)
        return new_status

    async def _post_capture(self, tx: LedgerTx, row: Row, captured_oere: int, now: datetime) -> None:
        unallocated = await post_to_claims(
            tx,
            await tx.payment_claim_ids(row.id),
            captured_oere,
            text=METHOD_TEXT.get(row.method, "Indbetaling"),
            now=now,
            payment_id=row.id,
        )
        if unallocated:
            # Only possible if the claims were paid by other means between authorisation and capture.
            log.warning("payment.unallocated", payment=row.id, oere=unallocated)

    async def _capture(self, payment_id: int, provider: ProviderPayment) -> str:
        """Capture what the ticked claims still owe (at most what was authorised), or cancel if nothing.

        The payment and its claims stay locked from reading what is owed until the capture is posted, so two
        payments for the same claims can never both take the full amount (the provider call is short; if the
        commit fails after it, the poll finds the capture at the provider and posts it). A refusal is counted;
        after ``max_refusals`` the payment ends FAILED."""
        async with self.ledger.transaction() as tx:
            row = await tx.payment_for_update(payment_id)
            if row is None or row.status != "AUTHORIZED":
                return str(row.status) if row is not None else "UNKNOWN"
            claims = await tx.claims_with_outstanding(await tx.payment_claim_ids(payment_id), lock=True)
            amount = min(sum(max(c.outstanding_oere, 0) for c in claims), provider.amount_oere)
            try:
                if amount <= 0:
                    updated = await self.provider.cancel_payment(
                        provider.id, idempotency_key=f"cancel-{row.provider_key}"
                    )
                else:
                    updated = await self.provider.capture_payment(
                        provider.id, amount_oere=amount, idempotency_key=f"capture-{row.provider_key}"
                    )
            except ProviderUnavailable as exc:
                log.warning("payment.capture_failed", payment=payment_id, error=type(exc).__name__)
                return "AUTHORIZED"  # the poll tries again
            except ProviderRejected as exc:
                log.warning("payment.capture_refused", payment=payment_id, code=exc.code)
                status = await self._refused_locked(tx, row, exc.code)
            else:
                return await self._apply_locked(tx, row, updated)
        if status == PaymentStatus.FAILED:
            await self._release(row)
        return status

    # --- refusals, abandoned checkouts, the poll -------------------------------------------------------------

    async def _refused(self, payment_id: int, code: str) -> str:
        async with self.ledger.transaction() as tx:
            row = await tx.payment_for_update(payment_id)
            if row is None:
                return "UNKNOWN"
            status = await self._refused_locked(tx, row, code)
        if status == PaymentStatus.FAILED:
            await self._release(row)
        return status

    async def _refused_locked(self, tx: LedgerTx, row: Row, code: str) -> str:
        """The provider refused this open payment once more; at ``max_refusals`` it ends FAILED with the reason,
        the citizen is told and caseworkers get an item (once: both are keyed by the payment)."""
        if is_final(row.status):
            return str(row.status)
        refusals = row.provider_refusals + 1
        if refusals < self.policy.max_refusals:
            await tx.note_payment_refusal(row.id, refusals=refusals)
            return str(row.status)
        now = utcnow()
        status = transition(row.status, PaymentStatus.FAILED).value
        reason = f"PROVIDER_{code}"[:60]
        await tx.update_payment(
            row.id, status=status, failure_reason=reason, provider_refusals=refusals, updated_at=now
        )
        claim_ids = await tx.payment_claim_ids(row.id)
        about = {"claim_id": min(claim_ids) if claim_ids else None}
        key = f"payment-failed:{row.provider_key}"
        await tx.notify_citizen(citizen_id=row.citizen_id, code="PAYMENT_FAILED", dedupe_key=key, now=now, **about)
        await tx.add_caseworker_item(kind="PAYMENT_FAILED", dedupe_key=key, citizen_id=row.citizen_id, now=now, **about)
        log.warning("payment.failed", payment=row.id, reason=reason, refusals=refusals)
        return status

    async def _release(self, row: Row) -> None:
        """Best effort, after a payment ended FAILED: cancel it at the provider, so an authorised amount is not
        left reserved on the citizen's account (Vipps MobilePay: release unused funds at once)."""
        if row.provider_ref is None:
            return
        try:
            await self.provider.cancel_payment(row.provider_ref, idempotency_key=f"release-{row.provider_key}")
        except (ProviderUnavailable, ProviderRejected) as exc:
            log.info("payment.release_failed", payment=row.id, error=type(exc).__name__)

    async def _end_abandoned(self, payment_id: int) -> str:
        """A checkout still CREATED at the provider long after it was started: end it there (so it can no longer
        be paid) and here, as EXPIRED. If it moved on meanwhile, apply what it became instead."""
        async with self.ledger.read() as tx:
            row = await tx.payment_row(payment_id)
        if row is None or row.status != PaymentStatus.CREATED or row.provider_ref is None:
            return str(row.status) if row is not None else "UNKNOWN"
        try:
            ended = await self.provider.cancel_payment(row.provider_ref, idempotency_key=f"expire-{row.provider_key}")
        except ProviderRejected as exc:
            if exc.code != "INVALID_STATE":
                return await self._refused(payment_id, exc.code)
            return await self.sync_payment(payment_id, await self.provider.get_payment(row.provider_ref))
        if ended.state != "TERMINATED":
            return await self.sync_payment(payment_id, ended)
        async with self.ledger.transaction() as tx:
            row = await tx.payment_for_update(payment_id)
            if row is None or row.status != PaymentStatus.CREATED:
                return str(row.status) if row is not None else "UNKNOWN"
            # EXPIRED here, TERMINATED there (we ended it): its version is stored, so the provider's
            # payment.terminated webhook that follows is stale and changes nothing.
            status = transition(row.status, PaymentStatus.EXPIRED).value
            await tx.update_payment(
                payment_id,
                status=status,
                provider_sequence=max(ended.version, row.provider_sequence),
                updated_at=utcnow(),
            )
        log.info("payment.abandoned", payment=payment_id)
        return status

    async def poll(self, rows: Sequence[Row]) -> int:
        """Ask the provider about open payments (catches lost webhooks) and end the ones that are done for:
        abandoned checkouts (EXPIRED) and payments it keeps refusing (FAILED). Returns how many were synced."""
        synced = 0
        for p in rows:
            try:
                await self._poll_one(p)
                synced += 1
            except Exception as exc:  # noqa: BLE001 - one bad payment must not stop the poll for the others
                log.warning("poll.payment_failed", payment=p.id, error=type(exc).__name__)
        return synced

    async def _poll_one(self, p: Row) -> str:
        try:
            if p.provider_ref is None:
                status = await self.ensure_provider_payment(p.id)
            else:
                try:
                    provider = await self.provider.get_payment(p.provider_ref)
                except ProviderRejected as exc:  # e.g. 404: the provider does not know it (any more)
                    log.warning("poll.payment_refused", payment=p.id, code=exc.code)
                    return await self._refused(p.id, exc.code)
                status = await self.sync_payment(p.id, provider)
        except ProviderRejected:
            return "REFUSED"  # counted by ensure_provider_payment; the next round asks again
        if status == PaymentStatus.CREATED and p.created_at <= utcnow() - self.policy.expire_created_after:
            status = await self._end_abandoned(p.id)
        return status
