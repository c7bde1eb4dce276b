"""Async client for the payment provider (one-off payments, MobilePay subscriptions, Betalingsservice).

The provider API is modelled on Vipps MobilePay's ePayment API (one-off card/MobilePay payments:
``CREATED`` → ``AUTHORIZED`` → captured, or ``ABORTED``/``EXPIRED``/``TERMINATED``), its Recurring API
(agreements ``PENDING``/``ACTIVE``/``STOPPED``/``EXPIRED``; a stopped agreement is never reactivated) and
Nexi's Betalingsservice mandates (keyed by PBS number + debtor group + customer number, activated
asynchronously once the citizen's bank accepts). Source: Vipps MobilePay developer docs, docs/domain.md.

Charges (recurring draws): the creditor creates every charge on an ACTIVE agreement, at least one day
before its ``due`` date by the provider's clock (Vipps MobilePay Recurring: "a 1-day lead time"); the provider
processes it on the due date (``PENDING`` → ``DUE`` → ``CHARGED``), retries a failing one daily for
``retry_days`` (0–14) and then marks it ``FAILED`` with a ``failure_reason``; a charge not yet charged can be
cancelled, and stopping or expiring its agreement cancels it. A MobilePay charge and a Betalingsservice
payment instruction are the same call: the provider knows the agreement's kind. A ``reference`` is unique
among all of the creditor's charges (like Vipps' ``orderId``), so the same draw can never be created twice
under two idempotency keys (``DUPLICATE_REFERENCE``).

Rules the caller must know:

* Money is integer øre on both sides (``{"currency": "DKK", "value": <int øre>}`` on the wire); a float,
  a bool or a non-positive amount is refused before anything is sent.
* Every write carries the caller's ``Idempotency-Key``. The same key with the same body returns the same
  object (the provider replays the first response's status with the object's current state); the same
  key with a different body is :class:`PaymentsRejected` with code ``IDEMPOTENCY_KEY_REUSED`` (409).
  Keys are 1–128 characters from ``[A-Za-z0-9._:-]``; derive them from the gateway's own key (e.g. a
  SHA-256 hex digest of ``"startPayment:" + citizen-scoped key``), never from a CPR number.
* No CPR number may reach the provider: ``customer_ref`` must be an opaque id, and free-text fields are
  checked for CPR-shaped text (``ValueError`` before sending).
* :class:`PaymentsUnavailable`: transport errors, timeouts, 5xx, 429, unparsable answers — retrying with
  the same idempotency key is safe. An answer that is JSON but breaks the contract (checked by strict
  pydantic models: a float or a string where øre are due, an unknown state, ...) is its subclass
  :class:`MalformedResponse`, whose message and log line name the fields, never their values.
* :class:`PaymentsCircuitOpen` (a :class:`PaymentsUnavailable`): the client's circuit breaker is open, so
  the call was not made at all. After ``breaker_threshold`` consecutive failed calls (unavailable, as above;
  a refusal is an answer and counts as a success) the breaker refuses every call for ``breaker_ttl_seconds``,
  then lets one probe through; its success closes the breaker (``adapters.breaker``, per process).
* :class:`PaymentsRejected`: any other 4xx, with the provider's error ``code`` (e.g. ``NOT_FOUND``,
  ``INVALID_STATE``, ``AGREEMENT_STOPPED``, ``VALIDATION_FAILED``; for charges also ``AGREEMENT_NOT_ACTIVE``,
  ``DUE_TOO_SOON``, ``INVALID_AMOUNT``, ``DUPLICATE_REFERENCE``) and, for a bulk request, the ``index`` of
  the refused charge (nothing in a refused bulk request is created).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Annotated, Any, Final, Literal, get_args

import httpx
import structlog
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from adapters.breaker import CircuitBreaker, CircuitOpen
from gateway.domain.cpr import looks_like_cpr
from gateway.usecases.ports import ProviderRejected, ProviderUnavailable, UpstreamObserver

log = structlog.get_logger(__name__)

PaymentMethod = Literal["CARD", "MOBILEPAY"]
PaymentState = Literal["CREATED", "AUTHORIZED", "CAPTURED", "ABORTED", "EXPIRED", "TERMINATED", "FAILED"]
AgreementKind = Literal["MOBILEPAY_SUBSCRIPTION", "BETALINGSSERVICE"]
AgreementState = Literal["PENDING", "ACTIVE", "STOPPED", "EXPIRED", "REJECTED"]
# Vipps MobilePay Recurring charge states; RESERVED only occurs for RESERVE_CAPTURE charges (we direct-capture).
ChargeState = Literal["PENDING", "DUE", "RESERVED", "CHARGED", "FAILED", "CANCELLED"]

PAYMENT_METHODS: Final[frozenset[str]] = frozenset(get_args(PaymentMethod))
PAYMENT_STATES: Final[frozenset[str]] = frozenset(get_args(PaymentState))
AGREEMENT_KINDS: Final[frozenset[str]] = frozenset(get_args(AgreementKind))
AGREEMENT_STATES: Final[frozenset[str]] = frozenset(get_args(AgreementState))
CHARGE_STATES: Final[frozenset[str]] = frozenset(get_args(ChargeState))
CURRENCY: Final = "DKK"
MAX_AMOUNT_OERE: Final = 100_000_000_00  # 100 million kr.; anything above is a bug, not a payment

IDEMPOTENCY_KEY_RE: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
OBJECT_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
OPAQUE_REF_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ISO_DATE_RE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_RETRY_DAYS: Final = 14  # Vipps MobilePay Recurring: retryDays 0-14
MAX_BULK_CHARGES: Final = 2000  # Vipps MobilePay Recurring: up to 2,000 charges per bulk request


class PaymentsUnavailable(ProviderUnavailable):
    """The provider could not be reached or failed (transport error, timeout, 5xx, 429, garbage)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class PaymentsCircuitOpen(PaymentsUnavailable):
    """The client's circuit breaker is open: the call was not made (the provider failed too often lately)."""


