"""Validating a parsed document: every problem, with its JSON path, in document order.

1. pydantic validates the document against schema.py. Its errors are translated into the format's own
   messages; the input value is never taken from pydantic's texts, only its type (``not a number``).
2. A second pass over the same JSON checks what involves more than one record (keys given twice, duplicate
   department codes, CPR numbers, claim references, entry ids and provider references) and collects the
   keys that write.py checks against the database. It runs on a document with problems too, using only
   values that passed step 1, so one run reports everything.

Problems are sorted the way a reader goes through the file: for each object, keys given twice, then unknown
fields, then missing ones, then each field's own problems in the format's field order.
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Union, get_args, get_origin

from pydantic import TypeAdapter, ValidationError
from pydantic.dataclasses import is_pydantic_dataclass
from pydantic_core import ErrorDetails

from adapters.ledger.importer.jsonfile import duplicate_keys
from adapters.ledger.importer.report import ImportProblem, location, shown, type_name
from adapters.ledger.importer.schema import WRONG_FORMAT, ImportDocument, parse_exported_at
from gateway.domain.cpr import Cpr

Path = tuple[str | int, ...]
Record = type[Any]  # a record type of schema.py (a pydantic dataclass)

_DOCUMENT = TypeAdapter(ImportDocument)

# Where a problem sorts among its object's problems.
_DUPLICATE, _UNKNOWN, _MISSING, _VALUE, _LATE = range(5)


class _Found(NamedTuple):
    path: Path
    category: int
    message: str


@dataclass(slots=True)
class ClaimKey:
    """What the database checks need of one claim; "" where the file's value is not valid."""

    path: Path
    reference: str
    department: str
    owner: str  # the citizen's CPR
    entry_ids: list[str | None]  # by index in ``entries``


@dataclass(slots=True)
class AccountKey:
    path: Path
    provider_ref: str
    owner: str


@dataclass(slots=True)
class Validation:
    """The outcome of validating a document; ``document`` is set only if there is no problem."""

    problems: list[ImportProblem]
    document: ImportDocument | None = None
    exported_at: datetime | None = None
    department_codes: set[str] = field(default_factory=set)
    claims: list[ClaimKey] = field(default_factory=list)
    accounts: list[AccountKey] = field(default_factory=list)


def validate(raw: object) -> Validation:
    """Validate a parsed JSON document (or one built in Python) completely."""
    try:
        document: ImportDocument | None = _DOCUMENT.validate_python(raw)
        errors: list[ErrorDetails] = []
    except ValidationError as exc:
        document = None
        errors = exc.errors(include_url=False)
    found = [_translate(error) for error in errors]
    if not isinstance(raw, dict):
        return Validation([ImportProblem(location(f.path), f.message) for f in found])
    top_duplicates = [_Found((key,), _DUPLICATE, "field appears more than once") for key in duplicate_keys(raw)]
    wrong = next((f for f, e in zip(found, errors, strict=True) if e["type"] == WRONG_FORMAT), None)
    if wrong is not None:
        # Another kind of file (or version): checking the rest against these rules would only make noise.
        found = [*top_duplicates, *(f for f in found if len(f.path) == 1 and f.category < _VALUE), wrong]
        return Validation(_sorted(found))
    result = Validation([])
    bad = {tuple(error["loc"]) for error in errors}
    found.extend(top_duplicates)
    found.extend(_CrossCheck(result, bad).document(raw))
    result.problems = _sorted(found)
    if document is not None:
        result.exported_at = document.exported_at
        result.document = None if result.problems else document
    elif "exportedAt" in raw and ("exportedAt",) not in bad:
        result.exported_at = parse_exported_at(raw["exportedAt"])
    return result


def validate_document(document: object) -> list[ImportProblem]:
    """The problems of a parsed document on its own (without the checks against the database)."""
    return validate(document).problems


# ------------------------------------------------------------------------------------- the format's shape


@dataclass(frozen=True, slots=True)
class _Field:
    index: int  # in the format's field order
    child: Record | None  # the record type of an object or array field
    nullable: bool


