"""Betalingskontoret's work queues: which there are, and which a caseworker closes by hand.

Most items leave their queue by themselves when what they are about changes: the installment is paid, the plan is
decided, the enrolment confirmed. Some never would: a plan that lapsed stays lapsed, a payment that failed stays
failed. A caseworker who has dealt with such an item (called the citizen, sent a letter, handed the claim on)
marks it resolved, with a note for colleagues, and it leaves the open queue; the mark is kept, with who and when.

Pure domain logic: no I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Queue(StrEnum):
    """Betalingskontoret's work queues (GraphQL's ``WorkQueue``)."""

    AWAITING_ASSESSMENT = "AWAITING_ASSESSMENT"  # plans waiting for an individual assessment
    MISSED_INSTALLMENTS = "MISSED_INSTALLMENTS"  # installments of active plans missed or overdue
    PENDING_ENROLMENTS = "PENDING_ENROLMENTS"  # Betalingsservice enrolments pending longer than the setting
    CLAIMS_AT_COLLECTION = "CLAIMS_AT_COLLECTION"  # a plan held a claim that Gældsstyrelsen took (R14)
    DEFAULTED_PLANS = "DEFAULTED_PLANS"  # lapsed (misligholdt) plans
    FAILED_PAYMENTS = "FAILED_PAYMENTS"  # one-off payments that ended FAILED
    FAILED_DRAWS = "FAILED_DRAWS"  # automatic draws that failed after the provider's retries


DECIDED_ELSEWHERE: Final = frozenset({Queue.AWAITING_ASSESSMENT})
"""Queues whose items only a decision closes (approve, reject or counter-offer), never a mark: the citizen is
waiting for an answer, and marking the plan resolved would leave them waiting for ever."""


def can_be_marked_resolved(queue: Queue) -> bool:
    """Whether a caseworker may mark an item of ``queue`` resolved by hand."""
    return queue not in DECIDED_ELSEWHERE
