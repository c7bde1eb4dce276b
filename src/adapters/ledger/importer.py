"""``gateway import FILE.json``: load departments, citizens, claims and ledger entries from the
municipality's debtor system (format: docs/import-format.md).

Two phases:
1. Validate the whole document and collect every problem with its JSON path
   (``citizens[3].claims[0].entries[2].amount``). Then, in the write transaction, check it against the
   database (department codes, claim references owned by another citizen, entry ids used by the gateway).
2. Only if there is no problem at all: upsert everything in that ONE transaction (all or nothing), with
   batched statements. Re-importing the same file changes nothing.

A CPR number is never part of a problem's message or location (the citizen's index is), and database
error texts (which may quote key values) are never passed on.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger import versions
from adapters.ledger.db import Database
from gateway.domain.allocation import Component
from gateway.domain.claims import ClaimKind, EntryKind
from gateway.domain.clock import utcnow
from gateway.domain.cpr import Cpr, InvalidCpr
from gateway.domain.money import MAX_INPUT_OERE, InvalidAmount, parse_oere, to_decimal_string

FORMAT_NAME = "betalingsoverblik-import"
FORMAT_VERSION = 1

_IN_CHUNK = 1000  # keys per IN (...) list
_ROW_BATCH = 5000  # rows per executemany
_CLAIM_CHUNK = 1000  # claims whose entries are reconciled together
_ANALYZE_AFTER_ROWS = 10_000  # PostgreSQL: refresh planner statistics after creating this many rows

_departments = m.table(m.Department)
_citizens = m.table(m.Citizen)
_claims = m.table(m.Claim)
_entries = m.table(m.LedgerEntry)

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_POSITIVE_KINDS = {EntryKind.CHARGE.value, EntryKind.INTEREST.value, EntryKind.FEE.value}
_COMPONENT_KINDS = {EntryKind.PAYMENT.value, EntryKind.ADJUSTMENT.value}
_PAYMENT = EntryKind.PAYMENT.value
_CLAIM_KINDS = tuple(k.value for k in ClaimKind)
_ENTRY_KINDS = tuple(k.value for k in EntryKind)
_COMPONENTS = tuple(c.value for c in Component)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_AMOUNT = re.compile(r"^-?\d+(\.\d{1,2})?$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CPR_LIKE = re.compile(r"\d{6}-?\d{4}")

_TOP_FIELDS = ("format", "version", "exportedAt", "departments", "citizens")
_DEPARTMENT_REQUIRED = ("code", "name")
_DEPARTMENT_OPTIONAL = ("phone", "email", "address", "web", "phoneHours")
_HOURS_FIELDS = ("weekday", "opens", "closes")
_CITIZEN_FIELDS = ("cpr", "name", "claims")
_CLAIM_FIELDS = ("reference", "department", "title", "kind", "issuedOn", "dueOn", "originalAmount", "entries")
_ENTRY_REQUIRED = ("id", "postedOn", "kind", "text", "amount")
_ENTRY_OPTIONAL = ("component",)

T = TypeVar("T")


# --------------------------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One problem: where (a JSON path, or ``line L, column C`` for unreadable JSON) and what."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(slots=True)
class RowCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


@dataclass(slots=True)
class ImportCounts:
    departments: RowCounts = field(default_factory=RowCounts)
    citizens: RowCounts = field(default_factory=RowCounts)
    claims: RowCounts = field(default_factory=RowCounts)
    entries: RowCounts = field(default_factory=RowCounts)


@dataclass(slots=True)
class ImportReport:
    """The outcome. If ``problems`` is not empty, nothing was written and ``counts`` are all zero."""

    problems: list[ImportProblem] = field(default_factory=list)
    counts: ImportCounts = field(default_factory=ImportCounts)
    exported_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.problems:
            return f"import refused: {len(self.problems)} problem(s); nothing was written"
        c = self.counts

        def part(name: str, rc: RowCounts, *, deleted: bool = False) -> str:
            text = f"{name}: {rc.created} created, {rc.updated} updated, {rc.unchanged} unchanged"
            return text + (f", {rc.deleted} deleted" if deleted else "")

        exported = f" (exported {self.exported_at.isoformat()})" if self.exported_at else ""
        return f"import done{exported}; " + "; ".join(
            [
                part("departments", c.departments),
                part("citizens", c.citizens),
                part("claims", c.claims),
                part("entries", c.entries, deleted=True),
            ]
        )


# ------------------------------------------------------------------------------------ validated data


@dataclass(slots=True)
class _Department:
    location: str
    code: str
    values: dict[str, Any]  # name, phone, email, address, web, phone_hours


@dataclass(slots=True)
class _Entry:
    location: str
    external_ref: str
    posted_on: date
    kind: str
    component: str | None
    text: str
    amount_oere: int

    def values(self) -> dict[str, Any]:
        return {
            "posted_on": self.posted_on,
            "kind": self.kind,
            "component": self.component,
            "text": self.text,
            "amount_oere": self.amount_oere,
        }


@dataclass(slots=True)
class _Claim:
    location: str
    reference: str
    department: str
    title: str
    kind: str
    issued_on: date
    due_on: date
    original_amount_oere: int
    entries: list[_Entry]

    def values(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "kind": self.kind,
            "issued_on": self.issued_on,
            "due_on": self.due_on,
            "original_amount_oere": self.original_amount_oere,
        }


@dataclass(slots=True)
class _Citizen:
    location: str
    cpr: str  # ten digits; "" if invalid (then there are problems and nothing is written)
    name: str
    claims: list[_Claim]


@dataclass(slots=True)
class _Document:
    exported_at: datetime | None = None
    departments: list[_Department] = field(default_factory=list)
    citizens: list[_Citizen] = field(default_factory=list)


# ---------------------------------------------------------------------------------------- JSON input


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers keys that appeared more than once (``json`` keeps the last)."""

    duplicate_keys: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    duplicates: list[str] = []
    for key, value in pairs:
        if key in obj:
            duplicates.append(key)
        obj[key] = value
    obj.duplicate_keys = duplicates
    return obj


