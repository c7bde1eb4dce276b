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
    INTERNAL = "INTERNAL"


class GatewayError(Exception):
    """An error with a fixed code and a message key from ``gateway.i18n``."""

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
