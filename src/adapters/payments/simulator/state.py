"""The simulator's in-memory state: payments, agreements, idempotency records, config and webhook delivery.

Everything lives on one :class:`SimulatorState` per app (``app.state.sim``). State changes go through
:meth:`SimulatorState.move_payment` / :meth:`SimulatorState.move_agreement`, which bump the object's version
and emit its webhook; delivery runs in a background task so no request ever waits for a webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from adapters.payments import webhooks
from adapters.payments.client import CURRENCY

PBS_NUMBER: Final = "08915118"  # the simulated creditor's PBS number (made up)
DEBTOR_GROUP: Final = "00001"

_PAYMENT_EVENTS: Final = {v: k for k, v in webhooks.PAYMENT_EVENT_STATES.items()}
_AGREEMENT_EVENTS: Final = {v: k for k, v in webhooks.AGREEMENT_EVENT_STATES.items()}


def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


class Problem(Exception):
    """A refused request: answered as problem JSON ``{"type", "title", "status", "detail", "code"}``."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


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
class IdempotencyRecord:
    fingerprint: str
    status_code: int
    object_kind: str  # "payment" | "agreement"
    object_id: str


@dataclass
class SimConfig:
    webhook_url: str | None = None
    webhook_delay_ms: int = 0
    drop_webhooks: bool = False
    duplicate_webhooks: bool = False
    reverse_order: bool = False
    webhook_retries: int = 3
    webhook_retry_backoff_ms: int = 200

    def to_json(self) -> dict[str, Any]:
        return {
            "webhookUrl": self.webhook_url,
            "webhookDelayMs": self.webhook_delay_ms,
            "dropWebhooks": self.drop_webhooks,
            "duplicateWebhooks": self.duplicate_webhooks,
            "reverseOrder": self.reverse_order,
            "webhookRetries": self.webhook_retries,
            "webhookRetryBackoffMs": self.webhook_retry_backoff_ms,
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
        self.payments: dict[str, SimPayment] = {}
        self.agreements: dict[str, SimAgreement] = {}
        self.idempotency: dict[str, IdempotencyRecord] = {}
        self.calls: Counter[str] = Counter()
        self.webhook_log: list[WebhookRecord] = []
        self.held: list[WebhookRecord] = []
        self.bs_customer_counter = 0
        self._queue: asyncio.Queue[_Delivery] | None = None
        self._worker: asyncio.Task[None] | None = None

    def reset(self) -> None:
        if self._worker is not None:  # drop deliveries still queued from before the reset
            self._worker.cancel()
            self._worker = None
            self._queue = None
        self.config = SimConfig(webhook_url=self.config.webhook_url or self._initial_webhook_url)
        self.payments.clear()
        self.agreements.clear()
        self.idempotency.clear()
        self.calls.clear()
        self.webhook_log.clear()
        self.held.clear()

    # -- state changes --

    def move_payment(self, payment: SimPayment, target: str, allowed_from: set[str]) -> bool:
        """Move to ``target`` and emit its webhook. False if it already was there; 409 if not allowed."""
        if payment.state == target:
            return False
        if payment.state not in allowed_from:
            raise Problem(409, "INVALID_STATE", f"payment is {payment.state}, cannot become {target}")
        payment.state = target
        payment.version += 1
        self.emit(_PAYMENT_EVENTS[target], payment.to_json())
        return True

    def capture(self, payment: SimPayment, amount_oere: int) -> None:
        if payment.state not in ("AUTHORIZED", "CAPTURED"):
            raise Problem(409, "INVALID_STATE", f"payment is {payment.state}; only AUTHORIZED can be captured")
        if amount_oere > payment.amount_oere - payment.captured_oere:
            raise Problem(400, "AMOUNT_EXCEEDS_AUTHORIZED", "capture is more than the uncaptured amount")
        payment.captured_oere += amount_oere
        payment.state = "CAPTURED"
        payment.version += 1
        self.emit("payment.captured", payment.to_json())

    def move_agreement(self, agreement: SimAgreement, target: str, allowed_from: set[str]) -> bool:
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
        return True

    # -- webhooks --

    def emit(self, event_type: str, obj: dict[str, Any]) -> WebhookRecord:
        """Record an event for ``obj`` (already in its new state) and schedule its delivery."""
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

    def _enqueue(self, record: WebhookRecord) -> None:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._deliver_forever(self._queue))
        record.status = "queued"
        self._queue.put_nowait(_Delivery(record, 2 if self.config.duplicate_webhooks else 1))

    def flush_held(self) -> int:
        held, self.held = self.held, []
        for record in reversed(held):
            self._enqueue(record)
        return len(held)

    def redeliver(self, record: WebhookRecord) -> None:
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
        }