def _record_in(annotation: Any) -> Record | None:
    if isinstance(annotation, type) and is_pydantic_dataclass(annotation):
        return annotation
    for arg in get_args(annotation):
        found = _record_in(arg)
        if found is not None:
            return found
    return None


def _schema(root: Record) -> dict[Record, dict[str, _Field]]:
    """Each record type's fields by their name in the file, read from the pydantic dataclasses."""
    result: dict[Record, dict[str, _Field]] = {}
    pending = [root]
    while pending:
        model = pending.pop()
        fields: dict[str, _Field] = {}
        for index, (name, info) in enumerate(model.__pydantic_fields__.items()):
            annotation = info.annotation
            nullable = get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)
            fields[info.alias or name] = _Field(index, _record_in(annotation), nullable)
        result[model] = fields
        pending.extend(f.child for f in fields.values() if f.child and f.child not in result)
    return result


_SCHEMA = _schema(ImportDocument)


def _fields(model: Record) -> dict[str, _Field]:
    return _SCHEMA.get(model, {})


def _record_at(path: Path) -> Record | None:
    model: Record | None = ImportDocument
    for part in path:
        if model is None:
            return None
        if isinstance(part, str):
            spec = _fields(model).get(part)
            model = spec.child if spec else None
    return model


def _sort_key(model: Record | None, path: Path, category: int) -> tuple[Any, ...]:
    if not path:
        return ()  # the object itself ("must be an object") comes before its fields
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        return (head, _sort_key(model, rest, category))
    spec = _fields(model).get(head) if model else None
    index = spec.index if spec else -1
    if rest:
        return (_VALUE, index, _sort_key(spec.child if spec else None, rest, category))
    return (_VALUE, index, ()) if category == _VALUE else (category,)


def _sorted(found: list[_Found]) -> list[ImportProblem]:
    found = sorted(found, key=lambda f: _sort_key(ImportDocument, f.path, f.category))  # stable: ties keep order
    return [ImportProblem(location(f.path), f.message) for f in found]


# ----------------------------------------------------------------------------- pydantic's errors, translated


def _translate(error: ErrorDetails) -> _Found:
    path: Path = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return _Found(path, _MISSING, "required field is missing")
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        record = _record_at(path[:-1])
        known = list(_fields(record)) if record else []
        close = difflib.get_close_matches(str(path[-1]), known, n=1)
        return _Found(path, _UNKNOWN, "unknown field" + (f" (did you mean '{close[0]}'?)" if close else ""))
    if kind in ("import", WRONG_FORMAT):
        return _Found(path, _VALUE, error["msg"])  # schema.py's own message
    what = type_name(error.get("input"))  # the type only, never the value
    ctx = error.get("ctx") or {}
    if kind in ("dataclass_type", "dataclass_exact_type", "model_type", "dict_type"):
        message = f"must be an object, not {what}"
    elif kind == "list_type":
        message = f"must be an array, not {what}"
    elif kind == "string_type":
        record = _record_at(path[:-1])
        spec = _fields(record).get(str(path[-1])) if record and path else None
        message = f"must be a string{' or null' if spec and spec.nullable else ''}, not {what}"
    elif kind == "bool_type":
        message = f"must be true or false, not {what}"
    elif kind == "string_too_short":
        message = "must not be empty"
    elif kind == "string_too_long":
        message = f"must be at most {ctx.get('max_length')} characters"
    else:  # not expected from schema.py; pydantic's text is not passed on (it was not written for this format)
        message = "is not valid"
    return _Found(path, _VALUE, message)


# -------------------------------------------------------------------------------------- across records


