"""The simulator's in-memory state: payments, agreements, charges, the clock, idempotency records, config and
webhook delivery.

Everything lives on one :class:`SimulatorState` per app (``app.state.sim``). State changes go through
:meth:`SimulatorState.move_payment` / :meth:`SimulatorState.move_agreement` / :meth:`SimulatorState.move_charge`,
which bump the object's version and emit its webhook; delivery runs in a background task so no request ever
waits for a webhook.

Locking: every state change happens under ``SimulatorState.lock`` (a re-entrant thread lock), held only
around synchronous code, never across an ``await``. The request handlers run on the server's event loop, but
tests and tools may also call the public methods (``set_today``, ``advance_days``, ``set_charge_failures``, ...)
from other threads; events emitted there are handed to the event loop with ``call_soon_threadsafe``.

The clock: ``today`` is a date that moves only when told (``set_today`` / ``advance_days``), starting at the
real date in Denmark. Moving it processes the charges day by day, in a fixed order (due date, then creation
order), so the same calls always give the same states and events. Payments live on the simulator's time
(:meth:`SimulatorState.clock_now`: the real time, moved as far as the clock was moved): a checkout not approved
within ``paymentExpirySeconds`` expires (Vipps MobilePay ePayment: 10 minutes), checked whenever the payment is
looked at and whenever the clock moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import httpx

from adapters.payments import webhooks
from adapters.payments.client import CURRENCY
from gateway.domain import clock

PBS_NUMBER: Final = "08915118"  # the simulated creditor's PBS number (made up)
DEBTOR_GROUP: Final = "00001"

_PAYMENT_EVENTS: Final = {v: k for k, v in webhooks.PAYMENT_EVENT_STATES.items()}
_AGREEMENT_EVENTS: Final = {v: k for k, v in webhooks.AGREEMENT_EVENT_STATES.items()}
_CHARGE_EVENTS: Final = {v: k for k, v in webhooks.CHARGE_EVENT_STATES.items()}
CHARGE_OPEN_STATES: Final = frozenset({"PENDING", "DUE"})  # not yet charged: can be cancelled
MAX_CLOCK_STEP_DAYS: Final = 3660  # POST /admin/clock/advance: at most ten years at once


def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


class Problem(Exception):
    """A refused request: answered as problem JSON ``{"type", "title", "status", "detail", "code"}``."""

    def __init__(self, status: int, code: str, detail: str, *, index: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.index = index  # bulk requests: the refused item


@dataclass
class SimPayment:
    id: str
    reference: str
    amount_oere: int
    method: str
    description: str
    return_url: str
    redirect_url: str
    created_at: datetime
    state: str = "CREATED"
    captured_oere: int = 0
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "amount": {"currency": CURRENCY, "value": self.amount_oere},
            "method": self.method,
            "state": self.state,
            "description": self.description,
            "returnUrl": self.return_url,
            "redirectUrl": self.redirect_url,
            "capturedAmount": {"currency": CURRENCY, "value": self.captured_oere},
            "createdAt": self.created_at.isoformat(),
            "version": self.version,
        }


@dataclass
class SimAgreement:
    id: str
    kind: str
    customer_ref: str
    mobilepay_account_ref: str | None
    description: str
    return_url: str | None
    confirmation_url: str | None
    bs_reference: dict[str, str] | None
    created_at: datetime
    state: str = "PENDING"
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "customerRef": self.customer_ref,
            "mobilePayAccountRef": self.mobilepay_account_ref,
            "description": self.description,
            "returnUrl": self.return_url,
            "confirmationUrl": self.confirmation_url,
            "bsReference": self.bs_reference,
            "createdAt": self.created_at.isoformat(),
            "version": self.version,
        }


@dataclass
class SimCharge:
    id: str
    agreement_id: str
    reference: str
    description: str
    amount_oere: int
    due: date
    retry_days: int
    created_at: datetime
    state: str = "PENDING"
    captured_oere: int = 0
    failure_reason: str | None = None
    charged_on: date | None = None
    version: int = 1
    # Injected failure, fixed at the charge's first attempt: the reason, and how many more attempts fail
    # (None: every attempt until its retry days are used up).
    failing: str | None = None
    failures_left: int | None = None
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agreementId": self.agreement_id,
            "reference": self.reference,
            "description": self.description,
            "amount": {"currency": CURRENCY, "value": self.amount_oere},
            "capturedAmount": {"currency": CURRENCY, "value": self.captured_oere},
            "due": self.due.isoformat(),
            "retryDays": self.retry_days,
            "state": self.state,
            "failureReason": self.failure_reason,
            "chargedOn": None if self.charged_on is None else self.charged_on.isoformat(),
            "createdAt": self.created_at.isoformat(),
            "version": self.version,
        }


@dataclass(frozen=True)
class ChargeSpec:
    """A validated request for one charge (single or bulk)."""

    agreement_id: str
    reference: str
    description: str
    amount_oere: int
    due: date
    retry_days: int


@dataclass
class FailureRule:
    """``POST /admin/agreements/{id}/fail-charges``: the next ``times`` charges (None: all) on the agreement
    fail with ``reason``, each for its first ``attempts`` attempts (None: every attempt, so it ends FAILED)."""

    reason: str
    times: int | None
    attempts: int | None

    def to_json(self, agreement_id: str) -> dict[str, Any]:
        return {"agreementId": agreement_id, "reason": self.reason, "times": self.times, "attempts": self.attempts}


@dataclass
class IdempotencyRecord:
    fingerprint: str
    status_code: int
    object_kind: str  # "payment" | "agreement" | "charge" | "charges" (a bulk request)
    object_id: str
    object_ids: tuple[str, ...] = ()  # "charges": the bulk request's charges, in order


@dataclass
class SimConfig:
    webhook_url: str | None = None
    webhook_delay_ms: int = 0
    drop_webhooks: bool = False
    duplicate_webhooks: bool = False
    reverse_order: bool = False
    webhook_retries: int = 3
    webhook_retry_backoff_ms: int = 200
    # Vipps MobilePay ePayment: the citizen has 10 minutes to approve, then the payment is EXPIRED. 0: never.
    payment_expiry_seconds: int = 600

    def to_json(self) -> dict[str, Any]:
        return {
            "webhookUrl": self.webhook_url,
            "webhookDelayMs": self.webhook_delay_ms,
            "dropWebhooks": self.drop_webhooks,
            "duplicateWebhooks": self.duplicate_webhooks,
            "reverseOrder": self.reverse_order,
            "webhookRetries": self.webhook_retries,
            "webhookRetryBackoffMs": self.webhook_retry_backoff_ms,
            "paymentExpirySeconds": self.payment_expiry_seconds,
        }


@dataclass
class WebhookRecord:
    event_id: str
    event_type: str
    object_id: str
    sequence: int
    body: bytes
    created_at: datetime
    status: str = "queued"  # queued | delivered | failed | dropped | held | no_url
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "type": self.event_type,
            "objectId": self.object_id,
            "sequence": self.sequence,
            "status": self.status,
            "createdAt": self.created_at.isoformat(),
            "attempts": self.attempts,
            "event": json.loads(self.body),
        }


@dataclass
class _Delivery:
    record: WebhookRecord
    copies: int  # 2 when duplicating


class SimulatorState:
    def __init__(
        self, *, webhook_url: str | None, webhook_secret: bytes, public_url: str | None, api_key: str | None
    ) -> None:
        self.webhook_secret = webhook_secret
        self.public_url = public_url.rstrip("/") if public_url else None
        self.api_key = api_key
        self._initial_webhook_url = webhook_url
        self.config = SimConfig(webhook_url=webhook_url)
        self.lock = threading.RLock()
        self.payments: dict[str, SimPayment] = {}
        self.agreements: dict[str, SimAgreement] = {}
        self.charges: dict[str, SimCharge] = {}  # in creation order
        self.charge_references: dict[str, str] = {}  # reference -> charge id (unique, like Vipps' orderId)
        self.failure_rules: dict[str, FailureRule] = {}  # agreement id -> rule
        self.today: date = clock.today()
        self._start_day = self.today  # clock_now() is the real time moved by (today - _start_day)
        self.idempotency: dict[str, IdempotencyRecord] = {}
        self.calls: Counter[str] = Counter()
        self.webhook_log: list[WebhookRecord] = []
        self.held: list[WebhookRecord] = []
        self.bs_customer_counter = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: list[_Delivery] = []
        self._queue: asyncio.Queue[_Delivery] | None = None
        self._worker: asyncio.Task[None] | None = None

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop that serves the app; webhooks are delivered from there (set at startup)."""
        self._loop = loop

    def reset(self) -> None:
        with self.lock:
            self._outbox.clear()
            if self._worker is not None:  # drop deliveries still queued from before the reset
                self._call_on_loop(self._drop_worker)
            self.config = SimConfig(webhook_url=self.config.webhook_url or self._initial_webhook_url)
            self.payments.clear()
            self.agreements.clear()
            self.charges.clear()
            self.charge_references.clear()
            self.failure_rules.clear()
            self.today = clock.today()
            self._start_day = self.today
            self.idempotency.clear()
            self.calls.clear()
            self.webhook_log.clear()
            self.held.clear()

    # -- payments and their expiry --

    def clock_now(self) -> datetime:
        """The simulator's time: the real time, moved as many days as its clock was moved (payments' timers)."""
        with self.lock:
            return now() + timedelta(days=(self.today - self._start_day).days)

    def payment(self, payment_id: str) -> SimPayment | None:
        """A payment as it is now: a checkout left CREATED past its expiry has EXPIRED (and says so by webhook)."""
        with self.lock:
            payment = self.payments.get(payment_id)
            if payment is not None:
                self._expire_if_due(payment)
            return payment

    def expire_payments(self) -> int:
        """Expire every checkout left CREATED past its expiry; how many did."""
        with self.lock:
            return sum(self._expire_if_due(p) for p in list(self.payments.values()))

    def _expire_if_due(self, payment: SimPayment) -> bool:
        expiry = self.config.payment_expiry_seconds
        if payment.state != "CREATED" or expiry <= 0:
            return False
        if payment.created_at + timedelta(seconds=expiry) > self.clock_now():
            return False
        return self.move_payment(payment, "EXPIRED", {"CREATED"})

    # -- state changes --

    def move_payment(self, payment: SimPayment, target: str, allowed_from: set[str]) -> bool:
        """Move to ``target`` and emit its webhook. False if it already was there; 409 if not allowed."""
        with self.lock:
            if payment.state == target:
                return False
            if payment.state not in allowed_from:
                raise Problem(409, "INVALID_STATE", f"payment is {payment.state}, cannot become {target}")
            payment.state = target
            payment.version += 1
            self.emit(_PAYMENT_EVENTS[target], payment.to_json())
            return True

    def capture(self, payment: SimPayment, amount_oere: int) -> None:
        with self.lock:
            if payment.state not in ("AUTHORIZED", "CAPTURED"):
                raise Problem(409, "INVALID_STATE", f"payment is {payment.state}; only AUTHORIZED can be captured")
            if amount_oere > payment.amount_oere - payment.captured_oere:
                raise Problem(400, "AMOUNT_EXCEEDS_AUTHORIZED", "capture is more than the uncaptured amount")
            payment.captured_oere += amount_oere
            payment.state = "CAPTURED"
            payment.version += 1
            self.emit("payment.captured", payment.to_json())

    def move_agreement(self, agreement: SimAgreement, target: str, allowed_from: set[str]) -> bool:
        """As :meth:`move_payment`. An agreement that stops or expires cancels its charges not yet charged."""
        with self.lock:
            if agreement.state == target:
                return False
            if agreement.state == "STOPPED":
                # Vipps MobilePay Recurring API: a stopped agreement can never be reactivated.
                raise Problem(409, "AGREEMENT_STOPPED", f"agreement is STOPPED and cannot become {target}")
            if agreement.state not in allowed_from:
                raise Problem(409, "INVALID_STATE", f"agreement is {agreement.state}, cannot become {target}")
            agreement.state = target
            agreement.version += 1
            self.emit(_AGREEMENT_EVENTS[target], agreement.to_json())
            if target in ("STOPPED", "EXPIRED"):
                for charge in self.charges.values():
                    if charge.agreement_id == agreement.id and charge.state in CHARGE_OPEN_STATES:
                        self.move_charge(charge, "CANCELLED")
            return True

    def activate_agreement(self, agreement: SimAgreement, account: str | None = None) -> bool:
        """PENDING → ACTIVE, optionally with the MobilePay account the citizen chose (it replaces the one the
        merchant suggested, in the same version). Activating an ACTIVE agreement again is a no-op with the same
        (or no) account, and 409 with another one."""
        with self.lock:
            if account is not None:
                if agreement.kind != "MOBILEPAY_SUBSCRIPTION":
                    raise Problem(400, "VALIDATION_FAILED", "mobilePayAccountRef only applies to MobilePay")
                if agreement.state == "ACTIVE" and account != agreement.mobilepay_account_ref:
                    raise Problem(409, "INVALID_STATE", "agreement is already ACTIVE with another account")
                if agreement.state == "PENDING":
                    agreement.mobilepay_account_ref = account  # PENDING -> ACTIVE is always allowed, below
            return self.move_agreement(agreement, "ACTIVE", {"PENDING"})

    # -- charges --

    def check_charge(self, spec: ChargeSpec, *, taken_references: set[str] | frozenset[str] = frozenset()) -> None:
        """Refuse a charge the provider would refuse (as :class:`Problem`); nothing is changed."""
        with self.lock:
            agreement = self.agreements.get(spec.agreement_id)
            if agreement is None:
                raise Problem(404, "NOT_FOUND", "no such agreement")
            if agreement.state != "ACTIVE":
                raise Problem(409, "AGREEMENT_NOT_ACTIVE", f"agreement is {agreement.state}; charges need ACTIVE")
            # Vipps MobilePay Recurring: charges are created with a 1-day lead time, until midnight before due.
            if spec.due <= self.today:
                raise Problem(400, "DUE_TOO_SOON", "due must be at least one day after the provider's today")
            if spec.reference in self.charge_references or spec.reference in taken_references:
                raise Problem(409, "DUPLICATE_REFERENCE", "another charge has this reference")

    def add_charge(self, spec: ChargeSpec) -> SimCharge:
        """Create a checked charge (PENDING, version 1) and emit ``charge.pending``."""
        with self.lock:
            self.check_charge(spec)
            charge = SimCharge(
                id=new_id("chg"),
                agreement_id=spec.agreement_id,
                reference=spec.reference,
                description=spec.description,
                amount_oere=spec.amount_oere,
                due=spec.due,
                retry_days=spec.retry_days,
                created_at=now(),
            )
            self.charges[charge.id] = charge
            self.charge_references[charge.reference] = charge.id
            self.emit(_CHARGE_EVENTS["PENDING"], charge.to_json())
            return charge

    def move_charge(self, charge: SimCharge, target: str) -> None:
        with self.lock:
            charge.state = target
            charge.version += 1
            self.emit(_CHARGE_EVENTS[target], charge.to_json())

    def cancel_charge(self, charge: SimCharge) -> bool:
        """PENDING/DUE → CANCELLED; False if already CANCELLED; 409 once charged or failed."""
        with self.lock:
            if charge.state == "CANCELLED":
                return False
            if charge.state not in CHARGE_OPEN_STATES:
                raise Problem(409, "INVALID_STATE", f"charge is {charge.state}; only PENDING or DUE can be cancelled")
            self.move_charge(charge, "CANCELLED")
            return True

    def set_charge_failures(self, agreement_id: str, rule: FailureRule) -> None:
        with self.lock:
            self.failure_rules[agreement_id] = rule

    def clear_charge_failures(self, agreement_id: str) -> None:
        """Forget the agreement's rule; its DUE charges that were failing succeed at their next retry."""
        with self.lock:
            self.failure_rules.pop(agreement_id, None)
            for charge in self.charges.values():
                if charge.agreement_id == agreement_id and charge.state == "DUE":
                    charge.failing = None
                    charge.failures_left = None

    # -- the clock --

    def set_today(self, today: date) -> None:
        """Move the clock forward to ``today``, processing every day in between; 409 for a date in the past."""
        with self.lock:
            if today < self.today:
                raise Problem(409, "CLOCK_BACKWARDS", "the clock only moves forward")
            while self.today < today:
                # Days on which no charge comes due and none is being retried change nothing: skip them.
                open_charges = [c for c in self.charges.values() if c.state in CHARGE_OPEN_STATES]
                tomorrow = self.today + timedelta(days=1)
                busy = min(
                    (max(c.due, tomorrow) if c.state == "PENDING" else tomorrow for c in open_charges), default=None
                )
                if busy is None or busy > today:
                    self.today = today
                    break
                self.today = busy
                self._process_day(busy)
            self.expire_payments()

    def advance_days(self, days: int) -> None:
        if type(days) is not int or not 0 <= days <= MAX_CLOCK_STEP_DAYS:
            raise Problem(400, "VALIDATION_FAILED", f"days must be an int from 0 to {MAX_CLOCK_STEP_DAYS}")
        with self.lock:
            self.set_today(self.today + timedelta(days=days))

    def _process_day(self, day: date) -> None:
        """One day at the provider: every PENDING charge due by ``day`` becomes DUE, and every DUE charge is
        attempted once: CHARGED (the full amount), or, if failure is injected, still DUE until ``due +
        retryDays`` and then FAILED with the reason."""
        due_today = sorted(
            (c for c in self.charges.values() if c.state in CHARGE_OPEN_STATES and c.due <= day),
            key=lambda c: c.due,  # stable: creation order within a due date
        )
        for charge in due_today:
            if charge.state == "PENDING":
                self.move_charge(charge, "DUE")
            if charge.attempts == 0:
                self._fix_fate(charge)
            charge.attempts += 1
            if charge.failing is not None and (charge.failures_left is None or charge.failures_left > 0):
                if charge.failures_left is not None:
                    charge.failures_left -= 1
                if day >= charge.due + timedelta(days=charge.retry_days):
                    charge.failure_reason = charge.failing
                    self.move_charge(charge, "FAILED")
                continue
            charge.captured_oere = charge.amount_oere
            charge.charged_on = day
            self.move_charge(charge, "CHARGED")

    def _fix_fate(self, charge: SimCharge) -> None:
        rule = self.failure_rules.get(charge.agreement_id)
        if rule is None:
            return
        charge.failing = rule.reason
        charge.failures_left = rule.attempts
        if rule.times is not None:
            rule.times -= 1
            if rule.times <= 0:
                del self.failure_rules[charge.agreement_id]

    # -- webhooks --

    def emit(self, event_type: str, obj: dict[str, Any]) -> WebhookRecord:
        """Record an event for ``obj`` (already in its new state) and schedule its delivery."""
        with self.lock:
            event_id = new_id("evt")
            occurred = now()
            body = webhooks.encode_event(event_id=event_id, event_type=event_type, obj=obj, occurred_at=occurred)
            record = WebhookRecord(event_id, event_type, obj["id"], obj["version"], body, occurred)
            self.webhook_log.append(record)
            if self.config.drop_webhooks:
                record.status = "dropped"
            elif self.config.reverse_order:
                record.status = "held"
                self.held.append(record)
            else:
                self._enqueue(record)
            return record

    def _call_on_loop(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` now if this thread runs the app's event loop, else hand it to that loop."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self._loop if self._loop is not None and not self._loop.is_closed() else running
        if loop is None:
            raise RuntimeError("the simulator's event loop is not running")
        if loop is running:
            fn()
        else:
            loop.call_soon_threadsafe(fn)

    def _enqueue(self, record: WebhookRecord) -> None:
        # Through an outbox, so deliveries keep their emission order whichever thread emitted them.
        with self.lock:
            record.status = "queued"
            self._outbox.append(_Delivery(record, 2 if self.config.duplicate_webhooks else 1))
        self._call_on_loop(self._drain_outbox)

    def _drain_outbox(self) -> None:
        with self.lock:
            deliveries, self._outbox = self._outbox, []
        for delivery in deliveries:
            self._put(delivery)

    def _drop_worker(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._worker = None
        self._queue = None

    def _put(self, delivery: _Delivery) -> None:
        # Runs on the event loop only, so the queue and worker are created and used by one thread.
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._deliver_forever(self._queue))
        self._queue.put_nowait(delivery)

    def flush_held(self) -> int:
        with self.lock:
            held, self.held = self.held, []
            for record in reversed(held):
                self._enqueue(record)
            return len(held)

    def redeliver(self, record: WebhookRecord) -> None:
        with self.lock:
            if record in self.held:
                self.held.remove(record)
            self._enqueue(record)

    async def _deliver_forever(self, queue: asyncio.Queue[_Delivery]) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
            while True:
                item = await queue.get()
                try:
                    # The only waits in the simulator: here, in the background worker, and only when a test
                    # asks for slow webhooks or a delivery failed; requests themselves never wait.
                    if self.config.webhook_delay_ms > 0:
                        await asyncio.sleep(self.config.webhook_delay_ms / 1000)
                    ok = True
                    for _ in range(item.copies):
                        ok = await self._deliver_one(http, item.record) and ok
                    if item.record.status != "no_url":
                        item.record.status = "delivered" if ok else "failed"
                finally:
                    queue.task_done()

    async def _deliver_one(self, http: httpx.AsyncClient, record: WebhookRecord) -> bool:
        url = self.config.webhook_url
        if not url:
            record.status = "no_url"
            return False
        for attempt in range(self.config.webhook_retries + 1):
            if attempt:
                await asyncio.sleep(self.config.webhook_retry_backoff_ms / 1000 * 2 ** (attempt - 1))
            signature = webhooks.sign(self.webhook_secret, record.body, int(time.time()))
            entry: dict[str, Any] = {"at": now().isoformat(), "url": url}
            record.attempts.append(entry)
            try:
                response = await http.post(
                    url,
                    content=record.body,
                    headers={"Content-Type": "application/json", webhooks.SIGNATURE_HEADER: signature},
                )
            except httpx.HTTPError as exc:
                entry["error"] = type(exc).__name__
                continue
            entry["responseStatus"] = response.status_code
            if 200 <= response.status_code < 300:
                return True
        return False

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
            self._queue = None

    def stats(self) -> dict[str, Any]:
        sent = failed = attempts = 0
        for record in self.webhook_log:
            for attempt in record.attempts:
                attempts += 1
                if 200 <= attempt.get("responseStatus", 0) < 300:
                    sent += 1
            failed += record.status == "failed"
        return {
            "calls": dict(self.calls),
            "webhooks": {
                "emitted": len(self.webhook_log),
                "sent": sent,
                "failed": failed,
                "dropped": sum(r.status == "dropped" for r in self.webhook_log),
                "held": len(self.held),
                "attempts": attempts,
            },
            "payments": len(self.payments),
            "agreements": len(self.agreements),
            "charges": len(self.charges),
        }
