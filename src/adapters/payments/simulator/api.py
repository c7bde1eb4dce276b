"""The provider API under ``/v1`` (what :class:`adapters.payments.client.PaymentsClient` speaks).

See README.md next to this module for the contract: idempotent writes, payments, agreements, charges.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.payments.client import (
    AGREEMENT_KINDS,
    IDEMPOTENCY_KEY_RE,
    MAX_BULK_CHARGES,
    MAX_RETRY_DAYS,
    OPAQUE_REF_RE,
    PAYMENT_METHODS,
    looks_like_cpr,
)
from adapters.payments.simulator.state import (
    DEBTOR_GROUP,
    PBS_NUMBER,
    ChargeSpec,
    IdempotencyRecord,
    Problem,
    SimAgreement,
    SimCharge,
    SimPayment,
    SimulatorState,
    new_id,
    now,
)
from adapters.payments.simulator.web import (
    Handler,
    agreement_of,
    charge_of,
    date_field,
    int_field,
    json_body,
    money_field,
    payment_of,
    public_url,
    sim_of,
    str_field,
    url_field,
)

WriteResult = tuple[int, SimPayment | SimAgreement | SimCharge | list[SimCharge]]


def _fingerprint(*parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _charge_fingerprint(agreement_id: Any, content: dict[str, Any]) -> str:
    # The same for POST /v1/agreements/{id}/charges and an item of POST /v1/charges, so one key names one
    # charge whichever way it was created.
    return _fingerprint("charge", agreement_id, content)


def _representation(sim: SimulatorState, record: IdempotencyRecord) -> Any:
    if record.object_kind == "charges":
        return {"charges": [sim.charges[charge_id].to_json() for charge_id in record.object_ids]}
    if record.object_kind == "payment":
        sim.payment(record.object_id)  # a replay shows it as it is now: expired, if it was left too long
    stores: dict[str, dict[str, Any]] = {"payment": sim.payments, "agreement": sim.agreements, "charge": sim.charges}
    return stores[record.object_kind][record.object_id].to_json()


async def _idempotent_write(
    request: Request,
    action: Callable[[dict[str, Any]], WriteResult],
    *,
    fingerprint: Callable[[dict[str, Any]], str] | None = None,
) -> Response:
    sim = sim_of(request)
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise Problem(400, "IDEMPOTENCY_KEY_MISSING", "writes need an Idempotency-Key header")
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise Problem(400, "VALIDATION_FAILED", "Idempotency-Key must be 1-128 characters of [A-Za-z0-9._:-]")
    body = await json_body(request)
    digest = fingerprint(body) if fingerprint else _fingerprint(request.method, request.url.path, body)
    # From here on nothing awaits; the lock makes check-then-act atomic for other threads too.
    with sim.lock:
        record = sim.idempotency.get(key)
        if record is not None:
            if record.fingerprint != digest:
                raise Problem(409, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request")
            return JSONResponse(
                _representation(sim, record), status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
            )
        status, obj = action(body)
        if isinstance(obj, list):
            record = IdempotencyRecord(digest, status, "charges", "", tuple(c.id for c in obj))
        else:
            kind = {SimPayment: "payment", SimAgreement: "agreement", SimCharge: "charge"}[type(obj)]
            record = IdempotencyRecord(digest, status, kind, obj.id)
        sim.idempotency[key] = record
        return JSONResponse(_representation(sim, record), status_code=status)


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
            created_at=sim.clock_now(),  # its expiry runs on the simulator's time
        )
        sim.payments[payment.id] = payment
        return 201, payment

    return await _idempotent_write(request, action)


async def get_payment(request: Request) -> Response:
    with sim_of(request).lock:  # a consistent snapshot, should another thread be changing it
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
    with sim_of(request).lock:  # a consistent snapshot, should another thread be changing it
        return JSONResponse(agreement_of(request).to_json())


async def stop_agreement(request: Request) -> Response:
    sim = sim_of(request)
    agreement = agreement_of(request)

    def action(body: dict[str, Any]) -> WriteResult:
        sim.move_agreement(agreement, "STOPPED", {"PENDING", "ACTIVE"})
        return 200, agreement

    return await _idempotent_write(request, action)


def _charge_spec(content: dict[str, Any], agreement_id: Any) -> ChargeSpec:
    if not isinstance(agreement_id, str) or not agreement_id:
        raise Problem(400, "VALIDATION_FAILED", "agreementId must be an agreement id")
    return ChargeSpec(
        agreement_id=agreement_id,
        amount_oere=money_field(content, "amount"),
        due=date_field(content, "due"),
        retry_days=int_field(content, "retryDays", 0, MAX_RETRY_DAYS),
        description=str_field(content, "description"),
        reference=str_field(content, "reference", max_len=64),
    )


async def create_charge(request: Request) -> Response:
    sim = sim_of(request)
    agreement_id = request.path_params["id"]

    def action(body: dict[str, Any]) -> WriteResult:
        return 201, sim.add_charge(_charge_spec(body, agreement_id))

    return await _idempotent_write(request, action, fingerprint=lambda body: _charge_fingerprint(agreement_id, body))


_ITEM_ONLY_KEYS: Final = ("idempotencyKey", "agreementId")


async def create_charges(request: Request) -> Response:
    """Bulk: all items are checked first, then all are created (all or nothing); each item has its own key."""
    sim = sim_of(request)
    request_key = request.headers.get("Idempotency-Key")

    def check(item: Any, batch: dict[str, str], references: set[str]) -> tuple[str, str, Any]:
        """One item -> (its key, its fingerprint, a ChargeSpec to create or the SimCharge/key it repeats)."""
        if not isinstance(item, dict):
            raise Problem(400, "VALIDATION_FAILED", "each charge must be a JSON object")
        key = item.get("idempotencyKey")
        if not isinstance(key, str) or not IDEMPOTENCY_KEY_RE.match(key) or key == request_key:
            raise Problem(400, "VALIDATION_FAILED", "idempotencyKey: 1-128 characters of [A-Za-z0-9._:-], its own")
        agreement_id = item.get("agreementId")
        content = {k: v for k, v in item.items() if k not in _ITEM_ONLY_KEYS}
        digest = _charge_fingerprint(agreement_id, content)
        record = sim.idempotency.get(key)
        if record is not None or key in batch:
            if (record.fingerprint if record is not None else batch[key]) != digest:
                raise Problem(409, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request")
            return key, digest, sim.charges[record.object_id] if record is not None else key
        spec = _charge_spec(content, agreement_id)
        sim.check_charge(spec, taken_references=references)
        batch[key] = digest
        references.add(spec.reference)
        return key, digest, spec

    def action(body: dict[str, Any]) -> WriteResult:
        items = body.get("charges")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_BULK_CHARGES:
            raise Problem(400, "VALIDATION_FAILED", f"charges must be a list of 1-{MAX_BULK_CHARGES} charges")
        batch: dict[str, str] = {}
        references: set[str] = set()
        checked = []
        for index, item in enumerate(items):
            try:
                checked.append(check(item, batch, references))
            except Problem as problem:
                raise Problem(
                    problem.status, problem.code, f"charges[{index}]: {problem.detail}", index=index
                ) from None
        created: dict[str, SimCharge] = {}
        result: list[SimCharge] = []
        for key, digest, what in checked:
            if isinstance(what, ChargeSpec):
                charge = created[key] = sim.add_charge(what)
                sim.idempotency[key] = IdempotencyRecord(digest, 201, "charge", charge.id)
                result.append(charge)
            else:
                result.append(what if isinstance(what, SimCharge) else created[what])
        return 200, result

    return await _idempotent_write(request, action)


async def get_charge(request: Request) -> Response:
    with sim_of(request).lock:  # a consistent snapshot, should another thread be changing it
        return JSONResponse(charge_of(request).to_json())


async def list_charges(request: Request) -> Response:
    sim = sim_of(request)
    agreement = agreement_of(request)
    with sim.lock:
        charges = [c.to_json() for c in sim.charges.values() if c.agreement_id == agreement.id]
    return JSONResponse({"charges": charges})


async def cancel_charge(request: Request) -> Response:
    sim = sim_of(request)
    charge = charge_of(request)

    def action(body: dict[str, Any]) -> WriteResult:
        sim.cancel_charge(charge)
        return 200, charge

    return await _idempotent_write(request, action)


ROUTES: Final[list[tuple[str, str, Handler]]] = [
    ("POST", "/v1/payments", create_payment),
    ("GET", "/v1/payments/{id}", get_payment),
    ("POST", "/v1/payments/{id}/capture", capture_payment),
    ("POST", "/v1/payments/{id}/cancel", cancel_payment),
    ("POST", "/v1/agreements", create_agreement),
    ("GET", "/v1/agreements/{id}", get_agreement),
    ("POST", "/v1/agreements/{id}/stop", stop_agreement),
    ("POST", "/v1/agreements/{id}/charges", create_charge),
    ("GET", "/v1/agreements/{id}/charges", list_charges),
    ("POST", "/v1/charges", create_charges),
    ("GET", "/v1/charges/{id}", get_charge),
    ("POST", "/v1/charges/{id}/cancel", cancel_charge),
]
