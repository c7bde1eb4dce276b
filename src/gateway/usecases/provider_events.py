"""The payment provider's news, by webhook or by the status poll, applied to payments and enrolments.

Each webhook event is applied once (its id is recorded after it was applied; a duplicate is answered as such),
and applying is idempotent anyway, so a replayed, reordered or lost event never changes the outcome: the
poll catches what was lost.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from enum import StrEnum

import structlog

from gateway.domain.clock import utcnow
from gateway.usecases.draws import Draws
from gateway.usecases.enrolments import Enrolments
from gateway.usecases.payments import Payments, provider_key_from_reference
from gateway.usecases.ports import Ledger, ProviderAgreement, ProviderCharge, ProviderPayment

log = structlog.get_logger(__name__)


class EventResult(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"  # about something we do not know (logged)
    DUPLICATE = "duplicate"


class ProviderEvents:
    def __init__(self, ledger: Ledger, payments: Payments, enrolments: Enrolments, draws: Draws) -> None:
        self.ledger = ledger
        self.payments = payments
        self.enrolments = enrolments
        self.draws = draws

    async def _once(self, event_id: str, event_type: str) -> None:
        async with self.ledger.transaction() as tx:
            await tx.record_event(event_id=event_id, event_type=event_type, now=utcnow())

    async def _seen(self, event_id: str) -> bool:
        async with self.ledger.read() as tx:
            return await tx.event_seen(event_id)

    async def payment_event(self, event_id: str, event_type: str, payment: ProviderPayment) -> EventResult:
        if await self._seen(event_id):
            return EventResult.DUPLICATE
        async with self.ledger.read() as tx:
            payment_id = await tx.payment_id_by_provider_ref(payment.id)
            # A webhook can beat our own write of the provider's id: our reference names the payment's key too
            # (a key, never an id: another ledger's payment on the same provider account is not ours).
            key = provider_key_from_reference(payment.reference)
            if payment_id is None and key is not None:
                payment_id = await tx.payment_id_by_provider_key(key)
        if payment_id is None:
            log.warning("webhook.unknown_payment")
        else:
            await self.payments.sync_payment(payment_id, payment)
        await self._once(event_id, event_type)
        return EventResult.APPLIED if payment_id is not None else EventResult.IGNORED

    async def agreement_event(self, event_id: str, event_type: str, agreement: ProviderAgreement) -> EventResult:
        if await self._seen(event_id):
            return EventResult.DUPLICATE
        async with self.ledger.read() as tx:
            found = await tx.enrolment_id_by_provider_ref(agreement.id)
        if found is None:
            log.warning("webhook.unknown_agreement")
        else:
            await self.enrolments.sync_agreement(found, agreement)
        await self._once(event_id, event_type)
        return EventResult.APPLIED if found is not None else EventResult.IGNORED

    async def charge_event(self, event_id: str, event_type: str, charge: ProviderCharge) -> EventResult:
        """A monthly draw's charge (or Betalingsservice instruction) moved on; unknown ones are ignored."""
        if await self._seen(event_id):
            return EventResult.DUPLICATE
        draw_id = await self.draws.find_draw(charge)
        status = await self.draws.apply_charge(draw_id, charge) if draw_id is not None else "UNKNOWN"
        if status == "UNKNOWN":
            log.warning("webhook.unknown_charge")
        await self._once(event_id, event_type)
        return EventResult.IGNORED if status == "UNKNOWN" else EventResult.APPLIED

    async def poll_once(self, *, min_age_seconds: float = 5.0) -> int:
        """One round of the status poll (catches lost webhooks): the open payments and pending enrolments asked
        about least recently, a batch of each (``PaymentPolicy.poll_batch``), so every one is reached within
        ⌈open / batch⌉ rounds however many are open. Returns how many were synced."""
        now = utcnow()
        cutoff = now - timedelta(seconds=min_age_seconds)
        batch = self.payments.policy.poll_batch
        async with self.ledger.transaction() as tx:  # takes the batches: concurrent pollers get different ones
            payments = await tx.payments_to_poll(older_than=cutoff, now=now, limit=batch)
            enrolments = await tx.enrolments_to_poll(older_than=cutoff, now=now, limit=batch)
        return await self.payments.poll(payments) + await self.enrolments.poll(enrolments)

    async def run_poller(self, interval_seconds: float, min_age_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.poll_once(min_age_seconds=min_age_seconds)
            except Exception:  # the poll must survive anything; the next round tries again
                log.exception("poll.failed")
