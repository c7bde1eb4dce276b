"""Claim vocabulary (krav): kinds, ledger entry kinds, and the statement with its running balance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import accumulate


class ClaimKind(StrEnum):
    DAYCARE = "DAYCARE"  # forældrebetaling, dagtilbud
    PROPERTY_TAX = "PROPERTY_TAX"  # ejendomsskat
    BEBOERINDSKUDSLAAN = "BEBOERINDSKUDSLAAN"  # beboerindskudslån (pligtlån), interest-bearing
    WASTE_COLLECTION = "WASTE_COLLECTION"  # affaldsgebyr
    BENEFIT_REPAYMENT = "BENEFIT_REPAYMENT"  # tilbagebetaling af ydelser
    RENT = "RENT"  # husleje
    OTHER = "OTHER"


class EntryKind(StrEnum):
    CHARGE = "CHARGE"
    INTEREST = "INTEREST"
    FEE = "FEE"
    PAYMENT = "PAYMENT"
    ADJUSTMENT = "ADJUSTMENT"


class ClaimStatus(StrEnum):
    OPEN = "OPEN"
    PAID = "PAID"


def claim_status(outstanding_oere: int) -> ClaimStatus:
    return ClaimStatus.OPEN if outstanding_oere > 0 else ClaimStatus.PAID


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry_id: int
    posted_on: date
    kind: str
    text: str
    amount_oere: int
    balance_after_oere: int


def running_balances(amounts: Iterable[int]) -> list[int]:
    """The balance after each posting, in posting order (R2): charges, interest and fees add, payments subtract."""
    return list(accumulate(amounts))


def statement_lines(entries: Iterable[tuple[int, date, str, str, int]]) -> list[StatementLine]:
    """Entries (id, posted_on, kind, text, amount) in posting order -> lines with a running balance."""
    entries = list(entries)
    balances = running_balances(amount for *_, amount in entries)
    return [
        StatementLine(entry_id, posted_on, kind, text, amount, balance)
        for (entry_id, posted_on, kind, text, amount), balance in zip(entries, balances, strict=True)
    ]
