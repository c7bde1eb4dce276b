"""Pay now and automatic payment (R3–R6, R9, R10, R14): the provider's state applied to the ledger.

The provider's webhooks and a periodic poll both feed ``sync_payment`` / ``sync_agreement``. Applying is
idempotent and order-safe: each object carries the provider's version (the webhook's ``sequence``), the
row is locked, and an older or equal version changes nothing. A capture is posted to the ledger exactly once
(the status moves to CAPTURED in the same transaction as the ledger entries), allocated as domain.md says:
only the ticked claims; fees, then interest, then principal; oldest due date first; never below zero.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from adapters.ledger import payments as store
from adapters.ledger.db import Database
from adapters.payments.client import (
    PaymentsClient,
    PaymentsRejected,
    PaymentsUnavailable,
    ProviderAgreement,
    ProviderPayment,
    agreement_from_json,
    payment_from_json,
)
from adapters.payments.webhooks import InvalidWebhookEvent, parse_event, verify
from gateway.domain.allocation import ClaimBalance, allocate_payment, split_outstanding
from gateway.domain.clock import today, utcnow
from gateway.domain.enrolments import EnrolmentStatus, InvalidTransition, is_live, transition

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


def customer_ref(citizen_id: int) -> str:
    """An opaque reference for the provider: never a CPR number."""
    return f"rk-citizen-{citizen_id}"


def _entry_for_split(kind: str, component: str | None, amount: int) -> tuple[str, int]:
    # A payment tagged with the component it settled counts against that component (see split_outstanding).
    if kind in ("PAYMENT", "ADJUSTMENT") and amount < 0 and component:
        return {"FEE": "FEE", "INTEREST": "INTEREST", "PRINCIPAL": "CHARGE"}[component], amount
    return kind, amount


@dataclass
class PayFlow:
    db: Database
    provider: PaymentsClient
    webhook_secret: bytes
    public_url: str

    # --- one-off payments ------------------------------------------------------------------------------

    async def ensure_provider_payment(self, payment_id: int) -> None:
        """Create the payment at the provider if that has not happened yet (safe to repeat: the provider's
        idempotency key is derived from our payment id)."""
        async with self.db.read() as conn:
            row = await store.payment_row(conn, payment_id)
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
        async with self.db.transaction() as conn:
            await store.set_payment_provider(
                conn, payment_id, provider_ref=provider.id, redirect_url=provider.redirect_url
            )
        await self.sync_payment(payment_id, provider)

    async def sync_payment(self, payment_id: int, provider: ProviderPayment) -> str:
        """Apply the provider's view of a payment; capture it once authorised. Returns our status."""
        status = await self._apply_payment(payment_id, provider)
        if status == "AUTHORIZED":
            status = await self._capture(payment_id, provider)
        return status

    async def _apply_payment(self, payment_id: int, provider: ProviderPayment) -> str:
        async with self.db.transaction() as conn:
            row = await store.payment_for_update(conn, payment_id)
            if row is None:
                return "UNKNOWN"
            return await self._apply_locked(conn, row, provider)

    async def _apply_locked(self, conn: Any, row: Any, provider: ProviderPayment) -> str:
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
            await self._post_capture(conn, row, provider.captured_oere, now)
            values["captured_at"] = now
        await store.update_payment(conn, row.id, **values)
        log.info("payment.state", payment=row.id, status=new_status)
        return new_status

    async def _post_capture(self, conn: Any, row: Any, captured_oere: int, now: Any) -> None:
        claim_ids = await store.payment_claim_ids(conn, row.id)
        claims = await store.claims_with_outstanding(conn, claim_ids, lock=True)
        entries = await store.entries_for_claims(conn, claim_ids)
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
        await store.post_allocations(
            conn,
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
        async with self.db.transaction() as conn:
            row = await store.payment_for_update(conn, payment_id)
            if row is None or row.status != "AUTHORIZED":
                return str(row.status) if row is not None else "UNKNOWN"
            claims = await store.claims_with_outstanding(
                conn, await store.payment_claim_ids(conn, payment_id), lock=True
            )
            amount = min(sum(max(c.outstanding_oere, 0) for c in claims), provider.amount_oere)
            try:
                if amount <= 0:
                    updated = await self.provider.cancel_payment(provider.id, idempotency_key=f"cancel-{payment_id}")
                else:
                    updated = await self.provider.capture_payment(
                        provider.id, amount_oere=amount, idempotency_key=f"capture-{payment_id}"
                    )
            except (PaymentsUnavailable, PaymentsRejected) as exc:
                log.warning("payment.capture_failed", payment=payment_id, error=type(exc).__name__)
                return "AUTHORIZED"  # the poll tries again
            return await self._apply_locked(conn, row, updated)

    # --- automatic payment --------------------------------------------------------------------------------

    async def ensure_provider_agreement(self, enrolment_id: int, *, account_ref: str | None, return_url: str) -> None:
        async with self.db.read() as conn:
            row = await store.enrolment_row(conn, enrolment_id)
        if row is None or row.provider_ref is not None:
            return
        agreement = await self.provider.create_agreement(
            idempotency_key=f"enrol-{enrolment_id}",
            kind=row.kind,
            customer_ref=customer_ref(row.citizen_id),
            mobilepay_account_ref=account_ref,
            description="Randers Kommune, automatisk betaling",
            return_url=return_url if row.kind == "MOBILEPAY_SUBSCRIPTION" else None,
        )
        async with self.db.transaction() as conn:
            await store.set_enrolment_provider(
                conn, enrolment_id, provider_ref=agreement.id, confirmation_url=agreement.confirmation_url
            )
        await self.sync_agreement(enrolment_id, agreement)

    async def sync_agreement(self, enrolment_id: int, agreement: ProviderAgreement) -> str:
        async with self.db.transaction() as conn:
            row = await store.enrolment_for_update(conn, enrolment_id)
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
            await store.update_enrolment(conn, enrolment_id, live=is_live(new), **values)
            log.info("enrolment.state", enrolment=enrolment_id, status=new.value)
            return new.value

    async def stop_agreement(self, enrolment_id: int, provider_ref: str) -> None:
        try:
            agreement = await self.provider.stop_agreement(provider_ref, idempotency_key=f"stop-{enrolment_id}")
        except PaymentsRejected as exc:
            if exc.code not in ("INVALID_STATE", "AGREEMENT_STOPPED"):
                raise
            agreement = await self.provider.get_agreement(provider_ref)
        await self.sync_agreement(enrolment_id, agreement)

    # --- webhooks and the poll ----------------------------------------------------------------------------

    async def handle_webhook(self, body: bytes, signature: str) -> tuple[int, dict[str, str]]:
        if not verify(self.webhook_secret, body, signature, now=int(time.time())):
            return 401, {"error": "invalid signature"}
        try:
            event = parse_event(body)
            obj = payment_from_json(event.data) if event.object_kind == "payment" else agreement_from_json(event.data)
        except (InvalidWebhookEvent, PaymentsUnavailable, ValueError):  # MalformedResponse is a PaymentsUnavailable
            return 400, {"error": "malformed event"}
        async with self.db.read() as conn:
            seen = await store.event_seen(conn, event.id)
        if seen:
            return 200, {"status": "duplicate"}
        applied = await self._apply_event(obj)
        async with self.db.transaction() as conn:
            await store.record_event(conn, event_id=event.id, event_type=event.type, now=utcnow())
        return 200, {"status": "applied" if applied else "ignored"}

    async def _apply_event(self, obj: ProviderPayment | ProviderAgreement) -> bool:
        if isinstance(obj, ProviderPayment):
            provider = obj
            async with self.db.read() as conn:
                found = await store.payment_id_by_provider_ref(conn, provider.id)
            # A webhook can beat our own write of the provider's id: our reference names the payment too.
            payment_id = found if found is not None else payment_id_from_reference(provider.reference)
            if payment_id is None:
                log.warning("webhook.unknown_payment")
                return False
            await self.sync_payment(int(payment_id), provider)
            return True
        agreement = obj
        async with self.db.read() as conn:
            found = await store.enrolment_id_by_provider_ref(conn, agreement.id)
        if found is None:
            log.warning("webhook.unknown_agreement")
            return False
        await self.sync_agreement(found, agreement)
        return True

    async def poll_once(self, *, min_age_seconds: float = 5.0) -> int:
        """Ask the provider about every open payment and pending enrolment (catches lost webhooks)."""
        cutoff = utcnow() - timedelta(seconds=min_age_seconds)
        async with self.db.read() as conn:
            payments = await store.open_payments(conn, older_than=cutoff)
            enrolments = await store.pending_enrolments(conn, older_than=cutoff)
        synced = 0
        for p in payments:
            try:
                if p.provider_ref is None:
                    await self.ensure_provider_payment(p.id)
                else:
                    await self.sync_payment(p.id, await self.provider.get_payment(p.provider_ref))
                synced += 1
            except Exception as exc:  # noqa: BLE001 - one bad payment must not stop the poll for the others
                log.warning("poll.payment_failed", payment=p.id, error=type(exc).__name__)
        for e in enrolments:
            try:
                if e.provider_ref is None:  # the provider was down when it was requested
                    await self.ensure_provider_agreement(
                        e.id, account_ref=e.account_ref, return_url=f"{self.public_url}/graphql"
                    )
                else:
                    await self.sync_agreement(e.id, await self.provider.get_agreement(e.provider_ref))
                synced += 1
            except Exception as exc:  # noqa: BLE001 - one bad enrolment must not stop the poll for the others
                log.warning("poll.enrolment_failed", enrolment=e.id, error=type(exc).__name__)
        return synced

    async def run_poller(self, interval_seconds: float, min_age_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.poll_once(min_age_seconds=min_age_seconds)
            except Exception:  # the poll must survive anything; the next round tries again
                log.exception("poll.failed")
