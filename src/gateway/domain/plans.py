"""Installment plan rules (afdragsordning): R11, R13, R14 of docs/domain.md.

Pure domain logic: no I/O, no clock (``today`` is always passed in), money in integer øre only.
Integer ceiling division is written ``-(-a // b)``; no float ever touches an amount.

- R11: the monthly installment is at least 350.00 DKK, no exceptions and no override; a plan longer than
  18 months needs an individual assessment by a caseworker (created as PENDING_APPROVAL only when the
  citizen asks for one, otherwise refused with PLAN_TOO_LONG, api.md).
- R13: interest that accrues on a beboerindskudslån after the plan is made is not part of the plan;
  the evaluation flags ``excludes_future_interest`` so the citizen can be told.
- R14: no plan for a claim at collection with Gældsstyrelsen; a claim *returned* from collection is the
  municipality's again and a plan is possible (gaeldst.dk, see domain.md "Facts from Danish practice").
  When Gældsstyrelsen could not be asked (UNKNOWN) no plan is made either.
- The preview's range of amounts with their durations is modelled on HMRC's open-source "Set up a payment
  plan" service, which shows monthly amounts together with the resulting number of months.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from gateway.domain.errors import UserErrorCode

MIN_MONTHLY_OERE = 35_000
"""350.00 DKK: the smallest monthly installment (R11, "no exceptions"; nobody can override it)."""

MAX_MONTHS = 18
"""The longest plan without an individual assessment by a caseworker (R11)."""

OPTION_DURATIONS: tuple[int, ...] = (18, 12, 6, 3)
"""Durations (months) offered as ready-made choices in the preview, with amounts in whole kroner."""

CollectionStatus = Literal["NOT_AT_COLLECTION", "AT_COLLECTION", "RETURNED", "UNKNOWN"]
PlanStatus = Literal["ACTIVE", "PENDING_APPROVAL"]

FIELD_MONTHLY_AMOUNT: tuple[str, ...] = ("input", "monthlyAmount")
FIELD_DAY_OF_MONTH: tuple[str, ...] = ("input", "dayOfMonth")
FIELD_ACCEPT_TERMS: tuple[str, ...] = ("input", "acceptTerms")
FIELD_CLAIM_IDS: tuple[str, ...] = ("input", "claimIds")


@dataclass(frozen=True)
class PlanClaim:
    """What the plan rules need to know about one selected claim."""

    claim_id: str
    outstanding_oere: int
    is_open: bool
    collection: CollectionStatus
    in_active_plan: bool
    is_resident_deposit_loan: bool  # beboerindskudslån (R13)


@dataclass(frozen=True)
class ScheduledInstallment:
    number: int  # 1-based
    due_on: date
    amount_oere: int


# The plan rules report in the one list of user-facing codes (gateway.domain.errors), which GraphQL exposes.
PlanViolation = UserErrorCode


@dataclass(frozen=True)
class Violation:
    code: PlanViolation
    field: tuple[str, ...]  # GraphQL UserError.field path, e.g. ("input", "claimIds", "2")
    claim_id: str | None = None


@dataclass(frozen=True)
class PlanOption:
    monthly_oere: int
    months: int


@dataclass(frozen=True)
class PlanRange:
    """The valid monthly amounts and durations for a principal (for the preview)."""

    min_monthly_oere: int  # max(MIN_MONTHLY_OERE, ceil(total / MAX_MONTHS)): the least that fits 18 months
    max_months_at_minimum: int  # months the plan takes at exactly MIN_MONTHLY_OERE
    options: tuple[PlanOption, ...]  # ready-made choices, months descending; none when no plan is possible


@dataclass(frozen=True)
class PlanEvaluation:
    principal_oere: int  # sum of the distinct selected claims' outstanding amounts
    months: int  # ceil(principal / monthly); 0 when it cannot be computed
    schedule: tuple[ScheduledInstallment, ...]  # empty when it cannot be computed
    violations: tuple[Violation, ...]
    status: PlanStatus | None  # status the plan would be created with; None when not allowed
    needs_assessment: bool  # longer than MAX_MONTHS: a caseworker must approve
    excludes_future_interest: bool  # a beboerindskudslån is included (R13)
    range: PlanRange

    @property
    def allowed(self) -> bool:
        return self.status is not None


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _clamped(year: int, month: int, day_of_month: int) -> date:
    return date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def _check_day(day_of_month: int) -> None:
    if not 1 <= day_of_month <= 31:
        raise ValueError(f"day_of_month must be 1..31, got {day_of_month}")


def first_due_date(today: date, day_of_month: int) -> date:
    """The first installment's due date: the chosen day in the month *after* ``today``.

    Clamped to that month's last day (31 -> 30 April, 28/29 February). Starting next month rather than
    this month gives the citizen time to receive the first invoice in Digital Post (R10) or for a
    Betalingsservice enrolment to take effect, and never yields a due date in the past or tomorrow.
    """
    _check_day(day_of_month)
    year, month = _add_months(today.year, today.month, 1)
    return _clamped(year, month, day_of_month)


def build_schedule(total_oere: int, monthly_oere: int, day_of_month: int, today: date) -> list[ScheduledInstallment]:
    """The installments of a plan: ``ceil(total / monthly)`` months.

    Every installment equals ``monthly_oere`` except the last, which takes the remainder (in
    ``(0, monthly]``), so the installments sum exactly to ``total_oere``. Due dates are monthly from
    :func:`first_due_date`; the chosen day is re-applied each month and clamped to the month's end, so
    day 31 gives 31 Jan, 28/29 Feb, 31 Mar, 30 Apr, ... (no drift).

    This is arithmetic only; :func:`evaluate_plan` enforces the minimum and the maximum length.
    """
    if total_oere <= 0:
        raise ValueError("total_oere must be positive")
    if monthly_oere <= 0:
        raise ValueError("monthly_oere must be positive")
    _check_day(day_of_month)
    months = _ceil_div(total_oere, monthly_oere)
    start_year, start_month = _add_months(today.year, today.month, 1)
    schedule: list[ScheduledInstallment] = []
    for i in range(months):
        year, month = _add_months(start_year, start_month, i)
        amount = monthly_oere if i < months - 1 else total_oere - monthly_oere * (months - 1)
        schedule.append(ScheduledInstallment(i + 1, _clamped(year, month, day_of_month), amount))
    return schedule


def _round_up_to_krone(oere: int) -> int:
    return _ceil_div(oere, 100) * 100


def plan_range(total_oere: int) -> PlanRange:
    """The valid range for a principal, with a few ready-made options (after HMRC's payment-plan service).

    ``options`` holds the least monthly amount that fits within MAX_MONTHS (exact øre), and the amounts
    for 18, 12, 6 and 3 months rounded up to whole kroner; each is at least MIN_MONTHLY_OERE and at most
    the total, and the list is sorted by months descending. ``months`` of an option is the real length at
    that amount, which rounding may shorten; so two amounts can take equally long (555.56 and 556.00 DKK
    both take 18 months of 10,000.00 DKK), and each duration is offered once, at the least amount that
    gives it. Only plans within MAX_MONTHS are offered; none when the total is below one minimum
    installment.
    """
    if total_oere < 0:
        raise ValueError("total_oere must not be negative")
    min_monthly = max(MIN_MONTHLY_OERE, _ceil_div(total_oere, MAX_MONTHS))
    max_months_at_minimum = _ceil_div(total_oere, MIN_MONTHLY_OERE)
    if total_oere < MIN_MONTHLY_OERE:
        return PlanRange(min_monthly, max_months_at_minimum, ())
    amounts = {min_monthly}
    for n in OPTION_DURATIONS:
        amounts.add(min(total_oere, max(MIN_MONTHLY_OERE, _round_up_to_krone(_ceil_div(total_oere, n)))))
    cheapest: dict[int, int] = {}  # months -> the least amount that takes that long
    for a in sorted(amounts, reverse=True):
        cheapest[_ceil_div(total_oere, a)] = a
    options = tuple(PlanOption(a, months) for months, a in sorted(cheapest.items(), reverse=True))
    return PlanRange(min_monthly, max_months_at_minimum, options)


def evaluate_plan(
    claims: Sequence[PlanClaim],
    *,
    monthly_oere: int,
    day_of_month: int,
    accept_terms: bool,
    request_assessment: bool,
    today: date,
    check_terms: bool = True,
) -> PlanEvaluation:
    """Check a proposed plan against every rule and compute its schedule.

    All violations are reported, not just the first. ``check_terms=False`` is for the preview, which
    has no terms checkbox yet. The principal is the sum of the distinct claims' outstanding amounts
    (a repeated claim counts once and is reported as DUPLICATE_CLAIMS). When the total is below one
    minimum installment only TOTAL_BELOW_MINIMUM_INSTALLMENT is reported for the amount (the citizen
    should pay it instead), not also MONTHLY_AMOUNT_BELOW_MINIMUM. The schedule is computed whenever the
    amount and day are valid, even if the plan is refused for another reason, so the preview can show it.
    """
    violations: list[Violation] = []

    if not claims:
        violations.append(Violation(PlanViolation.NO_CLAIMS_SELECTED, FIELD_CLAIM_IDS))

    seen: set[str] = set()
    distinct: list[PlanClaim] = []
    for index, claim in enumerate(claims):
        field = (*FIELD_CLAIM_IDS, str(index))
        if claim.claim_id in seen:
            violations.append(Violation(PlanViolation.DUPLICATE_CLAIMS, field, claim.claim_id))
            continue
        seen.add(claim.claim_id)
        distinct.append(claim)
        if not claim.is_open or claim.outstanding_oere <= 0:
            violations.append(Violation(PlanViolation.CLAIM_NOT_OPEN, field, claim.claim_id))
        if claim.collection == "AT_COLLECTION":
            violations.append(Violation(PlanViolation.CLAIM_AT_COLLECTION, field, claim.claim_id))
        elif claim.collection == "UNKNOWN":
            violations.append(Violation(PlanViolation.COLLECTION_STATUS_UNAVAILABLE, field, claim.claim_id))
        # NOT_AT_COLLECTION and RETURNED (the municipality's again) are both fine.
        if claim.in_active_plan:
            violations.append(Violation(PlanViolation.CLAIM_ALREADY_IN_PLAN, field, claim.claim_id))

    principal = sum(max(0, c.outstanding_oere) for c in distinct)
    day_ok = 1 <= day_of_month <= 31
    if not day_ok:
        violations.append(Violation(PlanViolation.INVALID_DATE, FIELD_DAY_OF_MONTH))

    if monthly_oere <= 0:
        violations.append(Violation(PlanViolation.INVALID_AMOUNT, FIELD_MONTHLY_AMOUNT))
    elif 0 < principal < MIN_MONTHLY_OERE:
        violations.append(Violation(PlanViolation.TOTAL_BELOW_MINIMUM_INSTALLMENT, FIELD_CLAIM_IDS))
    elif monthly_oere < MIN_MONTHLY_OERE:
        violations.append(Violation(PlanViolation.MONTHLY_AMOUNT_BELOW_MINIMUM, FIELD_MONTHLY_AMOUNT))

    months = _ceil_div(principal, monthly_oere) if principal > 0 and monthly_oere > 0 else 0
    needs_assessment = months > MAX_MONTHS
    if needs_assessment and not request_assessment:
        violations.append(Violation(PlanViolation.PLAN_TOO_LONG, FIELD_MONTHLY_AMOUNT))

    if check_terms and not accept_terms:
        violations.append(Violation(PlanViolation.TERMS_NOT_ACCEPTED, FIELD_ACCEPT_TERMS))

    schedule: tuple[ScheduledInstallment, ...] = ()
    # Only for a valid amount (>= the minimum): this also bounds the schedule's length.
    if principal > 0 and monthly_oere >= MIN_MONTHLY_OERE and day_ok:
        schedule = tuple(build_schedule(principal, monthly_oere, day_of_month, today))

    status: PlanStatus | None = None
    if not violations:
        status = "PENDING_APPROVAL" if needs_assessment else "ACTIVE"

    return PlanEvaluation(
        principal_oere=principal,
        months=months,
        schedule=schedule,
        violations=tuple(violations),
        status=status,
        needs_assessment=needs_assessment,
        excludes_future_interest=any(c.is_resident_deposit_loan for c in distinct),
        range=plan_range(principal),
    )


# --- the individual assessment's counter-offer (R11) ----------------------------------------------------------

FIELD_MONTHS: tuple[str, ...] = ("input", "months")


@dataclass(frozen=True)
class CounterOffer:
    """What a caseworker offers instead of the plan the citizen asked for: a monthly amount and how long it takes
    for the principal the offer was made on (the plan is rescheduled on what is owed when the citizen accepts)."""

    monthly_oere: int
    months: int


def counter_offer(
    principal_oere: int, *, monthly_oere: int | None, months: int | None
) -> tuple[CounterOffer | None, Violation | None]:
    """A caseworker's counter-offer, given as a monthly amount or as a number of months (exactly one).

    The rules are the citizen's own (R11): at least 350.00 DKK a month, no exceptions; an offer by months gets the
    least monthly amount that repays the principal in that many months (whole øre, rounded up), so an offer of
    more months than the minimum allows is refused as MONTHLY_AMOUNT_BELOW_MINIMUM. The assessment is the
    individual assessment, so the offer may be longer than 18 months. A principal below one minimum installment
    is TOTAL_BELOW_MINIMUM_INSTALLMENT (the citizen should pay it instead).
    """
    if (monthly_oere is None) == (months is None):
        return None, Violation(PlanViolation.INVALID_INPUT, FIELD_MONTHLY_AMOUNT)
    if principal_oere < MIN_MONTHLY_OERE:
        return None, Violation(PlanViolation.TOTAL_BELOW_MINIMUM_INSTALLMENT, FIELD_CLAIM_IDS[:1])
    if months is not None:
        if months < 1:
            return None, Violation(PlanViolation.INVALID_INPUT, FIELD_MONTHS)
        monthly = _ceil_div(principal_oere, months)
        if monthly < MIN_MONTHLY_OERE:
            return None, Violation(PlanViolation.MONTHLY_AMOUNT_BELOW_MINIMUM, FIELD_MONTHS)
    else:
        assert monthly_oere is not None
        if monthly_oere <= 0:
            return None, Violation(PlanViolation.INVALID_AMOUNT, FIELD_MONTHLY_AMOUNT)
        if monthly_oere < MIN_MONTHLY_OERE:
            return None, Violation(PlanViolation.MONTHLY_AMOUNT_BELOW_MINIMUM, FIELD_MONTHLY_AMOUNT)
        monthly = min(monthly_oere, principal_oere)
    return CounterOffer(monthly_oere=monthly, months=_ceil_div(principal_oere, monthly)), None
