"""The admin API: drive payments and agreements, move the clock, inject webhook and charge faults, inspect calls
and deliveries.

Test and demo control only; no idempotency key, no API key. See README.md next to this module.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.payments.client import OPAQUE_REF_RE, describe_validation_error, looks_like_cpr
from adapters.payments.simulator.state import MAX_CLOCK_STEP_DAYS, FailureRule, Problem
from adapters.payments.simulator.web import Handler, agreement_of, date_field, json_body, payment_of, sim_of

_Model = TypeVar("_Model", bound=BaseModel)

# action -> (target state, states it may come from)
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
        payment = payment_of(request)
        sim_of(request).move_payment(payment, target, allowed)
        return JSONResponse(payment.to_json())

    return handler


def _admin_agreement(action: str) -> Handler:
    target, allowed = _ADMIN_AGREEMENT[action]

    async def handler(request: Request) -> Response:
        agreement = agreement_of(request)
        sim = sim_of(request)
        if action == "activate":
            # The MobilePay account the citizen chose in the app, if it is not the one the merchant suggested.
            account = (await json_body(request)).get("mobilePayAccountRef")
            if account is not None and (
                not isinstance(account, str) or not OPAQUE_REF_RE.match(account) or looks_like_cpr(account)
            ):
                raise Problem(400, "VALIDATION_FAILED", "mobilePayAccountRef must be an opaque id")
            sim.activate_agreement(agreement, account)
        else:
            sim.move_agreement(agreement, target, allowed)
        with sim.lock:
            return JSONResponse(agreement.to_json())

    return handler


def _parse(model: type[_Model], body: Any) -> _Model:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Problem(400, "VALIDATION_FAILED", describe_validation_error(exc)) from None


_STRICT: Final = ConfigDict(strict=True, extra="forbid", alias_generator=to_camel)


class FailCharges(BaseModel):
    """``POST /admin/agreements/{id}/fail-charges``."""

    model_config = _STRICT
    reason: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")] = "INSUFFICIENT_FUNDS"
    times: Annotated[int, Field(ge=1, le=100_000)] | None = None
    attempts: Annotated[int, Field(ge=1, le=100)] | None = None


async def admin_fail_charges(request: Request) -> Response:
    sim = sim_of(request)
    agreement = agreement_of(request)
    update = _parse(FailCharges, await json_body(request))
    rule = FailureRule(update.reason, update.times, update.attempts)
    sim.set_charge_failures(agreement.id, rule)
    return JSONResponse(rule.to_json(agreement.id))


async def admin_clear_charge_failures(request: Request) -> Response:
    agreement = agreement_of(request)
    sim_of(request).clear_charge_failures(agreement.id)
    return JSONResponse({"agreementId": agreement.id, "cleared": True})


class AdvanceClock(BaseModel):
    model_config = _STRICT
    days: Annotated[int, Field(ge=0, le=MAX_CLOCK_STEP_DAYS)]


def _clock(request: Request) -> JSONResponse:
    return JSONResponse({"today": sim_of(request).today.isoformat()})


async def admin_get_clock(request: Request) -> Response:
    return _clock(request)


async def admin_set_clock(request: Request) -> Response:
    body = await json_body(request)
    if set(body) != {"today"}:
        raise Problem(400, "VALIDATION_FAILED", 'body must be {"today": "YYYY-MM-DD"}')
    sim_of(request).set_today(date_field(body, "today"))
    return _clock(request)


async def admin_advance_clock(request: Request) -> Response:
    sim_of(request).advance_days(_parse(AdvanceClock, await json_body(request)).days)
    return _clock(request)


_Millis = Annotated[int, Field(ge=0, le=60_000)]
MAX_PAYMENT_EXPIRY_SECONDS: Final = 30 * 24 * 3600


class ConfigUpdate(BaseModel):
    """A partial update of :class:`~adapters.payments.simulator.state.SimConfig` (same field names, camelCase
    on the wire). Only the keys present are applied."""

    model_config = ConfigDict(strict=True, extra="forbid", alias_generator=to_camel)

    webhook_url: str | None = None
    webhook_delay_ms: _Millis = 0
    drop_webhooks: bool = False
    duplicate_webhooks: bool = False
    reverse_order: bool = False
    webhook_retries: _Millis = 0
    webhook_retry_backoff_ms: _Millis = 0
    payment_expiry_seconds: Annotated[int, Field(ge=0, le=MAX_PAYMENT_EXPIRY_SECONDS)] = 0


async def admin_config(request: Request) -> Response:
    sim = sim_of(request)
    update = _parse(ConfigUpdate, await json_body(request))
    with sim.lock:
        for name in update.model_fields_set:
            setattr(sim.config, name, getattr(update, name))
        if not sim.config.reverse_order and sim.held:
            sim.flush_held()
        return JSONResponse(sim.config.to_json())


async def admin_stats(request: Request) -> Response:
    return JSONResponse(sim_of(request).stats())


async def admin_webhooks(request: Request) -> Response:
    return JSONResponse([record.to_json() for record in sim_of(request).webhook_log])


async def admin_redeliver(request: Request) -> Response:
    sim = sim_of(request)
    event_id = (await json_body(request)).get("eventId")
    record = next((r for r in sim.webhook_log if r.event_id == event_id), None)
    if record is None:
        raise Problem(404, "NOT_FOUND", "no such event")
    sim.redeliver(record)
    return JSONResponse({"eventId": record.event_id, "status": record.status}, status_code=202)


async def admin_flush(request: Request) -> Response:
    return JSONResponse({"flushed": sim_of(request).flush_held()}, status_code=202)


async def admin_reset(request: Request) -> Response:
    sim_of(request).reset()
    return JSONResponse({"reset": True})


ROUTES: Final[list[tuple[str, str, Handler]]] = [
    *[("POST", f"/admin/payments/{{id}}/{a}", _admin_payment(a)) for a in _ADMIN_PAYMENT],
    *[("POST", f"/admin/agreements/{{id}}/{a}", _admin_agreement(a)) for a in _ADMIN_AGREEMENT],
    ("POST", "/admin/agreements/{id}/fail-charges", admin_fail_charges),
    ("DELETE", "/admin/agreements/{id}/fail-charges", admin_clear_charge_failures),
    ("GET", "/admin/clock", admin_get_clock),
    ("POST", "/admin/clock", admin_set_clock),
    ("POST", "/admin/clock/advance", admin_advance_clock),
    ("POST", "/admin/config", admin_config),
    ("GET", "/admin/stats", admin_stats),
    ("GET", "/admin/webhooks", admin_webhooks),
    ("POST", "/admin/webhooks/redeliver", admin_redeliver),
    ("POST", "/admin/webhooks/flush", admin_flush),
    ("POST", "/admin/reset", admin_reset),
]
