"""Installments of a plan and what a citizen may do with a claim (R3, R11, R14).

The pure versions of what the GraphQL layer computes for ``Installment.paid``, ``Installment.status`` and
``Claim.eligibility``, with the same results. Money is integer øre; ``today`` is always passed in.

Pure domain logic: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from gateway.domain.collection import CollectionStatus
from gateway.domain.errors import UserErrorCode


class InstallmentStatus(StrEnum):
    """Where an installment stands (GraphQL's ``InstallmentStatus``, in the same order).

    SCHEDULED: not yet collected (no draw yet, or the provider is drawing it); INVOICED: an invoice
    (opkrævning) was sent to Digital Post and its date has not passed (R10); PAID: paid in full, by the draw
    or otherwise; MISSED: its date has passed unpaid (the draw failed after the provider's retries, or the
    invoice was not paid); CANCELLED: the plan ended (cancelled, lapsed) with it unpaid.
    """

    SCHEDULED = "SCHEDULED"
    INVOICED = "INVOICED"
    PAID = "PAID"
    MISSED = "MISSED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class InstallmentLine:
    """One installment as the plan rules see it: when it falls due, how much, and how much is paid."""

    due_on: date
    amount_oere: int
    paid_oere: int

    @property
    def unpaid_oere(self) -> int:
        return max(self.amount_oere - self.paid_oere, 0)

    @property
    def is_paid(self) -> bool:
        return self.paid_oere >= self.amount_oere


def installments_paid(amounts: Sequence[int], paid_oere: int) -> list[int]:
    """Spread what was paid on the plan over its installments, earliest first.

    Each installment takes at most its own amount; what is left over after the last one is not shown
    (nothing is owed beyond the plan). A negative total counts as nothing paid.
    """
    remaining = max(paid_oere, 0)
    result = []
    for amount in amounts:
        part = min(amount, remaining)
        result.append(part)
        remaining -= part
    return result


def installment_status(
    plan_status: str, due_on: date, amount: int, paid: int, today: date, draw_status: str | None = None
) -> InstallmentStatus:
    """PAID when paid in full (in any plan); CANCELLED when the plan ended (cancelled, lapsed, or completed
    without it); MISSED when its draw failed, or its date has passed unpaid and no draw is still being taken;
    INVOICED while an invoice waits; SCHEDULED otherwise.

    ``plan_status`` and ``draw_status`` are strings or the ``StrEnum`` members (they compare equal).
    """
    if paid >= amount:
        return InstallmentStatus.PAID
    if plan_status in ("CANCELLED", "DEFAULTED", "COMPLETED", "REJECTED"):
        return InstallmentStatus.CANCELLED
    if draw_status == "FAILED":
        return InstallmentStatus.MISSED
    if draw_status in ("SCHEDULED", "PENDING"):
        return InstallmentStatus.SCHEDULED  # the provider is collecting it (and retries a failed attempt)
    if due_on < today:
        return InstallmentStatus.MISSED
    if draw_status == "INVOICED":
        return InstallmentStatus.INVOICED
    return InstallmentStatus.SCHEDULED


@dataclass(frozen=True)
class Eligibility:
    """What the citizen can do with a claim now, and why not (GraphQL's ``Eligibility``)."""

    can_pay: bool
    can_create_installment_plan: bool
    reasons: tuple[UserErrorCode, ...]


def eligibility(outstanding_oere: int, collection_status: CollectionStatus | str, in_plan: bool) -> Eligibility:
    """Whether a claim can be paid now or put in a plan.

    Any open claim can be paid, also one at collection (R14: "the citizen may still pay on it"). A plan needs
    an open claim that Gældsstyrelsen does not hold (R14) and that is in no live plan already. When
    Gældsstyrelsen could not be asked (UNKNOWN) no plan is offered, as ``plans.evaluate_plan`` refuses one.
    The reasons come in this order: CLAIM_NOT_OPEN, then CLAIM_AT_COLLECTION or
    COLLECTION_STATUS_UNAVAILABLE, then CLAIM_ALREADY_IN_PLAN.
    """
    status = CollectionStatus(collection_status)
    reasons: list[UserErrorCode] = []
    if outstanding_oere <= 0:
        reasons.append(UserErrorCode.CLAIM_NOT_OPEN)
    if status is CollectionStatus.AT_COLLECTION:
        reasons.append(UserErrorCode.CLAIM_AT_COLLECTION)
    elif status is CollectionStatus.UNKNOWN:
        reasons.append(UserErrorCode.COLLECTION_STATUS_UNAVAILABLE)
    if in_plan:
        reasons.append(UserErrorCode.CLAIM_ALREADY_IN_PLAN)
    return Eligibility(can_pay=outstanding_oere > 0, can_create_installment_plan=not reasons, reasons=tuple(reasons))
