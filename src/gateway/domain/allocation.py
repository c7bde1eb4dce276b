"""Posting a captured payment onto claims (R3; docs/domain.md "Payments and allocation").

A payment for ticked claims covers only those claims. Across claims the oldest due date comes first
(ties broken by claim id, so the result is deterministic); within a claim fees come first, then
interest, then principal. No statute fixes this order for municipal claims outside collection; it is our
documented choice (domain.md). Nothing is ever allocated beyond what is outstanding: the rest is
returned as ``unallocated_oere`` for the caller to refuse or refund.

Pure domain logic: no I/O, integer øre only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Component(StrEnum):
    FEE = "FEE"
    INTEREST = "INTEREST"
    PRINCIPAL = "PRINCIPAL"


@dataclass(frozen=True)
class ClaimBalance:
    """The outstanding components of one ticked claim (each >= 0)."""

    claim_id: str
    due_on: date
    fees_oere: int
    interest_oere: int
    principal_oere: int

    @property
    def total_oere(self) -> int:
        return self.fees_oere + self.interest_oere + self.principal_oere


@dataclass(frozen=True)
class Allocation:
    claim_id: str
    component: Component
    amount_oere: int  # > 0


@dataclass(frozen=True)
class AllocationResult:
    allocations: tuple[Allocation, ...]  # in posting order
    unallocated_oere: int  # what exceeded the ticked claims' outstanding (>= 0)


def allocate_payment(amount_oere: int, claims: Sequence[ClaimBalance]) -> AllocationResult:
    """Allocate ``amount_oere`` over the given (ticked) claims: oldest due first; fees, interest, principal.

    Raises ValueError when the amount is not positive, a component is negative, or a claim is repeated.
    Zero-amount allocations are omitted.
    """
    if amount_oere <= 0:
        raise ValueError("amount_oere must be positive")
    ids = [c.claim_id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError("a claim may appear only once")
    for c in claims:
        if c.fees_oere < 0 or c.interest_oere < 0 or c.principal_oere < 0:
            raise ValueError(f"claim {c.claim_id}: outstanding components must not be negative")

    remaining = amount_oere
    allocations: list[Allocation] = []
    for claim in sorted(claims, key=lambda c: (c.due_on, c.claim_id)):
        for component, outstanding in (
            (Component.FEE, claim.fees_oere),
            (Component.INTEREST, claim.interest_oere),
            (Component.PRINCIPAL, claim.principal_oere),
        ):
            if remaining == 0:
                break
            take = min(remaining, outstanding)
            if take > 0:
                allocations.append(Allocation(claim.claim_id, component, take))
                remaining -= take
    return AllocationResult(tuple(allocations), remaining)


_LEDGER_KINDS = frozenset({"CHARGE", "INTEREST", "FEE", "PAYMENT", "ADJUSTMENT"})


def split_outstanding(entries: Iterable[tuple[str, int]]) -> tuple[int, int, int]:
    """Outstanding ``(fees, interest, principal)`` of one claim from its ledger entries, in posting order.

    ``entries`` are ``(kind, amount_oere)`` with kind CHARGE, INTEREST, FEE, PAYMENT or ADJUSTMENT and a
    signed amount (charges positive, payments negative).

    - A positive CHARGE/INTEREST/FEE adds to principal/interest/fees.
    - A negative CHARGE/INTEREST/FEE is a credit already *tagged* with its component (e.g. a payment whose
      allocation was recorded, or a write-off of interest): it reduces that component; any excess joins
      the untagged credit below.
    - A negative PAYMENT or ADJUSTMENT is an *untagged* credit (e.g. a payment from before allocations
      were recorded): it is applied like :func:`allocate_payment` within a claim, fees first, then
      interest, then principal.
    - A positive PAYMENT or ADJUSTMENT (a reversed payment, a correction upwards) adds to principal.

    Entries are processed in order, so a credit pays what was outstanding when it was posted; credit
    exceeding everything outstanding is carried forward and applied to later charges the same way.
    Each result is clamped at 0: a credit left over at the end (an overpayment) is not reported here.
    Raises ValueError for an unknown kind.
    """
    fees = interest = principal = 0
    credit = 0  # untagged credit not yet applied

    for kind, amount in entries:
        kind = str(kind)
        if kind not in _LEDGER_KINDS:
            raise ValueError(f"unknown ledger entry kind: {kind!r}")
        if kind in ("PAYMENT", "ADJUSTMENT"):
            if amount < 0:
                credit += -amount
            else:
                principal += amount
        elif kind == "FEE":
            fees += amount
            if fees < 0:
                credit, fees = credit - fees, 0
        elif kind == "INTEREST":
            interest += amount
            if interest < 0:
                credit, interest = credit - interest, 0
        else:  # CHARGE
            principal += amount
            if principal < 0:
                credit, principal = credit - principal, 0

        if credit:
            take = min(credit, fees)
            fees, credit = fees - take, credit - take
            take = min(credit, interest)
            interest, credit = interest - take, credit - take
            take = min(credit, principal)
            principal, credit = principal - take, credit - take

    return fees, interest, principal
