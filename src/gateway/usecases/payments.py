"""Pay now (R3): start a one-off payment by card or MobilePay, and apply the provider's view of it.

Applying is idempotent and order-safe: each provider object carries a version (the webhook's ``sequence``),
the row is locked, and an older or equal version changes nothing. A capture is posted to the ledger exactly
once (the status moves to CAPTURED in the same transaction as the ledger entries), allocated as domain.md
says: only the ticked claims; fees, then interest, then principal; oldest due date first; never below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from gateway.domain.allocation import ClaimBalance, allocate_payment, split_outstanding
from gateway.domain.clock import today, utcnow
from gateway.domain.errors import UserErrorCode, payments_unavailable
from gateway.domain.money import InvalidAmount, parse_oere
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

log = structlog.get_logger(__name__)

# The provider's payment states -> ours (api.md Payment.status).
PAYMENT_STATUS = {
    "CREATED": "CREATED",
    "AUTHORIZED": "AUTHORIZED",
    "CAPTURED": "CAPTURED",
    "ABORTED": "CANCELLED",
    "TERMINATED": "CANCELLED",
    "EXPIRED": "EXPIRED",
    "FAILED": "FAILED",
}
FINAL_PAYMENT = frozenset({"CAPTURED", "CANCELLED", "EXPIRED", "FAILED"})
METHOD_TEXT = {"CARD": "Indbetaling med betalingskort", "MOBILEPAY": "Indbetaling med MobilePay"}


def payment_reference(payment_id: int) -> str:
    return f"RK-PAY-{payment_id:08d}"


def payment_id_from_reference(reference: str) -> int | None:
    prefix = "RK-PAY-"
    tail = reference[len(prefix) :] if reference.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def _entry_for_split(kind: str, component: str | None, amount: int) -> tuple[str, int]:
    # A payment tagged with the component it settled counts against that component (see split_outstanding).
    if kind in ("PAYMENT", "ADJUSTMENT") and amount < 0 and component:
        return {"FEE": "FEE", "INTEREST": "INTEREST", "PRINCIPAL": "CHARGE"}[component], amount
    return kind, amount


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
        new_status = PAYMENT_STATUS[provider.state]
        if row.status in FINAL_PAYMENT or provider.version <= row.provider_sequence or new_status == row.status:
            return str(row.status)
        now = utcnow()
        values: dict[str, Any] = {"status": new_status, "updated_at": now, "provider_sequence": provider.version}
        if new_status == "CAPTURED":
            await self._post_capture(tx, row, provider.captured_oere, now)
            values["captured_at"] = now
        await tx.update_payment(row.id, **values)
        log.info("payment.state", payment=row.id, status=new_status)
        return new_status

    async def _post_capture(self, tx: LedgerTx, row: Row, captured_oere: int, now: Any) -> None:
        claim_ids = await tx.payment_claim_ids(row.id)
        claims = await tx.claims_with_outstanding(claim_ids, lock=True)
        entries = await tx.entries_for_claims(claim_ids)
        balances = []
        for claim in claims:
            fees, interest, principal = split_outstanding(
                _entry_for_split(e.kind, e.component, e.amount_oere) for e in entries if e.claim_id == claim.id
            )
            # The components never exceed what is outstanding in total (a claim can't go below zero).
            total = max(claim.outstanding_oere, 0)
            fees = min(fees, total)
            interest = min(interest, total - fees)
            principal = min(principal, total - fees - interest)
            balances.append(ClaimBalance(str(claim.id), claim.due_on, fees, interest, principal))
        if captured_oere <= 0:
            return
        result = allocate_payment(captured_oere, balances)
        if result.unallocated_oere:
            # Only possible if the claims were paid by other means between authorisation and capture.
            log.warning("payment.unallocated", payment=row.id, oere=result.unallocated_oere)
        await tx.post_allocations(
            payment_id=row.id,
            posted_on=today(),
            text=METHOD_TEXT.get(row.method, "Indbetaling"),
            allocations=[(int(a.claim_id), a.component.value, a.amount_oere) for a in result.allocations],
            now=now,
        )

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
