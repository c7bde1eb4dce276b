"""Signed webhooks from the payment provider: signature scheme and event format.

Modelled on Stripe's webhook signatures and on the Vipps MobilePay ePayment/Recurring webhooks.

Header
------
``Payments-Signature: t=<unix seconds>,v1=<hex>``

``v1`` is ``HMAC-SHA256(secret, f"{t}.".encode() + raw_body)`` in lower-case hex. Several ``v1=``
entries may appear (secret rotation); the header is valid if any of them matches. Always verify the
**raw** request body (the exact bytes received), never a re-serialised JSON document, and reject
timestamps further than ``tolerance_seconds`` from now (replay protection). Comparison is constant-time.

Event body (JSON object, camelCase, UTF-8)
------------------------------------------
::

    {
      "id": "evt_…",              # unique per event; a redelivery or duplicate carries the same id
      "type": "payment.authorized" | "payment.captured" | "payment.aborted" | "payment.expired"
            | "payment.failed" | "payment.terminated"
            | "agreement.activated" | "agreement.rejected" | "agreement.stopped" | "agreement.expired",
      "objectId": "pay_…" | "agr_…",
      "state": "AUTHORIZED" | ...,  # the object's state after the change (fixed by the type, see below)
      "sequence": 2,               # int >= 1, strictly increasing per object; equals data["version"]
      "occurredAt": "2025-01-31T12:00:00.123456+00:00",   # ISO 8601 with a UTC offset
      "data": {...}                # the object's full current representation, as GET /v1/... returns it
    }

``payment.terminated`` (the merchant cancelled a created or authorized payment) is an addition to the
list in the brief; it mirrors Vipps' ePayment ``TERMINATED`` state.

Delivery is at least once and **not** ordered: a receiver must deduplicate on ``id`` and must ignore an
event whose ``sequence`` is not greater than the version it already stored for ``objectId``. Webhooks
can be lost; poll ``GET /v1/payments/{id}`` / ``GET /v1/agreements/{id}`` as the fallback (Vipps
MobilePay developer docs: "webhooks report state changes, polling is the fallback").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

SIGNATURE_HEADER: Final = "Payments-Signature"

PAYMENT_EVENT_STATES: Final[Mapping[str, str]] = {
    "payment.authorized": "AUTHORIZED",
    "payment.captured": "CAPTURED",
    "payment.aborted": "ABORTED",
    "payment.expired": "EXPIRED",
    "payment.failed": "FAILED",
    "payment.terminated": "TERMINATED",
}
AGREEMENT_EVENT_STATES: Final[Mapping[str, str]] = {
    "agreement.activated": "ACTIVE",
    "agreement.rejected": "REJECTED",
    "agreement.stopped": "STOPPED",
    "agreement.expired": "EXPIRED",
}
EVENT_STATES: Final[Mapping[str, str]] = {**PAYMENT_EVENT_STATES, **AGREEMENT_EVENT_STATES}
EVENT_TYPES: Final = frozenset(EVENT_STATES)

_EVENT_KEYS: Final = frozenset({"id", "type", "objectId", "state", "sequence", "occurredAt", "data"})
_EVENT_ID_RE: Final = re.compile(r"^evt_[A-Za-z0-9_-]{1,64}$")
_OBJECT_ID_RE: Final = {
    "payment": re.compile(r"^pay_[A-Za-z0-9_-]{1,64}$"),
    "agreement": re.compile(r"^agr_[A-Za-z0-9_-]{1,64}$"),
}
_HEX64_RE: Final = re.compile(r"^[0-9a-f]{64}$")


class InvalidWebhookEvent(ValueError):
    """The body is not a well-formed provider event."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    type: str
    object_id: str
    state: str
    sequence: int
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def object_kind(self) -> str:
        """``"payment"`` or ``"agreement"``."""
        return self.type.split(".", 1)[0]


def _digest(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """Return the ``Payments-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    if not secret:
        raise ValueError("webhook secret must not be empty")
    return f"t={int(timestamp)},v1={_digest(secret, body, int(timestamp))}"


def verify(secret: bytes, body: bytes, header_value: str, *, now: int, tolerance_seconds: int = 300) -> bool:
    """True only if ``header_value`` carries a fresh timestamp and a v1 signature of ``body`` by ``secret``.

    Never raises on malformed input: a malformed header is simply not valid.
    """
    if not secret or not header_value or len(header_value) > 4096:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header_value.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                return False
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value.lower())
        # unknown schemes (v0, v2, …) are ignored, as Stripe does
    if timestamp is None or not candidates:
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, body, timestamp)
    matched = False
    for candidate in candidates:
        # compare every candidate so timing does not reveal which one matched
        if _HEX64_RE.match(candidate) and hmac.compare_digest(candidate, expected):
            matched = True
    return matched


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidWebhookEvent(message)


def parse_event(body: bytes) -> WebhookEvent:
    """Parse and strictly validate an event body. Raises :class:`InvalidWebhookEvent`.

    Verify the signature first; this only checks the shape.
    """
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidWebhookEvent("body is not JSON") from exc
    _require(isinstance(raw, dict), "event must be a JSON object")
    keys = set(raw)
    _require(keys == _EVENT_KEYS, f"event keys must be exactly {sorted(_EVENT_KEYS)}, got {sorted(keys)}")

    event_id, event_type, object_id = raw["id"], raw["type"], raw["objectId"]
    state, sequence, occurred, data = raw["state"], raw["sequence"], raw["occurredAt"], raw["data"]

    _require(isinstance(event_id, str) and bool(_EVENT_ID_RE.match(event_id)), "bad id")
    _require(isinstance(event_type, str) and event_type in EVENT_TYPES, "unknown type")
    kind = event_type.split(".", 1)[0]
    _require(isinstance(object_id, str) and bool(_OBJECT_ID_RE[kind].match(object_id)), "bad objectId")
    _require(state == EVENT_STATES[event_type], f"state {state!r} does not match type {event_type}")
    _require(type(sequence) is int and sequence >= 1, "sequence must be a positive integer")
    _require(isinstance(occurred, str), "occurredAt must be a string")
    try:
        occurred_at = datetime.fromisoformat(occurred)
    except ValueError as exc:
        raise InvalidWebhookEvent("occurredAt is not ISO 8601") from exc
    _require(occurred_at.tzinfo is not None, "occurredAt must carry a UTC offset")
    _require(isinstance(data, dict), "data must be an object")
    _require(data.get("id") == object_id, "data.id must equal objectId")
    _require(data.get("state") == state, "data.state must equal state")
    _require(data.get("version") == sequence, "data.version must equal sequence")
    return WebhookEvent(
        id=event_id,
        type=event_type,
        object_id=object_id,
        state=state,
        sequence=sequence,
        occurred_at=occurred_at,
        data=data,
    )


def encode_event(*, event_id: str, event_type: str, obj: Mapping[str, Any], occurred_at: datetime) -> bytes:
    """Serialise an event for ``obj`` (a GET representation with ``id``, ``state`` and ``version``)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    payload = {
        "id": event_id,
        "type": event_type,
        "objectId": obj["id"],
        "state": obj["state"],
        "sequence": obj["version"],
        "occurredAt": occurred_at.isoformat(),
        "data": dict(obj),
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
