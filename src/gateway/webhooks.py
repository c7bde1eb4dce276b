"""``POST /webhooks/payments``: the payment provider's signed state changes (HMAC-SHA256 over the raw body),
verified and parsed by the provider's adapter, then applied by the use-case."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.payments.client import PaymentsUnavailable, agreement_from_json, charge_from_json, payment_from_json
from adapters.payments.webhooks import SIGNATURE_HEADER, InvalidWebhookEvent, parse_event, verify
from gateway.services import Services


def payments_webhook_endpoint(services: Services) -> Callable[[Request], Awaitable[Response]]:
    secret = services.settings.payments_webhook_secret.get_secret_value().encode()
    events = services.provider_events
    outcomes = services.metrics.webhooks

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        if not verify(secret, body, request.headers.get(SIGNATURE_HEADER, ""), now=int(time.time())):
            outcomes.labels("unknown", "invalid_signature").inc()
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            event = parse_event(body)
            kind = event.object_kind
            payment = payment_from_json(event.data) if kind == "payment" else None
            charge = charge_from_json(event.data) if kind == "charge" else None
            agreement = agreement_from_json(event.data) if kind not in ("payment", "charge") else None
        except (InvalidWebhookEvent, PaymentsUnavailable, ValueError):  # MalformedResponse is a PaymentsUnavailable
            outcomes.labels("unknown", "malformed").inc()
            return JSONResponse({"error": "malformed event"}, status_code=400)
        if payment is not None:
            result = await events.payment_event(event.id, event.type, payment)
        elif charge is not None:
            result = await events.charge_event(event.id, event.type, charge)
        else:
            assert agreement is not None
            result = await events.agreement_event(event.id, event.type, agreement)
        outcomes.labels("payment" if payment else "charge" if charge else "agreement", result.value).inc()
        return JSONResponse({"status": result.value})

    return endpoint