class PaymentsRejected(ProviderRejected):
    """The provider refused the request (4xx) with an error code."""

    def __init__(self, code: str, message: str, *, status_code: int, index: int | None = None) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.code = code
        self.message = message
        self.status_code = status_code
        self.index = index  # bulk requests: which charge (0-based) was refused


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    id: str
    reference: str
    amount_oere: int
    method: PaymentMethod
    state: PaymentState
    redirect_url: str
    captured_oere: int
    description: str
    return_url: str
    created_at: datetime
    version: int  # increases with every state change; equals the latest webhook's ``sequence``


@dataclass(frozen=True, slots=True)
class BetalingsserviceReference:
    """A Betalingsservice mandate's key: PBS number (8 digits), debtor group (5), customer number (15)."""

    pbs_number: str
    debtor_group: str
    customer_number: str


@dataclass(frozen=True, slots=True)
class ProviderAgreement:
    id: str
    kind: AgreementKind
    state: AgreementState
    customer_ref: str
    mobilepay_account_ref: str | None
    description: str
    confirmation_url: str | None  # MobilePay: page where the citizen approves; Betalingsservice: None
    return_url: str | None
    bs_reference: BetalingsserviceReference | None  # Betalingsservice only
    created_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class ProviderCharge:
    """A MobilePay Recurring charge, or a Betalingsservice payment instruction (same shape)."""

    id: str
    agreement_id: str
    reference: str
    amount_oere: int
    captured_oere: int  # the full amount once CHARGED, else 0
    due: date
    retry_days: int
    state: ChargeState
    failure_reason: str | None  # set when FAILED, e.g. "INSUFFICIENT_FUNDS"
    version: int  # increases with every state change; equals the latest webhook's ``sequence``
    created_at: datetime
    charged_on: date | None = None  # the provider's date on which it was charged (due, or a retry day)


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """One charge of a bulk request (:meth:`PaymentsClient.create_charges`); fields as in ``create_charge``."""

    agreement_id: str
    idempotency_key: str
    amount_oere: int
    due: date
    retry_days: int
    description: str
    reference: str