class _CrossCheck:
    """The second pass. Reads the raw JSON, trusting only values whose path had no problem in pydantic."""

    def __init__(self, result: Validation, bad: set[Path]) -> None:
        self.result = result
        self.bad = bad
        self.found: list[_Found] = []

    def add(self, path: Path, message: str, category: int = _VALUE) -> None:
        self.found.append(_Found(path, category, message))

    def valid(self, obj: dict[str, Any], key: str, path: Path) -> str:
        """The value of a string field that passed validation, or ""."""
        value = obj.get(key)
        if isinstance(value, str) and not (self.bad and (*path, key) in self.bad):
            return value
        return ""

    def duplicates(self, obj: object, path: Path) -> dict[str, Any] | None:
        """``obj`` if it is an object (its keys given twice reported), else None."""
        if not isinstance(obj, dict):
            return None
        for key in duplicate_keys(obj):
            self.add((*path, key), "field appears more than once", _DUPLICATE)
        return obj

    def items(self, obj: dict[str, Any], key: str, path: Path) -> list[tuple[Path, dict[str, Any]]]:
        """The objects in an array field, with their paths."""
        value = obj.get(key)
        if not isinstance(value, list):
            return []
        result = []
        for i, item in enumerate(value):
            item_path = (*path, key, i)
            checked = self.duplicates(item, item_path)
            if checked is not None:
                result.append((item_path, checked))
        return result

    def document(self, raw: dict[str, Any]) -> list[_Found]:
        codes: dict[str, str] = {}
        for path, department in self.items(raw, "departments", ()):
            code = self.valid(department, "code", path)
            if code in codes:
                self.add((*path, "code"), f"duplicate department code {shown(code)} (first at {codes[code]})")
            elif code:
                codes[code] = location(path)
            self.items(department, "phoneHours", path)  # for keys given twice
        self.result.department_codes = set(codes)
        cprs: dict[str, str] = {}
        references: dict[str, str] = {}
        provider_refs: dict[str, str] = {}
        for path, citizen in self.items(raw, "citizens", ()):
            cpr = self.valid(citizen, "cpr", path)
            if cpr:
                cpr = Cpr(cpr).value  # ten digits, as schema.py made it
                if cpr in cprs:
                    self.add((*path, "cpr"), f"duplicate CPR number (same as {cprs[cpr]})")
                else:
                    cprs[cpr] = location(path)
            for claim_path, claim in self.items(citizen, "claims", path):
                self.claim(claim_path, claim, cpr, references)
            for account_path, account in self.items(citizen, "mobilePayAccounts", path):
                self.account(account_path, account, cpr, provider_refs)
        return self.found

    def claim(self, path: Path, claim: dict[str, Any], owner: str, references: dict[str, str]) -> None:
        reference = self.valid(claim, "reference", path)
        if reference in references:
            self.add(
                (*path, "reference"), f"duplicate claim reference {shown(reference)} (first at {references[reference]})"
            )
        elif reference:
            references[reference] = location(path)
        entries = claim.get("entries")
        entry_ids: list[str | None] = []
        first: dict[str, int] = {}
        # The bulk of a file: a plain loop, paths only where something is reported.
        for i, entry in enumerate(entries if isinstance(entries, list) else ()):
            entry_id = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(entry_id, str) or not entry_id or (self.bad and (*path, "entries", i, "id") in self.bad):
                entry_id = None
            entry_ids.append(entry_id)
            if duplicate_keys(entry):
                self.duplicates(entry, (*path, "entries", i))
            if entry_id is None:
                continue
            if entry_id in first:
                self.add(
                    (*path, "entries", i, "id"),
                    f"duplicate entry id {shown(entry_id)} in this claim"
                    f" (first at {location((*path, 'entries', first[entry_id]))})",
                    _LATE,  # after the entry's other problems
                )
            else:
                first[entry_id] = i
        department = self.valid(claim, "department", path)
        self.result.claims.append(ClaimKey(path, reference, department, owner, entry_ids))

    def account(self, path: Path, account: dict[str, Any], owner: str, provider_refs: dict[str, str]) -> None:
        ref = self.valid(account, "providerRef", path)
        if not ref:
            return
        if owner and any(owner[i : i + 4] in ref for i in range(len(owner) - 3)):
            self.add((*path, "providerRef"), "must not contain digits of the citizen's CPR number")
        if ref in provider_refs:
            self.add(
                (*path, "providerRef"), f"duplicate provider reference {shown(ref)} (first at {provider_refs[ref]})"
            )
        else:
            provider_refs[ref] = location(path)
        self.result.accounts.append(AccountKey(path, ref, owner))
