"""The admin API: drive payments and agreements, inject webhook faults, inspect calls and deliveries.

Test and demo control only; no idempotency key, no API key. See README.md next to this module.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.payments.client import describe_validation_error
from adapters.payments.simulator.state import Problem
from adapters.payments.simulator.web import Handler, agreement_of, json_body, payment_of, sim_of

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
        sim_of(request).move_agreement(agreement, target, allowed)
        return JSONResponse(agreement.to_json())

    return handler


_Millis = Annotated[int, Field(ge=0, le=60_000)]


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


async def admin_config(request: Request) -> Response:
    sim = sim_of(request)
    try:
        update = ConfigUpdate.model_validate(await json_body(request))
    except ValidationError as exc:
        raise Problem(400, "VALIDATION_FAILED", describe_validation_error(exc)) from None
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
    ("POST", "/admin/config", admin_config),
    ("GET", "/admin/stats", admin_stats),
    ("GET", "/admin/webhooks", admin_webhooks),
    ("POST", "/admin/webhooks/redeliver", admin_redeliver),
    ("POST", "/admin/webhooks/flush", admin_flush),
    ("POST", "/admin/reset", admin_reset),
]
