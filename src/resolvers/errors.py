"""Typed mutation errors (``userErrors``) per api.md."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import strawberry

from gateway.i18n import Language, translate


@strawberry.enum(description="Why a mutation or a rule said no. Values are stable; messages are translated.")
class UserErrorCode(Enum):
    MONTHLY_AMOUNT_BELOW_MINIMUM = "MONTHLY_AMOUNT_BELOW_MINIMUM"
    PLAN_TOO_LONG = "PLAN_TOO_LONG"
    CLAIM_AT_COLLECTION = "CLAIM_AT_COLLECTION"
    COLLECTION_STATUS_UNAVAILABLE = "COLLECTION_STATUS_UNAVAILABLE"
    TERMS_NOT_ACCEPTED = "TERMS_NOT_ACCEPTED"
    CLAIM_NOT_FOUND = "CLAIM_NOT_FOUND"
    CLAIM_NOT_OPEN = "CLAIM_NOT_OPEN"
    CLAIM_ALREADY_IN_PLAN = "CLAIM_ALREADY_IN_PLAN"
    NOTHING_TO_PAY = "NOTHING_TO_PAY"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_DATE = "INVALID_DATE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    ENROLMENT_ALREADY_ACTIVE = "ENROLMENT_ALREADY_ACTIVE"
    MOBILEPAY_ACCOUNT_NOT_FOUND = "MOBILEPAY_ACCOUNT_NOT_FOUND"
    NOT_ALLOWED = "NOT_ALLOWED"
    # Added here (api.md allows more):
    NO_CLAIMS_SELECTED = "NO_CLAIMS_SELECTED"
    DUPLICATE_CLAIMS = "DUPLICATE_CLAIMS"
    TOTAL_BELOW_MINIMUM_INSTALLMENT = "TOTAL_BELOW_MINIMUM_INSTALLMENT"
    AMOUNT_EXCEEDS_OUTSTANDING = "AMOUNT_EXCEEDS_OUTSTANDING"
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    PLAN_NOT_FOUND = "PLAN_NOT_FOUND"
    PLAN_NOT_PENDING = "PLAN_NOT_PENDING"
    PLAN_NOT_CANCELLABLE = "PLAN_NOT_CANCELLABLE"
    INVALID_RETURN_URL = "INVALID_RETURN_URL"
    PAYMENT_METHOD_NOT_FOUND = "PAYMENT_METHOD_NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"


@strawberry.type
class UserError:
    code: UserErrorCode
    field: list[str] | None
    message: str


def user_error(code: UserErrorCode | str, language: Language, field: Sequence[str] | None = None) -> UserError:
    c = code if isinstance(code, UserErrorCode) else UserErrorCode(code)
    return UserError(code=c, field=list(field) if field is not None else None, message=translate(c.value, language))
