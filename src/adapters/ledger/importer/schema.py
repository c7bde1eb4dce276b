"""The import format ``betalingsoverblik-import`` version 1 (docs/import-format.md) as pydantic models.

One source for the format's shape (required and optional fields, unknown fields refused) and for every rule
about one value or one record. Rules across records (duplicates, department codes, the database) are in
validation.py and write.py.

A rule that fails raises ``problem(message)``: the message is the format's documented English text and is
final. It never contains a CPR number: CPR values are never quoted, and other quoted values go through
``shown`` (CPR-like digit runs masked).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    ConfigDict,
    PlainValidator,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from adapters.ledger.importer.report import CPR_LIKE, shown, type_name
from gateway.domain.allocation import Component
from gateway.domain.claims import ClaimKind, EntryKind
from gateway.domain.cpr import Cpr, InvalidCpr
from gateway.domain.money import MAX_INPUT_OERE, InvalidAmount, parse_oere, to_decimal_string

FORMAT_NAME = "betalingsoverblik-import"
FORMAT_VERSION = 1

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
POSITIVE_KINDS = frozenset({EntryKind.CHARGE.value, EntryKind.INTEREST.value, EntryKind.FEE.value})
COMPONENT_KINDS = frozenset({EntryKind.PAYMENT.value, EntryKind.ADJUSTMENT.value})

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]{1,2})?")
# What the payment provider accepts as an opaque id (adapters/payments: customer and account references).
_PROVIDER_REF = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DIGIT = re.compile(r"[0-9]")

# The error type of a wrong ``format`` or ``version``: only that is reported (validation.py).
WRONG_FORMAT = "wrong_format"


def problem(message: str) -> PydanticCustomError:
    """A rule's failure, with its final message (no placeholders are filled in)."""
    return PydanticCustomError("import", message)


# --------------------------------------------------------------------------------------------- values


def _text(max_len: int) -> object:
    """Required text: surrounding whitespace removed, not empty. (Messages: validation.py's translations.)"""
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_len)


def _optional_text(max_len: int) -> object:
    return StringConstraints(strip_whitespace=True, max_length=max_len)


def _none_if_blank(value: str | None) -> str | None:
    return value or None  # blank counts as absent


