"""The provider API under ``/v1`` (what :class:`adapters.payments.client.PaymentsClient` speaks).

See README.md next to this module for the contract: idempotent writes, payments, agreements.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.payments.client import AGREEMENT_KINDS, IDEMPOTENCY_KEY_RE, OPAQUE_REF_RE, PAYMENT_METHODS, looks_like_cpr
from adapters.payments.simulator.state import (
    DEBTOR_GROUP,
    PBS_NUMBER,
    IdempotencyRecord,
    Problem,
    SimAgreement,
    SimPayment,
    new_id,
    now,
)
from adapters.payments.simulator.web import (
    Handler,
    agreement_of,
    json_body,
    money_field,
    payment_of,
    public_url,
    sim_of,
    str_field,
    url_field,
)

WriteResult = tuple[int, SimPayment | SimAgreement]


async def _idempotent_write(request: Request, action: Callable[[dict[str, Any]], WriteResult]) -> Response:
    sim = sim_of(request)
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise Problem(400, "IDEMPOTENCY_KEY_MISSING", "writes need an Idempotency-Key header")
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise Problem(400, "VALIDATION_FAILED", "Idempotency-Key must be 1-128 characters of [A-Za-z0-9._:-]")
    body = await json_body(request)
    canonical = json.dumps([request.method, request.url.path, body], sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    # From here on nothing awaits, so check-then-act is atomic on the event loop.
    record = sim.idempotency.get(key)
    if record is not None:
        if record.fingerprint != fingerprint:
            raise Problem(409, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request")
        store: dict[str, Any] = sim.payments if record.object_kind == "payment" else sim.agreements
        return JSONResponse(
            store[record.object_id].to_json(), status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
        )
    status, obj = action(body)
    kind = "payment" if isinstance(obj, SimPayment) else "agreement"
    sim.idempotency[key] = IdempotencyRecord(fingerprint, status, kind, obj.id)
    return JSONResponse(obj.to_json(), status_code=status)


async def create_payment(request: Request) -> Response:
    sim, public = sim_of(request), public_url(request)

    def action(body: dict[str, Any]) -> WriteResult:
        method = body.get("method")
        if method not in PAYMENT_METHODS:
            raise Problem(400, "VALIDATION_FAILED", f"method must be one of {sorted(PAYMENT_METHODS)}")
        payment_id = new_id("pay")
        payment = SimPayment(
            id=payment_id,
            reference=str_field(body, "reference", max_len=64),
            amount_oere=money_field(body, "amount"),
            method=method,
            description=str_field(body, "description"),
            return_url=url_field(body, "returnUrl"),
            redirect_url=f"{public}/checkout/{payment_id}",
            created_at=now(),
        )
        sim.payments[payment.id] = payment
        return 201, payment

    return await _idempotent_write(request, action)


async def get_payment(request: Request) -> Response:
    return JSONResponse(payment_of(request).to_json())


async def capture_payment(request: Request) -> Response:
    sim = sim_of(request)
    payment = payment_of(request)

    def action(body: dict[str, Any]) -> WriteResult:
        sim.capture(payment, money_field(body, "amount"))
        return 200, payment

    return await _idempotent_write(request, action)


async def cancel_payment(request: Request) -> Response:
    sim = sim_of(request)
    payment = payment_of(request)

    def action(body: dict[str, Any]) -> WriteResult:
        sim.move_payment(payment, "TERMINATED", {"CREATED", "AUTHORIZED"})
        return 200, payment

    return await _idempotent_write(request, action)


async def create_agreement(request: Request) -> Response:
    sim, public = sim_of(request), public_url(request)

    def action(body: dict[str, Any]) -> WriteResult:
        kind = body.get("kind")
        if kind not in AGREEMENT_KINDS:
            raise Problem(400, "VALIDATION_FAILED", f"kind must be one of {sorted(AGREEMENT_KINDS)}")
        customer_ref = body.get("customerRef")
        if isinstance(customer_ref, str) and looks_like_cpr(customer_ref):
            raise Problem(400, "CPR_NOT_ALLOWED", "customerRef must be an opaque id, never a CPR number")
        if not isinstance(customer_ref, str) or not OPAQUE_REF_RE.match(customer_ref):
            raise Problem(400, "VALIDATION_FAILED", "customerRef must match [A-Za-z0-9_-]{1,64}")
        account = body.get("mobilePayAccountRef")
        if account is not None:
            if kind != "MOBILEPAY_SUBSCRIPTION":
                raise Problem(400, "VALIDATION_FAILED", "mobilePayAccountRef only applies to MobilePay")
            if not isinstance(account, str) or not OPAQUE_REF_RE.match(account) or looks_like_cpr(account):
                raise Problem(400, "VALIDATION_FAILED", "mobilePayAccountRef must be an opaque id")
        description = str_field(body, "description")
        return_url = url_field(body, "returnUrl", optional=kind == "BETALINGSSERVICE")
        agreement_id = new_id("agr")
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
            created_at=now(),
        )
        sim.agreements[agreement.id] = agreement
        return 201, agreement

    return await _idempotent_write(request, action)


async def get_agreement(request: Request) -> Response:
    return JSONResponse(agreement_of(request).to_json())


async def stop_agreement(request: Request) -> Response:
    sim = sim_of(request)
    agreement = agreement_of(request)

    def action(body: dict[str, Any]) -> WriteResult:
        sim.move_agreement(agreement, "STOPPED", {"PENDING", "ACTIVE"})
        return 200, agreement

    return await _idempotent_write(request, action)


ROUTES: Final[list[tuple[str, str, Handler]]] = [
    ("POST", "/v1/payments", create_payment),
    ("GET", "/v1/payments/{id}", get_payment),
    ("POST", "/v1/payments/{id}/capture", capture_payment),
    ("POST", "/v1/payments/{id}/cancel", cancel_payment),
    ("POST", "/v1/agreements", create_agreement),
    ("GET", "/v1/agreements/{id}", get_agreement),
    ("POST", "/v1/agreements/{id}/stop", stop_agreement),
]
