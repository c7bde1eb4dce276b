"""Typed mutation errors (``userErrors``) per api.md."""

from __future__ import annotations

from collections.abc import Sequence

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
