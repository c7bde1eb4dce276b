"""Payment provider simulator: one-off payments (card/MobilePay), MobilePay subscriptions, Betalingsservice.

A Starlette app modelled on Vipps MobilePay's ePayment and Recurring APIs and Nexi Checkout/Betalingsservice,
for tests and local development (``python -m adapters.payments.simulator --port 8002 --webhook-url
http://127.0.0.1:8000/webhooks/payments``). All state is in memory on ``app.state.sim``
(:class:`SimulatorState`). Nothing here is secure; never expose it beyond loopback.

Provider API (what :class:`adapters.payments.client.PaymentsClient` speaks)
----------------------------------------------------------------------------
JSON in and out, money as ``{"currency": "DKK", "value": <int øre>}``, errors as problem JSON
``{"type", "title", "status", "detail", "code"}``. Every ``POST /v1/...`` needs an ``Idempotency-Key``
header (missing → 400 ``IDEMPOTENCY_KEY_MISSING``). Keys are global: the same key with the same method,
path and body replays the first status code with the object's current state (header
``Idempotent-Replayed: true``) and changes nothing; anything else with that key → 409
``IDEMPOTENCY_KEY_REUSED``. Only successful writes are remembered, so a refused write may be retried.

* ``POST /v1/payments`` ``{"reference", "amount", "method": "CARD"|"MOBILEPAY", "returnUrl", "description"}``
  → 201 payment in ``CREATED`` with ``redirectUrl`` = ``{public_url}/checkout/{id}``.
* ``GET /v1/payments/{id}``.
* ``POST /v1/payments/{id}/capture`` ``{"amount"}``: AUTHORIZED (or partly captured) → ``CAPTURED``,
  ``capturedAmount`` grows; more than the remaining authorized amount → 400 ``AMOUNT_EXCEEDS_AUTHORIZED``.
* ``POST /v1/payments/{id}/cancel`` ``{}``: CREATED/AUTHORIZED → ``TERMINATED``; already TERMINATED → no-op;
  otherwise 409 ``INVALID_STATE``.
* ``POST /v1/agreements`` ``{"kind", "customerRef", "mobilePayAccountRef", "description", "returnUrl"}`` → 201
  ``PENDING``. MobilePay: ``confirmationUrl`` = ``{public_url}/agreements/{id}/confirm`` (returnUrl
  required). Betalingsservice: no confirmation page, ``bsReference`` = PBS number + debtor group +
  customer number (a generated number, never a CPR number); it stays PENDING until the bank accepts,
  i.e. until ``POST /admin/agreements/{id}/activate``. ``customerRef`` shaped like a CPR → 400 ``CPR_NOT_ALLOWED``.
* ``GET /v1/agreements/{id}``.
* ``POST /v1/agreements/{id}/stop`` ``{}``: PENDING/ACTIVE → ``STOPPED`` (already STOPPED → no-op).
  A STOPPED agreement never becomes ACTIVE again (409 ``AGREEMENT_STOPPED``).

Pages a browser sees (plain HTML, no JS, no external assets)
------------------------------------------------------------
* ``GET /checkout/{id}``: amount ("1.234,50 kr."), method, description and two forms,
  ``POST /checkout/{id}/approve`` (→ AUTHORIZED, ``payment.authorized``) and ``POST /checkout/{id}/decline``
  (→ ABORTED, ``payment.aborted``), each answered with 303 to ``returnUrl?paymentId={id}``.
* ``GET /agreements/{id}/confirm`` (MobilePay only): the citizen picks the account and approves or declines:
  ``POST /agreements/{id}/confirm/approve`` (form field ``account``, → ACTIVE, ``agreement.activated``) or
  ``POST /agreements/{id}/confirm/decline`` (→ REJECTED, ``agreement.rejected``), 303 to
  ``returnUrl?agreementId={id}``. Submitting the same choice twice redirects again; a conflicting one → 409.

Admin API (test and demo control; no idempotency key needed)
------------------------------------------------------------
* ``POST /admin/payments/{id}/approve|decline|expire|fail``: CREATED → AUTHORIZED|ABORTED|EXPIRED|FAILED
  (expire also from AUTHORIZED), with the matching webhook. Already in the target state → 200 no-op,
  anything else → 409.
* ``POST /admin/agreements/{id}/activate|reject|expire``: PENDING → ACTIVE|REJECTED, PENDING/ACTIVE →
  EXPIRED. Activating a STOPPED agreement → 409 ``AGREEMENT_STOPPED``.
* ``POST /admin/config`` (partial update, returns the whole config): ``{"webhookUrl": str|null,
  "webhookDelayMs": int, "dropWebhooks": bool, "duplicateWebhooks": bool, "reverseOrder": bool,
  "webhookRetries": int, "webhookRetryBackoffMs": int}``.
  ``dropWebhooks``: events are logged with status ``dropped`` but never sent (redeliver sends them).
  ``duplicateWebhooks``: every event is POSTed twice (same ``id``).
  ``reverseOrder``: events are held (status ``held``) and sent newest-first on ``POST /admin/webhooks/flush``
  or when ``reverseOrder`` is switched off.
* ``GET /admin/stats``: ``{"calls": {"POST /v1/payments": n, ...}, "webhooks": {"emitted", "sent",
  "failed", "dropped", "held", "attempts"}, "payments": n, "agreements": n}``.
* ``GET /admin/webhooks``: the delivery log, oldest first (event id, type, objectId, sequence, status,
  attempts, each attempt's HTTP status, and the event itself).
* ``POST /admin/webhooks/redeliver`` ``{"eventId"}``: send that event again (same id and body, fresh signature).
* ``POST /admin/webhooks/flush``: send held events newest-first.
* ``POST /admin/reset``: forget all payments, agreements, idempotency records, counters, log and queued
  deliveries (the configured webhook URL is kept; the other config goes back to defaults).

Webhooks are signed with :func:`adapters.payments.webhooks.sign` (header ``Payments-Signature``) and POSTed
with httpx by one background worker per app, in emission order, never blocking the request that caused
them; a non-2xx answer or a connection error is retried ``webhookRetries`` times with exponential backoff.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import html
import json
import os
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.payments import webhooks
from adapters.payments.client import (
    AGREEMENT_KINDS,
    CURRENCY,
    IDEMPOTENCY_KEY_RE,
    MAX_AMOUNT_OERE,
    OPAQUE_REF_RE,
    PAYMENT_METHODS,
    looks_like_cpr,
)
from gateway.domain.money import format_dkk

PBS_NUMBER: Final = "08915118"  # the simulated creditor's PBS number (made up)
DEBTOR_GROUP: Final = "00001"
DEFAULT_WEBHOOK_SECRET: Final = b"dev-webhook-secret"

Handler = Callable[[Request], Awaitable[Response]]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


# --- state -----------------------------------------------------------------------------------------------


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

    # -- webhooks --

    def emit(self, event_type: str, obj: dict[str, Any]) -> WebhookRecord:
        """Record an event for ``obj`` (already in its new state) and schedule its delivery."""
        event_id = _new_id("evt")
        occurred = _now()
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
            entry: dict[str, Any] = {"at": _now().isoformat(), "url": url}
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


# --- helpers ---------------------------------------------------------------------------------------------


class _Problem(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def _problem_response(problem: _Problem) -> JSONResponse:
    return JSONResponse(
        {
            "type": "about:blank",
            "title": problem.code,
            "status": problem.status,
            "detail": problem.detail,
            "code": problem.code,
        },
        status_code=problem.status,
        media_type="application/problem+json",
    )


def _sim(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.sim
    return state


def _public_url(request: Request) -> str:
    sim = _sim(request)
    return sim.public_url or str(request.base_url).rstrip("/")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise _Problem(400, "VALIDATION_FAILED", "body is not JSON") from exc
    if not isinstance(body, dict):
        raise _Problem(400, "VALIDATION_FAILED", "body must be a JSON object")
    return body


def _str_field(body: dict[str, Any], key: str, *, max_len: int = 200, optional: bool = False) -> Any:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise _Problem(400, "VALIDATION_FAILED", f"{key} must be a string of 1-{max_len} characters")
    if looks_like_cpr(value, bare_digits=False):
        raise _Problem(400, "CPR_NOT_ALLOWED", f"{key} must not contain a CPR number")
    return value


def _url_field(body: dict[str, Any], key: str, *, optional: bool = False) -> Any:
    value = _str_field(body, key, max_len=2000, optional=optional)
    if value is not None and not value.startswith(("http://", "https://")):
        raise _Problem(400, "VALIDATION_FAILED", f"{key} must be an absolute http(s) URL")
    return value


def _money_field(body: dict[str, Any], key: str) -> int:
    money = body.get(key)
    if not isinstance(money, dict) or money.get("currency") != CURRENCY or set(money) != {"currency", "value"}:
        raise _Problem(400, "VALIDATION_FAILED", f'{key} must be {{"currency": "DKK", "value": <int øre>}}')
    value = money["value"]
    if type(value) is not int or not 0 < value <= MAX_AMOUNT_OERE:
        raise _Problem(400, "INVALID_AMOUNT", f"{key}.value must be a positive integer number of øre")
    return value


def _get_payment(request: Request) -> SimPayment:
    payment = _sim(request).payments.get(request.path_params["id"])
    if payment is None:
        raise _Problem(404, "NOT_FOUND", "no such payment")
    return payment


def _get_agreement(request: Request) -> SimAgreement:
    agreement = _sim(request).agreements.get(request.path_params["id"])
    if agreement is None:
        raise _Problem(404, "NOT_FOUND", "no such agreement")
    return agreement


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


_PAYMENT_EVENTS: Final = {v: k for k, v in webhooks.PAYMENT_EVENT_STATES.items()}
_AGREEMENT_EVENTS: Final = {v: k for k, v in webhooks.AGREEMENT_EVENT_STATES.items()}


def _move_payment(sim: SimulatorState, payment: SimPayment, target: str, allowed_from: set[str]) -> bool:
    """Move to ``target`` and emit its webhook. False if it already was there; raises 409 if not allowed."""
    if payment.state == target:
        return False
    if payment.state not in allowed_from:
        raise _Problem(409, "INVALID_STATE", f"payment is {payment.state}, cannot become {target}")
    payment.state = target
    payment.version += 1
    sim.emit(_PAYMENT_EVENTS[target], payment.to_json())
    return True


def _move_agreement(sim: SimulatorState, agreement: SimAgreement, target: str, allowed_from: set[str]) -> bool:
    if agreement.state == target:
        return False
    if agreement.state == "STOPPED":
        # Vipps MobilePay Recurring API: a stopped agreement can never be reactivated.
        raise _Problem(409, "AGREEMENT_STOPPED", f"agreement is STOPPED and cannot become {target}")
    if agreement.state not in allowed_from:
        raise _Problem(409, "INVALID_STATE", f"agreement is {agreement.state}, cannot become {target}")
    agreement.state = target
    agreement.version += 1
    sim.emit(_AGREEMENT_EVENTS[target], agreement.to_json())
    return True


# --- /v1 provider API ------------------------------------------------------------------------------------

WriteResult = tuple[int, SimPayment | SimAgreement]


async def _idempotent_write(request: Request, action: Callable[[dict[str, Any]], WriteResult]) -> Response:
    sim = _sim(request)
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise _Problem(400, "IDEMPOTENCY_KEY_MISSING", "writes need an Idempotency-Key header")
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise _Problem(400, "VALIDATION_FAILED", "Idempotency-Key must be 1-128 characters of [A-Za-z0-9._:-]")
    body = await _json_body(request)
    canonical = json.dumps([request.method, request.url.path, body], sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    # From here on nothing awaits, so check-then-act is atomic on the event loop.
    record = sim.idempotency.get(key)
    if record is not None:
        if record.fingerprint != fingerprint:
            raise _Problem(409, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request")
        store: dict[str, Any] = sim.payments if record.object_kind == "payment" else sim.agreements
        return JSONResponse(
            store[record.object_id].to_json(), status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
        )
    status, obj = action(body)
    kind = "payment" if isinstance(obj, SimPayment) else "agreement"
    sim.idempotency[key] = IdempotencyRecord(fingerprint, status, kind, obj.id)
    return JSONResponse(obj.to_json(), status_code=status)


async def create_payment(request: Request) -> Response:
    sim, public = _sim(request), _public_url(request)

    def action(body: dict[str, Any]) -> WriteResult:
        method = body.get("method")
        if method not in PAYMENT_METHODS:
            raise _Problem(400, "VALIDATION_FAILED", f"method must be one of {sorted(PAYMENT_METHODS)}")
        payment_id = _new_id("pay")
        payment = SimPayment(
            id=payment_id,
            reference=_str_field(body, "reference", max_len=64),
            amount_oere=_money_field(body, "amount"),
            method=method,
            description=_str_field(body, "description"),
            return_url=_url_field(body, "returnUrl"),
            redirect_url=f"{public}/checkout/{payment_id}",
            created_at=_now(),
        )
        sim.payments[payment.id] = payment
        return 201, payment

    return await _idempotent_write(request, action)


async def get_payment(request: Request) -> Response:
    return JSONResponse(_get_payment(request).to_json())


async def capture_payment(request: Request) -> Response:
    sim = _sim(request)
    payment = _get_payment(request)

    def action(body: dict[str, Any]) -> WriteResult:
        amount = _money_field(body, "amount")
        if payment.state not in ("AUTHORIZED", "CAPTURED"):
            raise _Problem(409, "INVALID_STATE", f"payment is {payment.state}; only AUTHORIZED can be captured")
        if amount > payment.amount_oere - payment.captured_oere:
            raise _Problem(400, "AMOUNT_EXCEEDS_AUTHORIZED", "capture is more than the uncaptured amount")
        payment.captured_oere += amount
        payment.state = "CAPTURED"
        payment.version += 1
        sim.emit("payment.captured", payment.to_json())
        return 200, payment

    return await _idempotent_write(request, action)


async def cancel_payment(request: Request) -> Response:
    sim = _sim(request)
    payment = _get_payment(request)

    def action(body: dict[str, Any]) -> WriteResult:
        _move_payment(sim, payment, "TERMINATED", {"CREATED", "AUTHORIZED"})
        return 200, payment

    return await _idempotent_write(request, action)


async def create_agreement(request: Request) -> Response:
    sim, public = _sim(request), _public_url(request)

    def action(body: dict[str, Any]) -> WriteResult:
        kind = body.get("kind")
        if kind not in AGREEMENT_KINDS:
            raise _Problem(400, "VALIDATION_FAILED", f"kind must be one of {sorted(AGREEMENT_KINDS)}")
        customer_ref = body.get("customerRef")
        if isinstance(customer_ref, str) and looks_like_cpr(customer_ref):
            raise _Problem(400, "CPR_NOT_ALLOWED", "customerRef must be an opaque id, never a CPR number")
        if not isinstance(customer_ref, str) or not OPAQUE_REF_RE.match(customer_ref):
            raise _Problem(400, "VALIDATION_FAILED", "customerRef must match [A-Za-z0-9_-]{1,64}")
        account = body.get("mobilePayAccountRef")
        if account is not None:
            if kind != "MOBILEPAY_SUBSCRIPTION":
                raise _Problem(400, "VALIDATION_FAILED", "mobilePayAccountRef only applies to MobilePay")
            if not isinstance(account, str) or not OPAQUE_REF_RE.match(account) or looks_like_cpr(account):
                raise _Problem(400, "VALIDATION_FAILED", "mobilePayAccountRef must be an opaque id")
        description = _str_field(body, "description")
        return_url = _url_field(body, "returnUrl", optional=kind == "BETALINGSSERVICE")
        agreement_id = _new_id("agr")
        bs_reference: dict[str, str] | None = None
        confirmation_url: str | None = None
        if kind == "BETALINGSSERVICE":
            # PBS number + debtor group + customer number (Betalingsservice); the customer number is a
            # running number, never the citizen's CPR number.
            sim.bs_customer_counter += 1
            bs_reference = {
                "pbsNumber": PBS_NUMBER,
                "debtorGroup": DEBTOR_GROUP,
                "customerNumber": f"{sim.bs_customer_counter:015d}",
            }
        else:
            confirmation_url = f"{public}/agreements/{agreement_id}/confirm"
        agreement = SimAgreement(
            id=agreement_id,
            kind=kind,
            customer_ref=customer_ref,
            mobilepay_account_ref=account,
            description=description,
            return_url=return_url,
            confirmation_url=confirmation_url,
            bs_reference=bs_reference,
            created_at=_now(),
        )
        sim.agreements[agreement.id] = agreement
        return 201, agreement

    return await _idempotent_write(request, action)


async def get_agreement(request: Request) -> Response:
    return JSONResponse(_get_agreement(request).to_json())


async def stop_agreement(request: Request) -> Response:
    sim = _sim(request)
    agreement = _get_agreement(request)

    def action(body: dict[str, Any]) -> WriteResult:
        _move_agreement(sim, agreement, "STOPPED", {"PENDING", "ACTIVE"})
        return 200, agreement

    return await _idempotent_write(request, action)


# --- HTML pages ------------------------------------------------------------------------------------------

_METHOD_LABELS: Final = {"CARD": "Betalingskort", "MOBILEPAY": "MobilePay"}


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    doc = (
        '<!doctype html>\n<html lang="da"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
        "form{display:inline-block;margin-right:1rem}button{font-size:1.1rem;padding:.5rem 1.5rem}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=status_code)


def _button_form(action: str, label: str, extra: str = "") -> str:
    return (
        f'<form method="post" action="{html.escape(action)}">{extra}'
        f'<button type="submit">{html.escape(label)}</button></form>'
    )


async def checkout_page(request: Request) -> Response:
    payment = _sim(request).payments.get(request.path_params["id"])
    if payment is None:
        return _page("Betalingen findes ikke", "<p>Ukendt betaling.</p>", 404)
    details = (
        f'<p>Beløb: <strong id="amount">{html.escape(format_dkk(payment.amount_oere))}</strong></p>'
        f'<p>Betalingsmetode: <span id="method">{html.escape(_METHOD_LABELS[payment.method])}</span></p>'
        f'<p>Tekst: <span id="description">{html.escape(payment.description)}</span></p>'
    )
    if payment.state != "CREATED":
        return _page("Betaling", details + f'<p>Status: <span id="state">{html.escape(payment.state)}</span></p>')
    forms = _button_form(f"/checkout/{payment.id}/approve", "Godkend") + _button_form(
        f"/checkout/{payment.id}/decline", "Afvis"
    )
    return _page("Betaling", details + forms)


def _checkout_action(target: str) -> Handler:
    async def handler(request: Request) -> Response:
        sim = _sim(request)
        payment = sim.payments.get(request.path_params["id"])
        if payment is None:
            return _page("Betalingen findes ikke", "<p>Ukendt betaling.</p>", 404)
        try:
            _move_payment(sim, payment, target, {"CREATED"})
        except _Problem:
            return _page(
                "Betalingen kan ikke ændres", f"<p>Betalingen er allerede {html.escape(payment.state)}.</p>", 409
            )
        return RedirectResponse(_with_query(payment.return_url, paymentId=payment.id), status_code=303)

    return handler


async def confirm_agreement_page(request: Request) -> Response:
    agreement = _sim(request).agreements.get(request.path_params["id"])
    if agreement is None or agreement.kind != "MOBILEPAY_SUBSCRIPTION":
        return _page("Aftalen findes ikke", "<p>Ukendt aftale.</p>", 404)
    details = f'<p>Aftale: <span id="description">{html.escape(agreement.description)}</span></p>'
    if agreement.state != "PENDING":
        return _page(
            "MobilePay-aftale", details + f'<p>Status: <span id="state">{html.escape(agreement.state)}</span></p>'
        )
    accounts = [agreement.mobilepay_account_ref] if agreement.mobilepay_account_ref else []
    accounts += [a for a in ("mpacc_loenkonto", "mpacc_budgetkonto") if a not in accounts]
    options = "".join(f'<option value="{html.escape(a)}">{html.escape(a)}</option>' for a in accounts)
    select = f'<p><label>Konto <select name="account">{options}</select></label></p>'
    forms = _button_form(f"/agreements/{agreement.id}/confirm/approve", "Godkend", select) + _button_form(
        f"/agreements/{agreement.id}/confirm/decline", "Afvis"
    )
    return _page("MobilePay-aftale", details + forms)


def _confirm_action(target: str) -> Handler:
    async def handler(request: Request) -> Response:
        sim = _sim(request)
        agreement = sim.agreements.get(request.path_params["id"])
        if agreement is None or agreement.kind != "MOBILEPAY_SUBSCRIPTION" or agreement.return_url is None:
            return _page("Aftalen findes ikke", "<p>Ukendt aftale.</p>", 404)
        form = await request.form()
        account = form.get("account")
        if target == "ACTIVE" and agreement.state == "PENDING" and isinstance(account, str):
            if not OPAQUE_REF_RE.match(account):
                return _page("Ugyldig konto", "<p>Ugyldig konto.</p>", 400)
            agreement.mobilepay_account_ref = account
        try:
            _move_agreement(sim, agreement, target, {"PENDING"})
        except _Problem:
            return _page("Aftalen kan ikke ændres", f"<p>Aftalen er allerede {html.escape(agreement.state)}.</p>", 409)
        return RedirectResponse(_with_query(agreement.return_url, agreementId=agreement.id), status_code=303)

    return handler


# --- admin -----------------------------------------------------------------------------------------------

_ADMIN_PAYMENT: Final = {
    "approve": ("AUTHORIZED", {"CREATED"}),
    "decline": ("ABORTED", {"CREATED"}),
    "expire": ("EXPIRED", {"CREATED", "AUTHORIZED"}),
    "fail": ("FAILED", {"CREATED"}),
}
_ADMIN_AGREEMENT: Final = {
    "activate": ("ACTIVE", {"PENDING"}),
    "reject": ("REJECTED", {"PENDING"}),
    "expire": ("EXPIRED", {"PENDING", "ACTIVE"}),
}


def _admin_payment(action: str) -> Handler:
    target, allowed = _ADMIN_PAYMENT[action]

    async def handler(request: Request) -> Response:
        payment = _get_payment(request)
        _move_payment(_sim(request), payment, target, allowed)
        return JSONResponse(payment.to_json())

    return handler


def _admin_agreement(action: str) -> Handler:
    target, allowed = _ADMIN_AGREEMENT[action]

    async def handler(request: Request) -> Response:
        agreement = _get_agreement(request)
        _move_agreement(_sim(request), agreement, target, allowed)
        return JSONResponse(agreement.to_json())

    return handler


_CONFIG_FIELDS: Final = {
    "webhookUrl": ("webhook_url", str),
    "webhookDelayMs": ("webhook_delay_ms", int),
    "dropWebhooks": ("drop_webhooks", bool),
    "duplicateWebhooks": ("duplicate_webhooks", bool),
    "reverseOrder": ("reverse_order", bool),
    "webhookRetries": ("webhook_retries", int),
    "webhookRetryBackoffMs": ("webhook_retry_backoff_ms", int),
}


async def admin_config(request: Request) -> Response:
    sim = _sim(request)
    body = await _json_body(request)
    unknown = set(body) - set(_CONFIG_FIELDS)
    if unknown:
        raise _Problem(400, "VALIDATION_FAILED", f"unknown config keys {sorted(unknown)}")
    updates: dict[str, Any] = {}
    for key, value in body.items():
        attr, typ = _CONFIG_FIELDS[key]
        if key == "webhookUrl" and value is None:
            updates[attr] = None
            continue
        if type(value) is not typ or (isinstance(value, int) and typ is int and not 0 <= value <= 60_000):
            raise _Problem(400, "VALIDATION_FAILED", f"{key} must be a {typ.__name__} (ints 0-60000)")
        updates[attr] = value
    for attr, value in updates.items():
        setattr(sim.config, attr, value)
    if not sim.config.reverse_order and sim.held:
        sim.flush_held()
    return JSONResponse(sim.config.to_json())


async def admin_stats(request: Request) -> Response:
    return JSONResponse(_sim(request).stats())


async def admin_webhooks(request: Request) -> Response:
    return JSONResponse([record.to_json() for record in _sim(request).webhook_log])


async def admin_redeliver(request: Request) -> Response:
    sim = _sim(request)
    event_id = (await _json_body(request)).get("eventId")
    record = next((r for r in sim.webhook_log if r.event_id == event_id), None)
    if record is None:
        raise _Problem(404, "NOT_FOUND", "no such event")
    sim.redeliver(record)
    return JSONResponse({"eventId": record.event_id, "status": record.status}, status_code=202)


async def admin_flush(request: Request) -> Response:
    return JSONResponse({"flushed": _sim(request).flush_held()}, status_code=202)


async def admin_reset(request: Request) -> Response:
    _sim(request).reset()
    return JSONResponse({"reset": True})


# --- app -------------------------------------------------------------------------------------------------


def _endpoint(name: str, handler: Handler, *, provider_api: bool = False) -> Handler:
    async def wrapped(request: Request) -> Response:
        sim = _sim(request)
        sim.calls[name] += 1
        if provider_api and sim.api_key is not None:
            expected = f"Bearer {sim.api_key}".encode()
            given = request.headers.get("Authorization", "").encode()
            if not secrets.compare_digest(given, expected):
                return _problem_response(_Problem(401, "UNAUTHORIZED", "missing or wrong API key"))
        try:
            return await handler(request)
        except _Problem as problem:
            return _problem_response(problem)

    return wrapped


def create_simulator_app(
    *,
    webhook_url: str | None = None,
    webhook_secret: bytes = DEFAULT_WEBHOOK_SECRET,
    public_url: str | None = None,
    api_key: str | None = None,
) -> Starlette:
    """Build a fresh simulator. ``public_url`` (default: the request's own base URL) prefixes the
    checkout and confirmation links; ``api_key``, if given, is required as ``Authorization: Bearer``
    on ``/v1``."""
    table: list[tuple[str, str, Handler, bool]] = [
        ("POST", "/v1/payments", create_payment, True),
        ("GET", "/v1/payments/{id}", get_payment, True),
        ("POST", "/v1/payments/{id}/capture", capture_payment, True),
        ("POST", "/v1/payments/{id}/cancel", cancel_payment, True),
        ("POST", "/v1/agreements", create_agreement, True),
        ("GET", "/v1/agreements/{id}", get_agreement, True),
        ("POST", "/v1/agreements/{id}/stop", stop_agreement, True),
        ("GET", "/checkout/{id}", checkout_page, False),
        ("POST", "/checkout/{id}/approve", _checkout_action("AUTHORIZED"), False),
        ("POST", "/checkout/{id}/decline", _checkout_action("ABORTED"), False),
        ("GET", "/agreements/{id}/confirm", confirm_agreement_page, False),
        ("POST", "/agreements/{id}/confirm/approve", _confirm_action("ACTIVE"), False),
        ("POST", "/agreements/{id}/confirm/decline", _confirm_action("REJECTED"), False),
        *[("POST", f"/admin/payments/{{id}}/{a}", _admin_payment(a), False) for a in _ADMIN_PAYMENT],
        *[("POST", f"/admin/agreements/{{id}}/{a}", _admin_agreement(a), False) for a in _ADMIN_AGREEMENT],
        ("POST", "/admin/config", admin_config, False),
        ("GET", "/admin/stats", admin_stats, False),
        ("GET", "/admin/webhooks", admin_webhooks, False),
        ("POST", "/admin/webhooks/redeliver", admin_redeliver, False),
        ("POST", "/admin/webhooks/flush", admin_flush, False),
        ("POST", "/admin/reset", admin_reset, False),
    ]
    routes = [
        Route(path, _endpoint(f"{method} {path}", handler, provider_api=api), methods=[method])
        for method, path, handler, api in table
    ]
    sim = SimulatorState(webhook_url=webhook_url, webhook_secret=webhook_secret, public_url=public_url, api_key=api_key)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await sim.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sim = sim
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Payment provider simulator (MobilePay, card, Betalingsservice)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--webhook-url", default=None, help="where to POST signed webhooks")
    parser.add_argument("--public-url", default=None, help="base URL browsers use to reach the simulator")
    parser.add_argument("--api-key", default=None, help="require this bearer token on /v1")
    args = parser.parse_args(argv)
    secret = os.environ.get("PAYMENTS_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET.decode()).encode()
    app = create_simulator_app(
        webhook_url=args.webhook_url, webhook_secret=secret, public_url=args.public_url, api_key=args.api_key
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
