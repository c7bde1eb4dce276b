"""Typed mutation errors (``userErrors``) per api.md."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import strawberry

from gateway.domain.errors import UserErrorCode
from gateway.domain.i18n import Language, translate

# The GraphQL enum is the domain's own list of codes (one source of truth), exposed with Strawberry.
strawberry.enum(
    UserErrorCode, description="Why a mutation or a rule said no. Values are stable; messages are translated."
)


@strawberry.type
class UserError:
    code: UserErrorCode
    field: list[str] | None
    message: str


def user_error(code: UserErrorCode | str, language: Language, field: Sequence[str] | None = None) -> UserError:
    c = code if isinstance(code, UserErrorCode) else UserErrorCode(code)
    return UserError(code=c, field=list(field) if field is not None else None, message=translate(c.value, language))


def user_errors(problems: Iterable[tuple[UserErrorCode, Sequence[str] | None]], language: Language) -> list[UserError]:
    """A use-case's problems (code, field path) as translated ``userErrors``."""
    return [user_error(code, language, field) for code, field in problems]