def parse_json(data: bytes) -> tuple[object, list[ImportProblem]]:
    """Decode and parse a file's bytes. Problems carry ``line L, column C``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1  # in characters
        return None, [ImportProblem(f"line {line}, column {column}", "the file is not valid UTF-8")]
    try:
        return json.loads(text, object_pairs_hook=_object_pairs), []
    except json.JSONDecodeError as exc:
        # exc.msg is the parser's description only (it never quotes the document).
        return None, [ImportProblem(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")]
    except RecursionError:
        return None, [ImportProblem("$", "invalid JSON: nested too deeply")]


def _shown(value: str, limit: int = 60) -> str:
    """A value quoted for a message: CPR-like digit runs masked, non-printable characters replaced."""
    text = _CPR_LIKE.sub("**********", value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(text) > limit:
        text = text[:limit] + "…"
    return f"'{text}'"


def _join(location: str, key: str) -> str:
    if _IDENT.match(key):
        return f"{location}.{key}" if location else key
    return f"{location}[{_shown(key)}]"


def _index(location: str, i: int) -> str:
    return f"{location}[{i}]"


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# ----------------------------------------------------------------------------------------- validation


@functools.lru_cache(maxsize=65536)
def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=65536)
def _parse_amount(text: str, signed: bool) -> int | str:
    """Øre, or InvalidAmount's reason. Entry amounts are signed and never zero; other amounts >= 0."""
    try:
        return parse_oere(text, allow_zero=not signed, allow_negative=signed)
    except InvalidAmount as exc:
        return exc.reason