# --- wire format -----------------------------------------------------------------------------------------


def _money(value_oere: int) -> dict[str, Any]:
    return {"currency": CURRENCY, "value": value_oere}


def _check_amount(amount_oere: object, name: str = "amount_oere") -> int:
    if type(amount_oere) is not int:
        raise TypeError(f"{name} must be an int number of øre, not {type(amount_oere).__name__}")
    if not 0 < amount_oere <= MAX_AMOUNT_OERE:
        raise ValueError(f"{name} must be between 1 and {MAX_AMOUNT_OERE} øre")
    return amount_oere


def _check_key(idempotency_key: str) -> str:
    if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY_RE.match(idempotency_key):
        raise ValueError("idempotency_key must be 1-128 characters from [A-Za-z0-9._:-]")
    return idempotency_key


def _check_id(object_id: str) -> str:
    if not isinstance(object_id, str) or not OBJECT_ID_RE.match(object_id):
        raise ValueError("invalid object id")
    return object_id


def _check_text(value: str, name: str, *, max_len: int = 200, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > max_len or (not value and not allow_empty):
        raise ValueError(f"{name} must be a string of 1-{max_len} characters")
    if looks_like_cpr(value, bare_digits=False):
        raise ValueError(f"{name} must not contain a CPR number")
    return value


def _check_date(value: date, name: str) -> str:
    # datetime is a subclass of date; a timestamp where a calendar date is due is a bug.
    if type(value) is not date:
        raise TypeError(f"{name} must be a datetime.date")
    return value.isoformat()


def _check_retry_days(value: int) -> int:
    if type(value) is not int or not 0 <= value <= MAX_RETRY_DAYS:
        raise ValueError(f"retry_days must be an int from 0 to {MAX_RETRY_DAYS}")
    return value


def _charge_body(*, amount_oere: int, due: date, retry_days: int, description: str, reference: str) -> dict[str, Any]:
    return {
        "amount": _money(_check_amount(amount_oere)),
        "due": _check_date(due, "due"),
        "retryDays": _check_retry_days(retry_days),
        "description": _check_text(description, "description"),
        "reference": _check_text(reference, "reference", max_len=64),
    }


def _check_url(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")) or len(value) > 2000:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    if looks_like_cpr(value):
        raise ValueError(f"{name} must not contain a CPR number")
    return value


class MalformedResponse(PaymentsUnavailable):
    """The provider answered with a representation that does not match the contract."""


def _where(loc: tuple[int | str, ...], error_type: str) -> str:
    # An unexpected key's name came from the other side, so it is not repeated either.
    path = [*loc[:-1], "<unexpected key>"] if error_type == "extra_forbidden" else list(loc)
    return ".".join(str(part) for part in path) or "<root>"


def describe_validation_error(exc: ValidationError, *, limit: int = 10) -> str:
    """Where and what went wrong, never the offending value (it may be personal data): ``amount.value: int_type``.

    Only each error's location (wire field names) and type are used: pydantic's messages and ``input`` can
    echo what was received.
    """
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    parts = [f"{_where(e['loc'], e['type'])}: {e['type']}" for e in errors[:limit]]
    if len(errors) > limit:
        parts.append(f"... {len(errors) - limit} more")
    return "; ".join(parts)


def _iso_datetime(value: object) -> datetime:
    # An ISO 8601 string only (pydantic's lax datetime would also take unix numbers); the error never echoes it.
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "expected an ISO 8601 string")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("datetime_format", "not ISO 8601") from None


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError("datetime_offset_missing", "must carry a UTC offset")
    return value


def _iso_date(value: object) -> date:
    # "YYYY-MM-DD" only (fromisoformat would also take "20250131"); the error never echoes it.
    if not isinstance(value, str):
        raise PydanticCustomError("date_type", "expected an ISO 8601 date string")
    if not ISO_DATE_RE.match(value):
        raise PydanticCustomError("date_format", "not YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_format", "not a calendar date") from None


IsoDate = Annotated[date, PlainValidator(_iso_date)]
IsoDatetime = Annotated[datetime, PlainValidator(_iso_datetime)]
AwareIsoDatetime = Annotated[datetime, PlainValidator(_iso_datetime), AfterValidator(_aware)]

# Strict: a str is a str and an int is an int (no "12" or 12.0 or true); unknown keys are ignored so the
# provider can add fields. Wire names are camelCase.
_WIRE: Final = ConfigDict(strict=True, extra="ignore", frozen=True, alias_generator=to_camel)


class _Money(BaseModel):
    model_config = _WIRE
    currency: Literal["DKK"]
    value: Annotated[int, Field(ge=0, le=MAX_AMOUNT_OERE)]  # integer øre


_ObjectId = Annotated[str, Field(pattern=OBJECT_ID_RE.pattern)]


class _PaymentWire(BaseModel):
    model_config = _WIRE
    id: _ObjectId
    reference: str
    amount: _Money
    method: PaymentMethod
    state: PaymentState
    redirect_url: str
    captured_amount: _Money
    description: str
    return_url: str
    created_at: IsoDatetime
    version: Annotated[int, Field(ge=1)]

    def to_payment(self) -> ProviderPayment:
        return ProviderPayment(
            id=self.id,
            reference=self.reference,
            amount_oere=self.amount.value,
            method=self.method,
            state=self.state,
            redirect_url=self.redirect_url,
            captured_oere=self.captured_amount.value,
            description=self.description,
            return_url=self.return_url,
            created_at=self.created_at,
            version=self.version,
        )


class _BsReferenceWire(BaseModel):
    model_config = _WIRE
    pbs_number: Annotated[str, Field(pattern=r"^[0-9]{8}$")]
    debtor_group: Annotated[str, Field(pattern=r"^[0-9]{5}$")]
    customer_number: Annotated[str, Field(pattern=r"^[0-9]{15}$")]


class _AgreementWire(BaseModel):
    model_config = _WIRE
    id: _ObjectId
    kind: AgreementKind
    state: AgreementState
    customer_ref: str
    mobile_pay_account_ref: str | None = None
    description: str
    confirmation_url: str | None = None
    return_url: str | None = None
    bs_reference: _BsReferenceWire | None = None
    created_at: IsoDatetime
    version: Annotated[int, Field(ge=1)]

    def to_agreement(self) -> ProviderAgreement:
        bs = self.bs_reference
        return ProviderAgreement(
            id=self.id,
            kind=self.kind,
            state=self.state,
            customer_ref=self.customer_ref,
            mobilepay_account_ref=self.mobile_pay_account_ref,
            description=self.description,
            confirmation_url=self.confirmation_url,
            return_url=self.return_url,
            bs_reference=None
            if bs is None
            else BetalingsserviceReference(bs.pbs_number, bs.debtor_group, bs.customer_number),
            created_at=self.created_at,
            version=self.version,
        )


class _ChargeWire(BaseModel):
    model_config = _WIRE
    id: _ObjectId
    agreement_id: _ObjectId
    reference: str
    amount: _Money
    captured_amount: _Money
    due: IsoDate
    retry_days: Annotated[int, Field(ge=0)]
    state: ChargeState
    failure_reason: str | None = None
    charged_on: IsoDate | None = None
    created_at: IsoDatetime
    version: Annotated[int, Field(ge=1)]

    def to_charge(self) -> ProviderCharge:
        return ProviderCharge(
            id=self.id,
            agreement_id=self.agreement_id,
            reference=self.reference,
            amount_oere=self.amount.value,
            captured_oere=self.captured_amount.value,
            due=self.due,
            retry_days=self.retry_days,
            state=self.state,
            failure_reason=self.failure_reason,
            version=self.version,
            created_at=self.created_at,
            charged_on=self.charged_on,
        )


class _ChargeListWire(BaseModel):
    model_config = _WIRE
    charges: list[_ChargeWire]


class _ProblemWire(BaseModel):
    """A 4xx answer's problem JSON; lenient, since a refusal is a refusal whatever its body looks like."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)
    code: str | None = None
    title: str | None = None
    detail: str | None = None
    index: Any = None  # bulk requests; kept only if it is an int


def _malformed(kind: str, exc: ValidationError) -> MalformedResponse:
    where = describe_validation_error(exc)
    log.warning("payments.malformed_response", object=kind, errors=where)
    return MalformedResponse(f"malformed {kind}: {where}")


def payment_from_json(obj: Any) -> ProviderPayment:
    """Parse a payment representation (a GET response, or a webhook event's ``data``)."""
    try:
        return _PaymentWire.model_validate(obj).to_payment()
    except ValidationError as exc:
        raise _malformed("payment", exc) from None


def agreement_from_json(obj: Any) -> ProviderAgreement:
    """Parse an agreement representation (a GET response, or a webhook event's ``data``)."""
    try:
        return _AgreementWire.model_validate(obj).to_agreement()
    except ValidationError as exc:
        raise _malformed("agreement", exc) from None


def charge_from_json(obj: Any) -> ProviderCharge:
    """Parse a charge representation (a GET response, or a webhook event's ``data``)."""
    try:
        return _ChargeWire.model_validate(obj).to_charge()
    except ValidationError as exc:
        raise _malformed("charge", exc) from None


def _charges_from_json(obj: Any) -> list[ProviderCharge]:
    try:
        return [wire.to_charge() for wire in _ChargeListWire.model_validate(obj).charges]
    except ValidationError as exc:
        raise _malformed("charge list", exc) from None


def _unavailable_outcome(exc: PaymentsUnavailable) -> str:
    """A bounded code for a failed call (the upstream metrics' ``outcome``)."""
    if exc.status_code in (200, 201):
        return "malformed"  # answered, but not JSON
    if exc.status_code is not None:
        return f"HTTP_{exc.status_code}"
    return "TIMEOUT" if isinstance(exc.__cause__, httpx.TimeoutException) else "TRANSPORT"


# --- client ----------------------------------------------------------------------------------------------


class PaymentsClient:
    """Async client. Use as ``async with PaymentsClient(...) as client`` or call :meth:`aclose`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: UpstreamObserver | None = None,
        breaker_threshold: int = 5,
        breaker_ttl_seconds: float = 15.0,
    ) -> None:
        self._observer = observer  # told each call's outcome and latency, and the breaker's state (metrics)
        # Per process, in memory (see adapters.breaker): with several gateway processes each one opens its own.
        self._breaker = CircuitBreaker(
            "payments",
            threshold=breaker_threshold,
            ttl_seconds=breaker_ttl_seconds,
            exclude=[PaymentsRejected],  # the provider answered: it is up
            on_state=observer.breaker if observer is not None else None,
        )
        headers = {"Accept": "application/json", "User-Agent": "betalingsoverblik-gateway/payments"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> PaymentsClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        """The HTTP client (for the composition root's tracing instrumentation)."""
        return self._http

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker in front of every call (its ``state`` for /readyz)."""
        return self._breaker

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- payments --

    async def create_payment(
        self,
        *,
        idempotency_key: str,
        reference: str,
        amount_oere: int,
        method: PaymentMethod,
        return_url: str,
        description: str,
    ) -> ProviderPayment:
        if method not in PAYMENT_METHODS:
            raise ValueError(f"method must be one of {sorted(PAYMENT_METHODS)}")
        body = {
            "reference": _check_text(reference, "reference", max_len=64),
            "amount": _money(_check_amount(amount_oere)),
            "method": method,
            "returnUrl": _check_url(return_url, "return_url"),
            "description": _check_text(description, "description"),
        }
        return payment_from_json(await self._write("/v1/payments", body, idempotency_key))

    async def get_payment(self, payment_id: str) -> ProviderPayment:
        return payment_from_json(await self._request("GET", f"/v1/payments/{_check_id(payment_id)}"))

    async def capture_payment(self, payment_id: str, *, amount_oere: int, idempotency_key: str) -> ProviderPayment:
        path = f"/v1/payments/{_check_id(payment_id)}/capture"
        body = {"amount": _money(_check_amount(amount_oere))}
        return payment_from_json(await self._write(path, body, idempotency_key))

    async def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        """Cancel a CREATED or AUTHORIZED payment (→ ``TERMINATED``); a captured one is refused."""
        path = f"/v1/payments/{_check_id(payment_id)}/cancel"
        return payment_from_json(await self._write(path, {}, idempotency_key))

    # -- agreements --

    async def create_agreement(
        self,
        *,
        idempotency_key: str,
        kind: AgreementKind,
        customer_ref: str,
        mobilepay_account_ref: str | None,
        description: str,
        return_url: str | None,
    ) -> ProviderAgreement:
        if kind not in AGREEMENT_KINDS:
            raise ValueError(f"kind must be one of {sorted(AGREEMENT_KINDS)}")
        if not isinstance(customer_ref, str) or not OPAQUE_REF_RE.match(customer_ref) or looks_like_cpr(customer_ref):
            raise ValueError("customer_ref must be an opaque id ([A-Za-z0-9_-]{1,64}), never a CPR number")
        if mobilepay_account_ref is not None:
            if kind != "MOBILEPAY_SUBSCRIPTION":
                raise ValueError("mobilepay_account_ref only applies to MOBILEPAY_SUBSCRIPTION")
            if not OPAQUE_REF_RE.match(mobilepay_account_ref) or looks_like_cpr(mobilepay_account_ref):
                raise ValueError("mobilepay_account_ref must be an opaque id")
        if kind == "MOBILEPAY_SUBSCRIPTION" and return_url is None:
            raise ValueError("a MobilePay agreement needs a return_url")
        body = {
            "kind": kind,
            "customerRef": customer_ref,
            "mobilePayAccountRef": mobilepay_account_ref,
            "description": _check_text(description, "description"),
            "returnUrl": None if return_url is None else _check_url(return_url, "return_url"),
        }
        return agreement_from_json(await self._write("/v1/agreements", body, idempotency_key))

    async def get_agreement(self, agreement_id: str) -> ProviderAgreement:
        return agreement_from_json(await self._request("GET", f"/v1/agreements/{_check_id(agreement_id)}"))

    async def stop_agreement(self, agreement_id: str, *, idempotency_key: str) -> ProviderAgreement:
        """Stop a PENDING or ACTIVE agreement for good (→ ``STOPPED``); stopping it again is a no-op."""
        path = f"/v1/agreements/{_check_id(agreement_id)}/stop"
        return agreement_from_json(await self._write(path, {}, idempotency_key))

    # -- charges (recurring draws) --

    async def create_charge(
        self,
        agreement_id: str,
        *,
        idempotency_key: str,
        amount_oere: int,
        due: date,
        retry_days: int,
        description: str,
        reference: str,
    ) -> ProviderCharge:
        """Create a charge on an ACTIVE agreement (a MobilePay Recurring charge, or a Betalingsservice payment
        instruction), to be drawn on ``due`` (at least one day after the provider's today) and retried daily
        for ``retry_days`` (0-14). Refusals: ``AGREEMENT_NOT_ACTIVE``, ``DUE_TOO_SOON``, ``INVALID_AMOUNT``,
        ``DUPLICATE_REFERENCE``, ``IDEMPOTENCY_KEY_REUSED``, ``NOT_FOUND``, ``VALIDATION_FAILED``."""
        path = f"/v1/agreements/{_check_id(agreement_id)}/charges"
        body = _charge_body(
            amount_oere=amount_oere, due=due, retry_days=retry_days, description=description, reference=reference
        )
        return charge_from_json(await self._write(path, body, idempotency_key))

    async def create_charges(self, agreement_charges: Sequence[ChargeRequest]) -> list[ProviderCharge]:
        """Create up to 2,000 charges in one request, each under its own idempotency key (the same key and
        content as an earlier ``create_charge`` returns that charge). All or nothing: a refusal names the
        charge's ``index`` and nothing is created. Answers the charges in request order."""
        if not 0 < len(agreement_charges) <= MAX_BULK_CHARGES:
            raise ValueError(f"a bulk request holds 1-{MAX_BULK_CHARGES} charges")
        items = []
        for index, charge in enumerate(agreement_charges):
            if not isinstance(charge, ChargeRequest):
                raise TypeError(f"agreement_charges[{index}] must be a ChargeRequest")
            body = _charge_body(
                amount_oere=charge.amount_oere,
                due=charge.due,
                retry_days=charge.retry_days,
                description=charge.description,
                reference=charge.reference,
            )
            body["agreementId"] = _check_id(charge.agreement_id)
            body["idempotencyKey"] = _check_key(charge.idempotency_key)
            items.append(body)
        # Each charge carries its own key; the request's key is derived from them, so a retried batch matches.
        batch_key = "bulk:" + hashlib.sha256("\n".join(i["idempotencyKey"] for i in items).encode()).hexdigest()
        return _charges_from_json(await self._write("/v1/charges", {"charges": items}, batch_key))

    async def get_charge(self, charge_id: str) -> ProviderCharge:
        return charge_from_json(await self._request("GET", f"/v1/charges/{_check_id(charge_id)}"))

    async def list_charges(self, agreement_id: str) -> list[ProviderCharge]:
        """Every charge on an agreement, oldest first (reconciliation when webhooks were lost)."""
        return _charges_from_json(await self._request("GET", f"/v1/agreements/{_check_id(agreement_id)}/charges"))

    async def cancel_charge(self, charge_id: str, *, idempotency_key: str) -> ProviderCharge:
        """Cancel a charge that is not yet charged (PENDING or DUE → ``CANCELLED``; cancelling it again is a
        no-op); a CHARGED or FAILED one is refused with ``INVALID_STATE``."""
        path = f"/v1/charges/{_check_id(charge_id)}/cancel"
        return charge_from_json(await self._write(path, {}, idempotency_key))

    # -- transport --

    async def _write(self, path: str, body: dict[str, Any], idempotency_key: str) -> Any:
        headers = {"Idempotency-Key": _check_key(idempotency_key)}
        return await self._request("POST", path, json=body, headers=headers)

    async def _request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        try:
            async with self._breaker.guard():
                return await self._observed(method, path, json=json, headers=headers)
        except CircuitOpen:
            if self._observer is not None:
                self._observer.request("CIRCUIT_OPEN", None)
            log.warning("payments.circuit_open", method=method, breaker_state=self._breaker.state)
            raise PaymentsCircuitOpen("payment provider not asked: its circuit breaker is open") from None

    async def _observed(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        if self._observer is None:
            return await self._request_once(method, path, json=json, headers=headers)
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self._request_once(method, path, json=json, headers=headers)
        except PaymentsRejected:
            outcome = "rejected"  # a 4xx: the provider answered, and refused
            raise
        except MalformedResponse:
            outcome = "malformed"
            raise
        except PaymentsUnavailable as exc:
            outcome = _unavailable_outcome(exc)
            raise
        finally:
            self._observer.request(outcome, time.perf_counter() - started)

    async def _request_once(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        try:
            response = await self._http.request(method, path, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise PaymentsUnavailable(f"payment provider timed out: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise PaymentsUnavailable(f"payment provider unreachable: {type(exc).__name__}") from exc
        status = response.status_code
        if status >= 500 or status == 429:
            raise PaymentsUnavailable(f"payment provider answered {status}", status_code=status)
        if 400 <= status < 500:
            try:
                problem = _ProblemWire.model_validate_json(response.content)
            except ValidationError:
                problem = _ProblemWire()
            code = problem.code or "HTTP_ERROR"
            message = problem.detail or problem.title or response.reason_phrase
            index = problem.index if type(problem.index) is int else None
            raise PaymentsRejected(code, message, status_code=status, index=index)
        if status != 200 and status != 201:
            raise PaymentsUnavailable(f"payment provider answered unexpected {status}", status_code=status)
        try:
            return response.json()
        except ValueError as exc:
            raise PaymentsUnavailable("payment provider sent a body that is not JSON", status_code=status) from exc
