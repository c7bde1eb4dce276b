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
            | "agreement.activated" | "agreement.rejected" | "agreement.stopped" | "agreement.expired"
            | "charge.pending" | "charge.due" | "charge.reserved" | "charge.charged" | "charge.failed"
            | "charge.cancelled",
      "objectId": "pay_…" | "agr_…" | "chg_…",
      "state": "AUTHORIZED" | ...,  # the object's state after the change (fixed by the type, see below)
      "sequence": 2,               # int >= 1, strictly increasing per object; equals data["version"]
      "occurredAt": "2025-01-31T12:00:00.123456+00:00",   # ISO 8601 with a UTC offset
      "data": {...}                # the object's full current representation, as GET /v1/... returns it
    }

``payment.terminated`` (the merchant cancelled a created or authorized payment) is an addition to the
list in the brief; it mirrors Vipps' ePayment ``TERMINATED`` state.

Charges (MobilePay Recurring charges and Betalingsservice payment instructions) report every state of the
Vipps MobilePay Recurring charge lifecycle: ``charge.pending`` when created (``sequence`` 1, the only event
sent for a creation), ``charge.due`` on the due date, then ``charge.charged`` or, after ``retryDays``,
``charge.failed`` (``data.failureReason`` says why); ``charge.cancelled`` when the creditor cancels it or its
agreement stops or expires. ``charge.reserved`` belongs to reserve-and-capture charges, which the gateway
does not use; it is parsed all the same.

Delivery is at least once and **not** ordered: a receiver must deduplicate on ``id`` and must ignore an
event whose ``sequence`` is not greater than the version it already stored for ``objectId``. Webhooks
can be lost; poll ``GET /v1/payments/{id}`` / ``GET /v1/agreements/{id}`` / ``GET /v1/charges/{id}`` (or
``GET /v1/agreements/{id}/charges``) as the fallback (Vipps
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
from typing import Annotated, Any, Final

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from adapters.payments.client import AwareIsoDatetime, describe_validation_error

log = structlog.get_logger(__name__)

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
CHARGE_EVENT_STATES: Final[Mapping[str, str]] = {
    "charge.pending": "PENDING",
    "charge.due": "DUE",
    "charge.reserved": "RESERVED",
    "charge.charged": "CHARGED",
    "charge.failed": "FAILED",
    "charge.cancelled": "CANCELLED",
}
EVENT_STATES: Final[Mapping[str, str]] = {**PAYMENT_EVENT_STATES, **AGREEMENT_EVENT_STATES, **CHARGE_EVENT_STATES}
EVENT_TYPES: Final = frozenset(EVENT_STATES)

_EVENT_ID_RE: Final = re.compile(r"^evt_[A-Za-z0-9_-]{1,64}$")
_OBJECT_ID_RE: Final = {
    "payment": re.compile(r"^pay_[A-Za-z0-9_-]{1,64}$"),
    "agreement": re.compile(r"^agr_[A-Za-z0-9_-]{1,64}$"),
    "charge": re.compile(r"^chg_[A-Za-z0-9_-]{1,64}$"),
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
        """``"payment"``, ``"agreement"`` or ``"charge"`` (parse ``data`` with ``charge_from_json``)."""
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


class _EventWire(BaseModel):
    """The event envelope. Strict, and closed: exactly these keys (an unknown key is a different contract)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, alias_generator=to_camel)

    id: Annotated[str, Field(pattern=_EVENT_ID_RE.pattern)]
    type: str
    object_id: str
    state: str
    sequence: Annotated[int, Field(ge=1)]
    occurred_at: AwareIsoDatetime
    data: dict[str, Any]

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise PydanticCustomError("event_type_unknown", "unknown event type")
        return value

    # The cross-field checks below run in field order, so ``info.data`` holds the fields validated so far
    # (a field that failed its own check is absent and its error is already reported).

    @field_validator("object_id")
    @classmethod
    def _object_id_matches_type(cls, value: str, info: ValidationInfo) -> str:
        event_type = info.data.get("type")
        if event_type is not None and not _OBJECT_ID_RE[event_type.split(".", 1)[0]].match(value):
            raise PydanticCustomError("object_id_mismatch", "objectId does not name an object of the event's kind")
        return value

    @field_validator("state")
    @classmethod
    def _state_matches_type(cls, value: str, info: ValidationInfo) -> str:
        event_type = info.data.get("type")
        if event_type is not None and value != EVENT_STATES[event_type]:
            raise PydanticCustomError("state_mismatch", "state does not match the event type")
        return value

    @field_validator("data")
    @classmethod
    def _data_matches_envelope(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        # data is the full object (parsed by the client's payment/agreement parsers); here only its identity
        # and version must agree with the envelope.
        if "object_id" in info.data and value.get("id") != info.data["object_id"]:
            raise PydanticCustomError("data_id_mismatch", "data.id must equal objectId")
        if "state" in info.data and value.get("state") != info.data["state"]:
            raise PydanticCustomError("data_state_mismatch", "data.state must equal state")
        if "sequence" in info.data and value.get("version") != info.data["sequence"]:
            raise PydanticCustomError("data_version_mismatch", "data.version must equal sequence")
        return value


def parse_event(body: bytes) -> WebhookEvent:
    """Parse and strictly validate an event body. Raises :class:`InvalidWebhookEvent`.

    Verify the signature first; this only checks the shape. The error (and the log line) says which field is
    wrong and how, never its value.
    """
    try:
        event = _EventWire.model_validate_json(body)
    except ValidationError as exc:
        where = describe_validation_error(exc)
        log.warning("payments.webhook.invalid_event", errors=where)
        raise InvalidWebhookEvent(f"invalid event: {where}") from None
    return WebhookEvent(
        id=event.id,
        type=event.type,
        object_id=event.object_id,
        state=event.state,
        sequence=event.sequence,
        occurred_at=event.occurred_at,
        data=event.data,
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
