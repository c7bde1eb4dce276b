"""Async client for the payment provider (one-off payments, MobilePay subscriptions, Betalingsservice).

The provider API is modelled on Vipps MobilePay's ePayment API (one-off card/MobilePay payments:
``CREATED`` → ``AUTHORIZED`` → captured, or ``ABORTED``/``EXPIRED``/``TERMINATED``), its Recurring API
(agreements ``PENDING``/``ACTIVE``/``STOPPED``/``EXPIRED``; a stopped agreement is never reactivated) and
Nexi's Betalingsservice mandates (keyed by PBS number + debtor group + customer number, activated
asynchronously once the citizen's bank accepts). Source: Vipps MobilePay developer docs, docs/domain.md.

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
  the same idempotency key is safe. :class:`PaymentsRejected`: any other 4xx, with the provider's
  error ``code`` (e.g. ``NOT_FOUND``, ``INVALID_STATE``, ``AGREEMENT_STOPPED``, ``VALIDATION_FAILED``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Literal, cast, get_args

import httpx

PaymentMethod = Literal["CARD", "MOBILEPAY"]
PaymentState = Literal["CREATED", "AUTHORIZED", "CAPTURED", "ABORTED", "EXPIRED", "TERMINATED", "FAILED"]
AgreementKind = Literal["MOBILEPAY_SUBSCRIPTION", "BETALINGSSERVICE"]
AgreementState = Literal["PENDING", "ACTIVE", "STOPPED", "EXPIRED", "REJECTED"]

PAYMENT_METHODS: Final[frozenset[str]] = frozenset(get_args(PaymentMethod))
PAYMENT_STATES: Final[frozenset[str]] = frozenset(get_args(PaymentState))
AGREEMENT_KINDS: Final[frozenset[str]] = frozenset(get_args(AgreementKind))
AGREEMENT_STATES: Final[frozenset[str]] = frozenset(get_args(AgreementState))
CURRENCY: Final = "DKK"
MAX_AMOUNT_OERE: Final = 100_000_000_00  # 100 million kr.; anything above is a bug, not a payment

IDEMPOTENCY_KEY_RE: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
OBJECT_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
OPAQUE_REF_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# DDMMYY-SSSS with a plausible day and month (cpr.dk); with or without the hyphen/space.
_CPR_SEPARATED_RE: Final = re.compile(r"(?<!\d)(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])\d{2}[- ]\d{4}(?!\d)")
_CPR_BARE_RE: Final = re.compile(r"(?<!\d)(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])\d{6}(?!\d)")


def looks_like_cpr(text: str, *, bare_digits: bool = True) -> bool:
    """True if ``text`` contains something shaped like a CPR number.

    ``bare_digits=False`` only flags the separated form ``DDMMYY-SSSS`` so that ten-digit invoice or claim
    numbers in references and descriptions are not mistaken for one.
    """
    if _CPR_SEPARATED_RE.search(text):
        return True
    return bare_digits and bool(_CPR_BARE_RE.search(text))


class PaymentsUnavailable(Exception):
    """The provider could not be reached or failed (transport error, timeout, 5xx, 429, garbage)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class PaymentsRejected(Exception):
    """The provider refused the request (4xx) with an error code."""

    def __init__(self, code: str, message: str, *, status_code: int) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.code = code
        self.message = message
        self.status_code = status_code


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