def _identifier(max_len: int) -> Callable[[str], str]:
    """A key (code, reference, id): exactly as given, so it may not be blank or padded."""

    def check(value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise problem("must not be empty")
        if stripped != value:
            raise problem("must not start or end with whitespace")
        if len(value) > max_len:
            raise problem(f"must be at most {max_len} characters")
        return value

    return check


def _one_of(values: tuple[str, ...], what: str) -> Callable[[str], str]:
    allowed = frozenset(values)
    expected = ", ".join(values)

    def check(value: str) -> str:
        if value not in allowed:
            raise problem(f"unknown {what} {shown(value)} (expected one of {expected})")
        return value

    return check


# Dates and amounts repeat a lot in a file (and in a bulk seed): each distinct text is checked once.
@functools.lru_cache(maxsize=65536)
def _parse_date(text: str) -> date | str:
    """The date, or what is wrong with the text."""
    if not _DATE.fullmatch(text):
        return 'must be a date "YYYY-MM-DD"'
    try:
        return date.fromisoformat(text)
    except ValueError:
        return f"{shown(text)} is not a valid date"


def _day(value: object) -> date:
    parsed = _parse_date(value) if isinstance(value, str) else 'must be a date "YYYY-MM-DD"'
    if isinstance(parsed, str):
        raise problem(parsed)
    return parsed


def _time(value: object) -> str:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise problem('must be a time "HH:MM" (24-hour clock)')
    return value


def parse_exported_at(value: object) -> datetime:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise problem('must be a date-time with a time zone, e.g. "2025-11-03T06:00:00+01:00"')
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise problem("is not a valid date-time") from None


@functools.lru_cache(maxsize=65536)
def _parse_amount(text: str, signed: bool) -> int | str:
    """Øre, or what is wrong with the text. Entry amounts are signed and never zero; other amounts >= 0."""
    if not _AMOUNT.fullmatch(text):
        return "must be a decimal string with at most two decimals"
    try:
        return parse_oere(text, allow_zero=not signed, allow_negative=signed)
    except InvalidAmount as exc:
        return _AMOUNT_REASONS.get(exc.reason, f"must be at most {to_decimal_string(MAX_INPUT_OERE)}")


_AMOUNT_REASONS = {"NEGATIVE": "must not be negative", "ZERO": "must not be zero"}


def _amount(*, signed: bool) -> Callable[[object], int]:
    """A decimal string in DKK -> øre. A JSON number is refused: it may have passed through a binary float."""
    example = '"-250.00"' if signed else '"1234.50"'

    def parse(value: object) -> int:
        if not isinstance(value, str):
            if isinstance(value, int | float) and not isinstance(value, bool):
                raise problem(f"must be a decimal string such as {example}, not a JSON number")
            raise problem("must be a decimal string with at most two decimals")
        parsed = _parse_amount(value, signed)
        if isinstance(parsed, str):
            raise problem(parsed)
        return parsed

    return parse


def _cpr(value: object) -> str:
    """Ten digits. The value is never quoted, whatever is wrong with it."""
    if not isinstance(value, str):
        raise problem(f"must be a string, not {type_name(value)}")
    try:
        return Cpr(value).value
    except InvalidCpr:
        raise problem("invalid CPR number") from None


def _format(value: object) -> str:
    if value != FORMAT_NAME:
        raise PydanticCustomError(WRONG_FORMAT, f'must be "{FORMAT_NAME}"')
    return FORMAT_NAME


def _version(value: object) -> int:
    if isinstance(value, bool) or value != FORMAT_VERSION:
        raise PydanticCustomError(WRONG_FORMAT, f"unsupported version (this gateway reads version {FORMAT_VERSION})")
    return FORMAT_VERSION


def _provider_ref(value: str) -> str:
    if not _PROVIDER_REF.fullmatch(value):
        raise problem("must be 1 to 64 letters, digits, '-' or '_'")
    if CPR_LIKE.search(value):
        raise problem("must not contain a CPR number")
    return value


def _masked_number(value: str) -> str:
    if len(_DIGIT.findall(value)) > 4:
        raise problem('must be masked: at most the last four digits, e.g. "**** 4821"')
    return value


Text100 = Annotated[str, _text(100)]
Text200 = Annotated[str, _text(200)]
Text300 = Annotated[str, _text(300)]
OptionalText40 = Annotated[str | None, _optional_text(40), AfterValidator(_none_if_blank)]
OptionalText200 = Annotated[str | None, _optional_text(200), AfterValidator(_none_if_blank)]
OptionalText300 = Annotated[str | None, _optional_text(300), AfterValidator(_none_if_blank)]
Key40 = Annotated[str, AfterValidator(_identifier(40))]
Key80 = Annotated[str, AfterValidator(_identifier(80))]
Day = Annotated[date, PlainValidator(_day)]
Time = Annotated[str, PlainValidator(_time)]
Amount = Annotated[int, PlainValidator(_amount(signed=False))]
SignedAmount = Annotated[int, PlainValidator(_amount(signed=True))]
CprNumber = Annotated[str, PlainValidator(_cpr)]
ClaimKindName = Annotated[str, AfterValidator(_one_of(tuple(k.value for k in ClaimKind), "claim kind"))]
EntryKindName = Annotated[str, AfterValidator(_one_of(tuple(k.value for k in EntryKind), "entry kind"))]
ComponentName = Annotated[str, AfterValidator(_one_of(tuple(c.value for c in Component), "component"))]
Weekday = Annotated[str, AfterValidator(_one_of(WEEKDAYS, "weekday"))]
ProviderRef = Annotated[str, AfterValidator(_identifier(64)), AfterValidator(_provider_ref)]
MaskedNumber = Annotated[str, _text(40), AfterValidator(_masked_number)]


# -------------------------------------------------------------------------------------------- records


# Records are pydantic dataclasses: the same validation as a BaseModel at about half the cost per record,
# which counts for a bulk seed's 400,000 entries. camelCase names in the file; any other field is a
# problem; inputs never appear in pydantic's own texts.
CONFIG = ConfigDict(extra="forbid", alias_generator=to_camel, hide_input_in_errors=True)


@dataclass(config=CONFIG, frozen=True, slots=True)
class PhoneHours:
    weekday: Weekday
    opens: Time
    closes: Time

    @field_validator("closes")
    @classmethod
    def _closes_after_opens(cls, closes: str, info: ValidationInfo) -> str:
        opens = info.data.get("opens")
        if opens is not None and closes <= opens:
            raise problem("closes must be after opens")
        return closes


@dataclass(config=CONFIG, frozen=True, slots=True)
class Department:
    code: Key40
    name: Text200
    phone: OptionalText40 = None
    email: OptionalText200 = None
    address: OptionalText300 = None
    web: OptionalText300 = None
    phone_hours: list[PhoneHours] | None = None


@dataclass(config=CONFIG, frozen=True, slots=True)
class Entry:
    """A posting on the claim's statement. ``id`` is the source's id (stored as ``external_ref``)."""

    id: Key80
    posted_on: Day
    kind: EntryKindName
    text: Text300
    amount: SignedAmount
    component: ComponentName | None = None

    @field_validator("amount")
    @classmethod
    def _sign_fits_kind(cls, amount: int, info: ValidationInfo) -> int:
        kind = info.data.get("kind")
        if kind == EntryKind.PAYMENT and amount > 0:
            raise problem("a PAYMENT must be negative")
        if kind in POSITIVE_KINDS and amount < 0:
            raise problem(f"a {kind} must be positive (use an ADJUSTMENT to reduce a claim)")
        return amount

    @field_validator("component")
    @classmethod
    def _component_fits_kind(cls, component: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if component is not None and kind is not None and kind not in COMPONENT_KINDS:
            raise problem("component is only allowed on PAYMENT and ADJUSTMENT entries")
        return component


@dataclass(config=CONFIG, frozen=True, slots=True)
class Claim:
    reference: Key40
    department: Key40
    title: Text300
    kind: ClaimKindName
    issued_on: Day
    due_on: Day
    original_amount: Amount
    entries: list[Entry]

    @field_validator("due_on")
    @classmethod
    def _due_after_issue(cls, due_on: date, info: ValidationInfo) -> date:
        issued_on = info.data.get("issued_on")
        if issued_on is not None and due_on < issued_on:
            raise problem("dueOn before issuedOn")
        return due_on


@dataclass(config=CONFIG, frozen=True, slots=True)
class MobilePayAccount:
    """A citizen's MobilePay account as the payment provider knows it (``providerRef``: its opaque id)."""

    provider_ref: ProviderRef
    name: Text100
    masked_number: MaskedNumber
    is_default: StrictBool = False


@dataclass(config=CONFIG, frozen=True, slots=True)
class Citizen:
    cpr: CprNumber
    name: Text200
    claims: list[Claim]
    mobile_pay_accounts: list[MobilePayAccount] | None = None  # absent: the stored accounts are left alone

    @field_validator("mobile_pay_accounts")
    @classmethod
    def _one_default(cls, accounts: list[MobilePayAccount] | None) -> list[MobilePayAccount] | None:
        if accounts and sum(a.is_default for a in accounts) > 1:
            raise problem("at most one account can be the default")
        return accounts


@dataclass(config=CONFIG, frozen=True, slots=True)
class ImportDocument:
    format: Annotated[str, PlainValidator(_format)]
    version: Annotated[int, PlainValidator(_version)]
    exported_at: Annotated[datetime, PlainValidator(parse_exported_at)]
    departments: list[Department]
    citizens: list[Citizen]