class _Validator:
    def __init__(self) -> None:
        self.problems: list[ImportProblem] = []

    def add(self, location: str, message: str) -> None:
        self.problems.append(ImportProblem(location or "$", message))

    # -- shapes

    def fields(
        self, value: object, location: str, required: Sequence[str], optional: Sequence[str] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(location, f"must be an object, not {_type_name(value)}")
            return None
        known = (*required, *optional)
        for key in getattr(value, "duplicate_keys", ()):
            self.add(_join(location, key), "field appears more than once")
        for key in value:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.add(_join(location, str(key)), f"unknown field{hint}")
        for key in required:
            if key not in value:
                self.add(_join(location, key), "required field is missing")
        return value

    def array(self, obj: dict[str, Any], key: str, location: str) -> list[Any]:
        if key not in obj:
            return []
        value = obj[key]
        if not isinstance(value, list):
            self.add(_join(location, key), f"must be an array, not {_type_name(value)}")
            return []
        return value

    def string(self, obj: dict[str, Any], key: str, location: str, *, max_len: int, identifier: bool = False) -> str:
        """A required, non-blank string ("" if absent or invalid). Identifiers may not be padded."""
        if key not in obj:
            return ""
        value = obj[key]
        if not isinstance(value, str):
            self.add(_join(location, key), f"must be a string, not {_type_name(value)}")
            return ""
        if not value.strip():
            self.add(_join(location, key), "must not be empty")
            return ""
        if identifier and value != value.strip():
            self.add(_join(location, key), "must not start or end with whitespace")
            return ""
        text = value if identifier else value.strip()
        if len(text) > max_len:
            self.add(_join(location, key), f"must be at most {max_len} characters")
            return ""
        return text

    def optional_string(self, obj: dict[str, Any], key: str, location: str, *, max_len: int) -> str | None:
        if obj.get(key) is None:
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.add(_join(location, key), f"must be a string or null, not {_type_name(value)}")
            return None
        text = value.strip()
        if len(text) > max_len:
            self.add(_join(location, key), f"must be at most {max_len} characters")
            return None
        return text or None

    def choice(self, obj: dict[str, Any], key: str, location: str, allowed: tuple[str, ...], what: str) -> str:
        if key not in obj:
            return ""
        value = obj[key]
        if not isinstance(value, str):
            self.add(_join(location, key), f"must be a string, not {_type_name(value)}")
            return ""
        if value not in allowed:
            self.add(_join(location, key), f"unknown {what} {_shown(value)} (expected one of {', '.join(allowed)})")
            return ""
        return value

    def day(self, obj: dict[str, Any], key: str, location: str) -> date | None:
        if key not in obj:
            return None
        value = obj[key]
        if not isinstance(value, str) or not _DATE.match(value):
            self.add(_join(location, key), 'must be a date "YYYY-MM-DD"')
            return None
        parsed = _parse_date(value)
        if parsed is None:
            self.add(_join(location, key), f"{_shown(value)} is not a valid date")
        return parsed

    def amount(self, obj: dict[str, Any], key: str, location: str, *, signed: bool) -> int | None:
        if key not in obj:
            return None
        value = obj[key]
        example = '"-250.00"' if signed else '"1234.50"'
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.add(_join(location, key), f"must be a decimal string such as {example}, not a JSON number")
            return None
        if not isinstance(value, str) or not _AMOUNT.match(value):
            self.add(_join(location, key), "must be a decimal string with at most two decimals")
            return None
        parsed = _parse_amount(value, signed)
        if isinstance(parsed, str):
            message = {
                "NEGATIVE": "must not be negative",
                "ZERO": "must not be zero",
            }.get(parsed, f"must be at most {to_decimal_string(MAX_INPUT_OERE)}")
            self.add(_join(location, key), message)
            return None
        return parsed

    # -- the document

    def document(self, value: object) -> _Document:
        doc = _Document()
        top = self.fields(value, "", _TOP_FIELDS)
        if top is None:
            return doc
        if "format" in top and top["format"] != FORMAT_NAME:
            self.add("format", f'must be "{FORMAT_NAME}"')
            return doc  # another kind of file: checking it against this format would only make noise
        if "version" in top:
            version = top["version"]
            if isinstance(version, bool) or version != FORMAT_VERSION:
                self.add("version", f"unsupported version (this gateway reads version {FORMAT_VERSION})")
                return doc
        if "exportedAt" in top:
            exported = top["exportedAt"]
            if isinstance(exported, str) and _DATETIME.match(exported):
                try:
                    doc.exported_at = datetime.fromisoformat(exported.replace("Z", "+00:00"))
                except ValueError:
                    self.add("exportedAt", "is not a valid date-time")
            else:
                self.add("exportedAt", 'must be a date-time with a time zone, e.g. "2025-11-03T06:00:00+01:00"')
        doc.departments = self.departments(self.array(top, "departments", ""))
        doc.citizens = self.citizens(self.array(top, "citizens", ""))
        return doc

    def departments(self, items: list[Any]) -> list[_Department]:
        result: list[_Department] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(items):
            loc = _index("departments", i)
            obj = self.fields(item, loc, _DEPARTMENT_REQUIRED, _DEPARTMENT_OPTIONAL)
            if obj is None:
                continue
            code = self.string(obj, "code", loc, max_len=40, identifier=True)
            if code:
                if code in seen:
                    self.add(_join(loc, "code"), f"duplicate department code {_shown(code)} (first at {seen[code]})")
                else:
                    seen[code] = loc
            values = {
                "name": self.string(obj, "name", loc, max_len=200),
                "phone": self.optional_string(obj, "phone", loc, max_len=40),
                "email": self.optional_string(obj, "email", loc, max_len=200),
                "address": self.optional_string(obj, "address", loc, max_len=300),
                "web": self.optional_string(obj, "web", loc, max_len=300),
                "phone_hours": self.phone_hours(obj, loc),
            }
            result.append(_Department(loc, code, values))
        return result

    def phone_hours(self, obj: dict[str, Any], location: str) -> list[dict[str, str]]:
        if obj.get("phoneHours") is None:
            return []
        hours: list[dict[str, str]] = []
        base = _join(location, "phoneHours")
        for i, item in enumerate(self.array(obj, "phoneHours", location)):
            loc = _index(base, i)
            h = self.fields(item, loc, _HOURS_FIELDS)
            if h is None:
                continue
            weekday = self.choice(h, "weekday", loc, WEEKDAYS, "weekday")
            times: dict[str, str] = {}
            for key in ("opens", "closes"):
                if key not in h:
                    continue
                if isinstance(h[key], str) and _TIME.match(h[key]):
                    times[key] = h[key]
                else:
                    self.add(_join(loc, key), 'must be a time "HH:MM" (24-hour clock)')
            if len(times) == 2 and times["closes"] <= times["opens"]:
                self.add(_join(loc, "closes"), "closes must be after opens")
            hours.append({"weekday": weekday, "opens": times.get("opens", ""), "closes": times.get("closes", "")})
        return hours

    def citizens(self, items: list[Any]) -> list[_Citizen]:
        result: list[_Citizen] = []
        cprs: dict[str, str] = {}
        references: dict[str, str] = {}
        for i, item in enumerate(items):
            loc = _index("citizens", i)
            obj = self.fields(item, loc, _CITIZEN_FIELDS)
            if obj is None:
                continue
            cpr = ""
            if "cpr" in obj:
                raw = obj["cpr"]
                if not isinstance(raw, str):
                    self.add(_join(loc, "cpr"), f"must be a string, not {_type_name(raw)}")
                else:
                    try:
                        cpr = Cpr(raw).value
                    except InvalidCpr:
                        self.add(_join(loc, "cpr"), "invalid CPR number")
            if cpr:
                if cpr in cprs:
                    self.add(_join(loc, "cpr"), f"duplicate CPR number (same as {cprs[cpr]})")
                else:
                    cprs[cpr] = loc
            name = self.string(obj, "name", loc, max_len=200)
            claims = [
                self.claim(claim, _index(_join(loc, "claims"), j), references)
                for j, claim in enumerate(self.array(obj, "claims", loc))
            ]
            result.append(_Citizen(loc, cpr, name, [c for c in claims if c is not None]))
        return result

    def claim(self, item: object, loc: str, references: dict[str, str]) -> _Claim | None:
        obj = self.fields(item, loc, _CLAIM_FIELDS)
        if obj is None:
            return None
        reference = self.string(obj, "reference", loc, max_len=40, identifier=True)
        if reference:
            if reference in references:
                self.add(
                    _join(loc, "reference"),
                    f"duplicate claim reference {_shown(reference)} (first at {references[reference]})",
                )
            else:
                references[reference] = loc
        department = self.string(obj, "department", loc, max_len=40, identifier=True)
        title = self.string(obj, "title", loc, max_len=300)
        kind = self.choice(obj, "kind", loc, _CLAIM_KINDS, "claim kind")
        issued_on = self.day(obj, "issuedOn", loc)
        due_on = self.day(obj, "dueOn", loc)
        if issued_on and due_on and due_on < issued_on:
            self.add(_join(loc, "dueOn"), "dueOn before issuedOn")
        original = self.amount(obj, "originalAmount", loc, signed=False)
        entries: list[_Entry] = []
        ids: dict[str, str] = {}
        base = _join(loc, "entries")
        for k, raw in enumerate(self.array(obj, "entries", loc)):
            entry = self.entry(raw, _index(base, k))
            if entry is None:
                continue
            if entry.external_ref:
                if entry.external_ref in ids:
                    self.add(
                        _join(entry.location, "id"),
                        f"duplicate entry id {_shown(entry.external_ref)} in this claim"
                        f" (first at {ids[entry.external_ref]})",
                    )
                else:
                    ids[entry.external_ref] = entry.location
            entries.append(entry)
        return _Claim(
            loc,
            reference,
            department,
            title,
            kind,
            issued_on or date.min,
            due_on or date.min,
            original if original is not None else 0,
            entries,
        )

    def entry(self, item: object, loc: str) -> _Entry | None:
        obj = self.fields(item, loc, _ENTRY_REQUIRED, _ENTRY_OPTIONAL)
        if obj is None:
            return None
        external_ref = self.string(obj, "id", loc, max_len=80, identifier=True)
        posted_on = self.day(obj, "postedOn", loc)
        kind = self.choice(obj, "kind", loc, _ENTRY_KINDS, "entry kind")
        text = self.string(obj, "text", loc, max_len=300)
        amount = self.amount(obj, "amount", loc, signed=True)
        if amount is not None and kind:
            if kind == _PAYMENT and amount > 0:
                self.add(_join(loc, "amount"), "a PAYMENT must be negative")
            elif kind in _POSITIVE_KINDS and amount < 0:
                self.add(_join(loc, "amount"), f"a {kind} must be positive (use an ADJUSTMENT to reduce a claim)")
        component: str | None = None
        if obj.get("component") is not None:
            component = self.choice(obj, "component", loc, _COMPONENTS, "component") or None
            if component and kind and kind not in _COMPONENT_KINDS:
                self.add(_join(loc, "component"), "component is only allowed on PAYMENT and ADJUSTMENT entries")
        return _Entry(loc, external_ref, posted_on or date.min, kind, component, text, amount or 0)


def validate_document(document: object) -> list[ImportProblem]:
    """The problems of a parsed document on its own (without the checks against the database)."""
    validator = _Validator()
    validator.document(document)
    return validator.problems


# ------------------------------------------------------------------------------------------ database


class _Refused(Exception):
    """Raised inside the transaction to roll it back."""


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _all_claims(doc: _Document) -> Iterator[tuple[_Citizen, _Claim]]:
    for citizen in doc.citizens:
        for claim in citizen.claims:
            yield citizen, claim


async def _check_against_database(conn: AsyncConnection, doc: _Document) -> list[ImportProblem]:
    problems: list[ImportProblem] = []
    known_departments = {d.code for d in doc.departments if d.code}
    known_departments.update((await conn.execute(select(_departments.c.code))).scalars())
    for _, claim in _all_claims(doc):
        if claim.department and claim.department not in known_departments:
            problems.append(
                ImportProblem(
                    _join(claim.location, "department"), f"unknown department code {_shown(claim.department)}"
                )
            )

    owners = {claim.reference: citizen.cpr for citizen, claim in _all_claims(doc) if claim.reference}
    by_reference = {claim.reference: claim for _, claim in _all_claims(doc) if claim.reference}
    foreign: set[str] = set()
    gateway_refs: set[tuple[str, str]] = set()
    references = list(owners)
    for chunk in _chunks(references, _IN_CHUNK):
        stored: dict[int, str] = {}
        owned = await conn.execute(
            select(_claims.c.id, _claims.c.reference, _citizens.c.cpr)
            .join(_citizens, _citizens.c.id == _claims.c.citizen_id)
            .where(_claims.c.reference.in_(chunk))
        )
        for claim_id, reference, cpr in owned:
            stored[claim_id] = reference
            owner = owners[reference]
            if owner and owner != cpr:
                foreign.add(reference)
        if not stored:
            continue
        # By claim id, so PostgreSQL uses the (claim_id, ...) index instead of scanning all entries.
        used = await conn.execute(
            select(_entries.c.claim_id, _entries.c.external_ref).where(
                _entries.c.claim_id.in_(list(stored)),
                _entries.c.payment_id.is_not(None),
                _entries.c.external_ref.is_not(None),
            )
        )
        gateway_refs.update((stored[claim_id], external_ref) for claim_id, external_ref in used)
    for reference in references:  # in document order
        claim = by_reference[reference]
        if reference in foreign:
            problems.append(
                ImportProblem(
                    _join(claim.location, "reference"),
                    f"claim reference {_shown(reference)} already belongs to another citizen",
                )
            )
        for entry in claim.entries:
            if (reference, entry.external_ref) in gateway_refs:
                problems.append(
                    ImportProblem(
                        _join(entry.location, "id"),
                        f"entry id {_shown(entry.external_ref)} is already used by a payment the gateway recorded",
                    )
                )
    return problems


async def _upsert_departments(conn: AsyncConnection, doc: _Document, counts: RowCounts) -> dict[str, int]:
    columns = ("name", "phone", "email", "address", "web", "phone_hours")
    existing = {
        row.code: row
        for row in await conn.execute(
            select(_departments.c.id, _departments.c.code, *(_departments.c[c] for c in columns))
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for d in doc.departments:
        row: Any = existing.get(d.code)
        if row is None:
            inserts.append({"code": d.code, **d.values})
        elif any(getattr(row, c) != d.values[c] for c in columns):
            updates.append({"b_id": row.id, **d.values})
        else:
            counts.unchanged += 1
    if inserts:
        await conn.execute(insert(_departments), inserts)
    if updates:
        await conn.execute(update(_departments).where(_departments.c.id == bindparam("b_id")), updates)
    counts.created += len(inserts)
    counts.updated += len(updates)
    rows = await conn.execute(select(_departments.c.code, _departments.c.id))
    return {code: id_ for code, id_ in rows}  # noqa: C416 - typed dict of rows


async def _upsert_citizens(
    conn: AsyncConnection, doc: _Document, counts: RowCounts, now: datetime, changed: set[int]
) -> dict[str, int]:
    ids: dict[str, int] = {}
    names: dict[str, str] = {}
    cprs = [c.cpr for c in doc.citizens]
    for chunk in _chunks(cprs, _IN_CHUNK):
        for id_, cpr, name in await conn.execute(
            select(_citizens.c.id, _citizens.c.cpr, _citizens.c.name).where(_citizens.c.cpr.in_(chunk))
        ):
            ids[cpr] = id_
            names[cpr] = name
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for c in doc.citizens:
        if c.cpr not in ids:
            inserts.append({"cpr": c.cpr, "name": c.name, "created_at": now, "updated_at": now})
        elif names[c.cpr] != c.name:
            updates.append({"b_id": ids[c.cpr], "name": c.name, "updated_at": now})
            changed.add(ids[c.cpr])
        else:
            counts.unchanged += 1
    for batch in _chunks(inserts, _ROW_BATCH):
        result = await conn.execute(insert(_citizens).returning(_citizens.c.id, _citizens.c.cpr), list(batch))
        ids.update({cpr: id_ for id_, cpr in result})
    for batch in _chunks(updates, _ROW_BATCH):
        await conn.execute(update(_citizens).where(_citizens.c.id == bindparam("b_id")), list(batch))
    counts.created += len(inserts)
    counts.updated += len(updates)
    return ids


async def _upsert_claims(
    conn: AsyncConnection,
    doc: _Document,
    citizen_ids: dict[str, int],
    department_ids: dict[str, int],
    counts: RowCounts,
    now: datetime,
    changed: set[int],
) -> tuple[dict[str, int], set[int]]:
    """Returns claim ids by reference and the ids of claims that existed before (they may have entries)."""
    columns = ("department_id", "title", "kind", "issued_on", "due_on", "original_amount_oere")
    existing: dict[str, Any] = {}
    references = [claim.reference for _, claim in _all_claims(doc)]
    for chunk in _chunks(references, _IN_CHUNK):
        for found in await conn.execute(
            select(_claims.c.id, _claims.c.reference, *(_claims.c[c] for c in columns)).where(
                _claims.c.reference.in_(chunk)
            )
        ):
            existing[found.reference] = found
    ids = {reference: row.id for reference, row in existing.items()}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for citizen, claim in _all_claims(doc):
        values = {"department_id": department_ids[claim.department], **claim.values()}
        row: Any = existing.get(claim.reference)
        if row is None:
            inserts.append(
                {
                    "reference": claim.reference,
                    "citizen_id": citizen_ids[citizen.cpr],
                    "created_at": now,
                    "updated_at": now,
                    **values,
                }
            )
        elif any(getattr(row, c) != values[c] for c in columns):
            updates.append({"b_id": row.id, "updated_at": now, **values})
            changed.add(row.id)
        else:
            counts.unchanged += 1
    for batch in _chunks(inserts, _ROW_BATCH):
        result = await conn.execute(insert(_claims).returning(_claims.c.id, _claims.c.reference), list(batch))
        created = {reference: id_ for id_, reference in result}
        ids.update(created)
        changed.update(created.values())
    for batch in _chunks(updates, _ROW_BATCH):
        await conn.execute(update(_claims).where(_claims.c.id == bindparam("b_id")), list(batch))
    counts.created += len(inserts)
    counts.updated += len(updates)
    return ids, {row.id for row in existing.values()}


async def _sync_entries(
    conn: AsyncConnection,
    doc: _Document,
    claim_ids: dict[str, int],
    existing_claims: set[int],
    counts: RowCounts,
    now: datetime,
    changed: set[int],
) -> None:
    """Make each imported claim's source entries mirror the file. Entries the gateway created itself
    (``payment_id`` set or ``external_ref`` NULL) are never touched."""
    columns = ("posted_on", "kind", "component", "text", "amount_oere")
    claims = [claim for _, claim in _all_claims(doc)]
    for chunk in _chunks(claims, _CLAIM_CHUNK):
        old_ids = [claim_ids[c.reference] for c in chunk if claim_ids[c.reference] in existing_claims]
        stored: dict[tuple[int, str], Any] = {}
        if old_ids:
            for found in await conn.execute(
                select(_entries.c.id, _entries.c.claim_id, _entries.c.external_ref, *(_entries.c[c] for c in columns))
                .where(_entries.c.claim_id.in_(old_ids))
                .where(_entries.c.external_ref.is_not(None), _entries.c.payment_id.is_(None))
            ):
                stored[(found.claim_id, found.external_ref)] = found
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        seen: set[tuple[int, str]] = set()
        for claim in chunk:
            claim_id = claim_ids[claim.reference]
            for entry in claim.entries:
                key = (claim_id, entry.external_ref)
                seen.add(key)
                values = entry.values()
                row: Any = stored.get(key)
                if row is None:
                    changed.add(claim_id)
                    inserts.append(
                        {
                            "claim_id": claim_id,
                            "external_ref": entry.external_ref,
                            "payment_id": None,
                            "created_at": now,
                            **values,
                        }
                    )
                elif any(getattr(row, c) != values[c] for c in columns):
                    updates.append({"b_id": row.id, **values})
                    changed.add(claim_id)
                else:
                    counts.unchanged += 1
        stale = [row.id for key, row in stored.items() if key not in seen]
        changed.update(claim_id for claim_id, external_ref in stored if (claim_id, external_ref) not in seen)
        for id_chunk in _chunks(stale, _IN_CHUNK):
            await conn.execute(delete(_entries).where(_entries.c.id.in_(id_chunk)))
        for batch in _chunks(updates, _ROW_BATCH):
            await conn.execute(update(_entries).where(_entries.c.id == bindparam("b_id")), list(batch))
        for batch in _chunks(inserts, _ROW_BATCH):
            await conn.execute(insert(_entries), list(batch))
        counts.created += len(inserts)
        counts.updated += len(updates)
        counts.deleted += len(stale)


async def import_document(db: Database, document: object) -> ImportReport:
    """Validate a parsed document completely, then import it all-or-nothing in one transaction."""
    validator = _Validator()
    doc = validator.document(document)
    report = ImportReport(problems=list(validator.problems), exported_at=doc.exported_at)
    counts = ImportCounts()
    try:
        async with db.transaction() as conn:
            report.problems.extend(await _check_against_database(conn, doc))
            if report.problems:
                raise _Refused
            now = utcnow()
            department_ids = await _upsert_departments(conn, doc, counts.departments)
            changed_citizens: set[int] = set()
            changed_claims: set[int] = set()
            citizen_ids = await _upsert_citizens(conn, doc, counts.citizens, now, changed_citizens)
            claim_ids, existing_claims = await _upsert_claims(
                conn, doc, citizen_ids, department_ids, counts.claims, now, changed_claims
            )
            await _sync_entries(conn, doc, claim_ids, existing_claims, counts.entries, now, changed_claims)
            # Invalidate the citizens' cached responses (adapters.ledger.versions), in this transaction.
            if counts.departments.updated:
                await versions.bump_all(conn)  # contact details every citizen can see
            else:
                for citizen_chunk in _chunks(sorted(changed_citizens), _IN_CHUNK):
                    await versions.bump(conn, citizens=citizen_chunk)
                for claim_chunk in _chunks(sorted(changed_claims), _IN_CHUNK):
                    await versions.bump(conn, claims=claim_chunk)
            created = counts.citizens.created + counts.claims.created + counts.entries.created
            if not db.sqlite and created >= _ANALYZE_AFTER_ROWS:
                # After a bulk load PostgreSQL's planner statistics are stale until autovacuum analyzes the
                # tables; meanwhile it seq-scans claims for `reference IN (...)` (minutes for the next import).
                await conn.execute(sql_text("ANALYZE citizens, claims, ledger_entries"))
    except _Refused:
        return report
    except IntegrityError:
        # A concurrent writer created a conflicting row. The driver's text may quote key values (a CPR),
        # so it is not passed on.
        report.problems.append(
            ImportProblem("$", "the database changed during the import; nothing was written, run the import again")
        )
        return report
    report.counts = counts
    return report


async def run_import_file(database_url: str, path: Path) -> ImportReport:
    """Read, validate and import one file (what ``gateway import FILE`` does)."""
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        return ImportReport(problems=[ImportProblem("file", f"cannot read the file: {exc.strerror or 'error'}")])
    document, problems = parse_json(data)
    if problems:
        return ImportReport(problems=problems)
    db = Database(database_url)
    try:
        return await import_document(db, document)
    finally:
        await db.dispose()
