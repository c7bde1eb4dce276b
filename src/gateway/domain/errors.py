"""Errors that reach clients as top-level GraphQL errors with ``extensions.code`` (api.md)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    RATE_LIMITED = "RATE_LIMITED"
    # Trusted documents (docs/trusted-documents.md): an id that names no document (Apollo's clients then send
    # the query text), and a citizen's query that is no trusted document where only those are accepted.
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    TRUSTED_DOCUMENT_REQUIRED = "TRUSTED_DOCUMENT_REQUIRED"
    INTERNAL = "INTERNAL"


class UserErrorCode(StrEnum):
    """Why a mutation or a rule said no (GraphQL's ``UserErrorCode``, exposed from here: one source)."""

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
    AMOUNT_BELOW_MINIMUM = "AMOUNT_BELOW_MINIMUM"
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    PLAN_NOT_FOUND = "PLAN_NOT_FOUND"
    PLAN_NOT_PENDING = "PLAN_NOT_PENDING"
    PLAN_NOT_CANCELLABLE = "PLAN_NOT_CANCELLABLE"
    INVALID_RETURN_URL = "INVALID_RETURN_URL"
    PAYMENT_METHOD_NOT_FOUND = "PAYMENT_METHOD_NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    # The caseworker's workplace (issue 12):
    TERMS_VERSION_OUTDATED = "TERMS_VERSION_OUTDATED"
    PLAN_NOT_COUNTER_OFFERED = "PLAN_NOT_COUNTER_OFFERED"
    MESSAGE_TO_CITIZEN_REQUIRED = "MESSAGE_TO_CITIZEN_REQUIRED"
    PURPOSE_REQUIRED = "PURPOSE_REQUIRED"
    PURPOSE_TOO_LONG = "PURPOSE_TOO_LONG"
    CITIZEN_NOT_FOUND = "CITIZEN_NOT_FOUND"
    WORK_QUEUE_ITEM_NOT_FOUND = "WORK_QUEUE_ITEM_NOT_FOUND"
    WORK_QUEUE_ITEM_ALREADY_RESOLVED = "WORK_QUEUE_ITEM_ALREADY_RESOLVED"
    WORK_QUEUE_ITEM_DECIDED_ELSEWHERE = "WORK_QUEUE_ITEM_DECIDED_ELSEWHERE"


class GatewayError(Exception):
    """An error with a fixed code and a message key from ``gateway.domain.i18n``."""

    def __init__(self, code: ErrorCode, message_key: str | None = None, **params: object) -> None:
        self.code = code
        self.message_key = message_key or code.value
        self.params = params
        super().__init__(self.message_key)


def unauthenticated(key: str = "UNAUTHENTICATED") -> GatewayError:
    return GatewayError(ErrorCode.UNAUTHENTICATED, key)


def forbidden(key: str = "FORBIDDEN") -> GatewayError:
    return GatewayError(ErrorCode.FORBIDDEN, key)


def not_found() -> GatewayError:
    return GatewayError(ErrorCode.NOT_FOUND)


def bad_input(key: str, **params: object) -> GatewayError:
    return GatewayError(ErrorCode.BAD_USER_INPUT, key, **params)


def payments_unavailable() -> GatewayError:
    """The payment provider could not be reached during a payment mutation (retry with the same key)."""
    return GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, "PAYMENTS_UNAVAILABLE")