def _check_url(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")) or len(value) > 2000:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    if looks_like_cpr(value):
        raise ValueError(f"{name} must not contain a CPR number")
    return value


class MalformedResponse(PaymentsUnavailable):
    """The provider answered with a representation that does not match the contract."""


def _get(obj: dict[str, Any], key: str, typ: type) -> Any:
    value = obj.get(key)
    if type(value) is not typ:
        raise MalformedResponse(f"{key}: expected {typ.__name__}")
    return value


def _get_opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and type(value) is not str:
        raise MalformedResponse(f"{key}: expected string or null")
    return value


def _get_money(obj: dict[str, Any], key: str) -> int:
    money = _get(obj, key, dict)
    if money.get("currency") != CURRENCY or type(money.get("value")) is not int:
        raise MalformedResponse(f"{key}: expected DKK money in integer øre")
    return cast(int, money["value"])


def _get_enum(obj: dict[str, Any], key: str, allowed: frozenset[str]) -> Any:
    value = _get(obj, key, str)
    if value not in allowed:
        raise MalformedResponse(f"{key}: unexpected value {value!r}")
    return value


def _get_datetime(obj: dict[str, Any], key: str) -> datetime:
    try:
        return datetime.fromisoformat(_get(obj, key, str))
    except ValueError as exc:
        raise MalformedResponse(f"{key}: not ISO 8601") from exc


def payment_from_json(obj: Any) -> ProviderPayment:
    """Parse a payment representation (a GET response, or a webhook event's ``data``)."""
    if not isinstance(obj, dict):
        raise MalformedResponse("payment: expected object")
    return ProviderPayment(
        id=_get(obj, "id", str),
        reference=_get(obj, "reference", str),
        amount_oere=_get_money(obj, "amount"),
        method=_get_enum(obj, "method", PAYMENT_METHODS),
        state=_get_enum(obj, "state", PAYMENT_STATES),
        redirect_url=_get(obj, "redirectUrl", str),
        captured_oere=_get_money(obj, "capturedAmount"),
        description=_get(obj, "description", str),
        return_url=_get(obj, "returnUrl", str),
        created_at=_get_datetime(obj, "createdAt"),
        version=_get(obj, "version", int),
    )


def agreement_from_json(obj: Any) -> ProviderAgreement:
    """Parse an agreement representation (a GET response, or a webhook event's ``data``)."""
    if not isinstance(obj, dict):
        raise MalformedResponse("agreement: expected object")
    bs_raw = obj.get("bsReference")
    bs: BetalingsserviceReference | None = None
    if bs_raw is not None:
        if not isinstance(bs_raw, dict):
            raise MalformedResponse("bsReference: expected object or null")
        bs = BetalingsserviceReference(
            pbs_number=_get(bs_raw, "pbsNumber", str),
            debtor_group=_get(bs_raw, "debtorGroup", str),
            customer_number=_get(bs_raw, "customerNumber", str),
        )
    return ProviderAgreement(
        id=_get(obj, "id", str),
        kind=_get_enum(obj, "kind", AGREEMENT_KINDS),
        state=_get_enum(obj, "state", AGREEMENT_STATES),
        customer_ref=_get(obj, "customerRef", str),
        mobilepay_account_ref=_get_opt_str(obj, "mobilePayAccountRef"),
        description=_get(obj, "description", str),
        confirmation_url=_get_opt_str(obj, "confirmationUrl"),
        return_url=_get_opt_str(obj, "returnUrl"),
        bs_reference=bs,
        created_at=_get_datetime(obj, "createdAt"),
        version=_get(obj, "version", int),
    )


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
    ) -> None:
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

    # -- transport --

    async def _write(self, path: str, body: dict[str, Any], idempotency_key: str) -> Any:
        headers = {"Idempotency-Key": _check_key(idempotency_key)}
        return await self._request("POST", path, json=body, headers=headers)

    async def _request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Any:
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
            code, message = "HTTP_ERROR", response.reason_phrase
            try:
                problem = response.json()
                if isinstance(problem, dict):
                    code = str(problem.get("code") or code)
                    message = str(problem.get("detail") or problem.get("title") or message)
            except ValueError:
                pass
            raise PaymentsRejected(code, message, status_code=status)
        if status != 200 and status != 201:
            raise PaymentsUnavailable(f"payment provider answered unexpected {status}", status_code=status)
        try:
            return response.json()
        except ValueError as exc:
            raise PaymentsUnavailable("payment provider sent a body that is not JSON", status_code=status) from exc
