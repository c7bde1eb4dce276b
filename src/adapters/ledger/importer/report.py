"""What an import reports: problems (where and what) and row counts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Ten digits (DDMMYY-SSSS, the hyphen optional) that start with a day and a month, as every CPR number does.
CPR_LIKE = re.compile(r"(0[1-9]|[12][0-9]|3[01])(0[1-9]|1[0-2])[0-9]{2}-?[0-9]{4}")
_DIGIT_RUN = re.compile(r"[0-9][0-9-]*")


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
    mobilepay_accounts: RowCounts = field(default_factory=RowCounts)


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

        parts = [
            part("departments", c.departments),
            part("citizens", c.citizens),
            part("claims", c.claims),
            part("entries", c.entries, deleted=True),
        ]
        accounts = c.mobilepay_accounts
        if accounts.created or accounts.updated or accounts.unchanged:  # only files that list accounts
            parts.append(part("MobilePay accounts", accounts))
        exported = f" (exported {self.exported_at.isoformat()})" if self.exported_at else ""
        return f"import done{exported}; " + "; ".join(parts)


def shown(value: str, limit: int = 60) -> str:
    """A value quoted for a message: a run of digits that contains something CPR-like is masked as a whole
    (so no part of a CPR number shows), non-printable characters are replaced."""
    text = _DIGIT_RUN.sub(lambda run: "**********" if CPR_LIKE.search(run[0]) else run[0], value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(text) > limit:
        text = text[:limit] + "…"
    return f"'{text}'"


def location(path: Sequence[str | int]) -> str:
    """``("citizens", 3, "claims", 0, "title")`` -> ``citizens[3].claims[0].title``; ``$`` for the document."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text = f"{text}[{part}]"
        elif _IDENT.match(part):
            text = f"{text}.{part}" if text else part
        else:
            text = f"{text}[{shown(part)}]"
    return text or "$"


def type_name(value: object) -> str:
    """How a JSON value's type is named in a message (never the value itself)."""
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
