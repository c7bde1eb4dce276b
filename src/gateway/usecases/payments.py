"""Pay now (R3): start a one-off payment by card or MobilePay, and apply the provider's view of it.

Applying is idempotent and order-safe: each provider object carries a version (the webhook's ``sequence``),
the row is locked, and an older or equal version changes nothing. A capture is posted to the ledger exactly
once (the status moves to CAPTURED in the same transaction as the ledger entries), allocated as domain.md
says: only the ticked claims; fees, then interest, then principal; oldest due date first; never below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog

from gateway.domain.clock import utcnow
from gateway.domain.errors import UserErrorCode, payments_unavailable
from gateway.domain.money import InvalidAmount, parse_oere
from gateway.domain.payment_states import ReportOutcome, classify_provider_state, from_provider
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


def payment_reference(payment_id: int) -> str:
    return f"RK-PAY-{payment_id:08d}"


def payment_id_from_reference(reference: str) -> int | None:
    prefix = "RK-PAY-"
    tail = reference[len(prefix) :] if reference.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


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

    def __init__(self, ledger: Ledger, provider: PaymentProvider) -> None:
        self.ledger = ledger
        self.provider = provider

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

    async def payment(self, payment_id: int) -> Row | None:
        async with self.ledger.read() as tx:
            return await tx.payment_row(payment_id)

    async def ensure_provider_payment(self, payment_id: int) -> None:
        """Create the payment at the provider if that has not happened yet (safe to repeat: the provider's
        idempotency key is derived from our payment id)."""
        async with self.ledger.read() as tx:
            row = await tx.payment_row(payment_id)
        if row is None or row.provider_ref is not None:
            return
        provider = await self.provider.create_payment(
            idempotency_key=f"startPayment-{payment_id}",
            reference=payment_reference(payment_id),
            amount_oere=row.amount_oere,
            method=row.method,
            return_url=row.return_url,
            description="Betaling til Randers Kommune",
        )
        async with self.ledger.transaction() as tx:
            await tx.set_payment_provider(payment_id, provider_ref=provider.id, redirect_url=provider.redirect_url)
        await self.sync_payment(payment_id, provider)

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
        commit fails after it, the poll finds the capture at the provider and posts it)."""
        async with self.ledger.transaction() as tx:
            row = await tx.payment_for_update(payment_id)
            if row is None or row.status != "AUTHORIZED":
                return str(row.status) if row is not None else "UNKNOWN"
            claims = await tx.claims_with_outstanding(await tx.payment_claim_ids(payment_id), lock=True)
            amount = min(sum(max(c.outstanding_oere, 0) for c in claims), provider.amount_oere)
            try:
                if amount <= 0:
                    updated = await self.provider.cancel_payment(provider.id, idempotency_key=f"cancel-{payment_id}")
                else:
                    updated = await self.provider.capture_payment(
                        provider.id, amount_oere=amount, idempotency_key=f"capture-{payment_id}"
                    )
            except (ProviderUnavailable, ProviderRejected) as exc:
                log.warning("payment.capture_failed", payment=payment_id, error=type(exc).__name__)
                return "AUTHORIZED"  # the poll tries again
            return await self._apply_locked(tx, row, updated)

    async def poll(self, rows: Sequence[Row]) -> int:
        """Ask the provider about open payments (catches lost webhooks); returns how many were synced."""
        synced = 0
        for p in rows:
            try:
                if p.provider_ref is None:
                    await self.ensure_provider_payment(p.id)
                else:
                    await self.sync_payment(p.id, await self.provider.get_payment(p.provider_ref))
                synced += 1
            except Exception as exc:  # noqa: BLE001 - one bad payment must not stop the poll for the others
                log.warning("poll.payment_failed", payment=p.id, error=type(exc).__name__)
        return synced
