"""The types every domain package shares: Node, Money, and connections (paging) per api.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, NewType, TypeVar, cast

import strawberry
from strawberry.types.scalar import ScalarDefinition

from gateway.domain.errors import ErrorCode, GatewayError
from gateway.domain.money import CURRENCY, format_dkk, to_decimal_string
from resolvers.common import ids
from resolvers.common.mapping import Tables, Value
from resolvers.context import Info

T = TypeVar("T")


@strawberry.interface(description="An object with a global, opaque ID (never containing a CPR number).")
class Node:
    id: strawberry.ID


@strawberry.type(description="An amount of money. Never a float: `amountOere` is integer øre.")
class Money:
    # The schema's type. At run time a Money is a ``_LazyMoney`` (``money()``), whose strings are made only when
    # a query selects them.
    amount_oere: int = strawberry.field(description="The amount in øre (1 krone = 100 øre).")
    amount: str = strawberry.field(description='Decimal string in kroner, e.g. "350.00".')
    currency: str = strawberry.field(description="ISO 4217 currency code (always DKK).")
    formatted: str = strawberry.field(description='Danish display form, e.g. "1.234,50 kr.".')


class _LazyMoney:
    """Money's fields, the strings as properties: the overview has ~400 amounts and selects one string of each
    (performance.md measured the eager ones at ~1.6 ms a request). Money has no interface, so GraphQL takes any
    object with its attributes; plain-attribute fields read properties as they read attributes."""

    __slots__ = ("amount_oere",)
    currency = CURRENCY

    def __init__(self, oere: int) -> None:
        self.amount_oere = oere

    @property
    def amount(self) -> str:
        return to_decimal_string(self.amount_oere)

    @property
    def formatted(self) -> str:
        return format_dkk(self.amount_oere)


def money(oere: int) -> Money:
    return cast(Money, _LazyMoney(oere))


# The compiled read path holds an amount as its øre and formats only the fields asked for (resolvers/common/mapping.py).
COMPILED: Tables = {
    "Money": {
        "amountOere": Value(lambda oere: oere),
        "amount": Value(to_decimal_string),
        "currency": Value(lambda _oere: CURRENCY),
        "formatted": Value(format_dkk),
    },
}


# GraphQL's Int is 32-bit (at most 21,474,836.47 DKK as øre); a sum over a whole portfolio passes that. BigInt is
# an integer serialized as a string of digits (any size; JSON numbers above 2^53 lose precision in JavaScript).
# Registered with the schema through ``SCALARS`` (``StrawberryConfig.scalar_map``).
BigInt = NewType("BigInt", int)
SCALARS: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        serialize=str,
        parse_value=int,
        description="An integer of any size, serialized as a string of ASCII digits with an optional leading minus "
        '(e.g. "12345678901234"): sums over many amounts, which would overflow Int.',
    )
}


@strawberry.type(description="A sum of money that may exceed Int (portfolio totals). Never a float.")
class MoneyTotal:
    amount_oere: BigInt = strawberry.field(description="The sum in øre, as a BigInt (a string of digits).")
    amount: str = strawberry.field(description='Decimal string in kroner, e.g. "123456789.50".')
    currency: str = strawberry.field(description="ISO 4217 currency code (always DKK).")
    formatted: str = strawberry.field(description='Danish display form, e.g. "123.456.789,50 kr.".')


def money_total(oere: int) -> MoneyTotal:
    return MoneyTotal(
        amount_oere=BigInt(oere), amount=to_decimal_string(oere), currency=CURRENCY, formatted=format_dkk(oere)
    )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    total_count: int


DEFAULT_PAGE = 100


def check_first(info: Info, first: int | None) -> int:
    """The page size asked for (default 100), checked against the configured maximum page size."""
    return first_bounds(info.context.services.settings.max_page_size, first)


def first_bounds(limit: int, first: int | None) -> int:
    if first is None:
        first = min(DEFAULT_PAGE, limit)
    if first < 0 or first > limit:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_FIRST", max=limit)
    return first


def check_page(info: Info, first: int | None, after: str | None) -> tuple[int, int]:
    """The page size and offset asked for, checked against the configured maximum page size."""
    return page_bounds(info.context.services.settings.max_page_size, first, after)


def page_bounds(limit: int, first: int | None, after: str | None) -> tuple[int, int]:
    """``check_page`` with the maximum page size given (the compiled read path has no ``Info``)."""
    first = first_bounds(limit, first)
    offset = 0
    if after is not None:
        try:
            offset = ids.decode_cursor(after) + 1
        except ids.InvalidGlobalId:
            raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_CURSOR") from None
    return first, offset


def decode_keyset(after: str | None, scope: str, size: int) -> list[str] | None:
    """The position a keyset cursor holds for the query ``scope`` (``ids.query_scope``), with the specific error
    when it is no cursor (``INVALID_CURSOR``) or another query's (``CURSOR_FROM_ANOTHER_QUERY``)."""
    if after is None:
        return None
    try:
        return ids.decode_keyset_cursor(after, scope, size)
    except ids.CursorFromAnotherQuery:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "CURSOR_FROM_ANOTHER_QUERY") from None
    except ids.InvalidGlobalId:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_CURSOR") from None


def keyset_page_info(edges: Sequence[Edge[Any]], has_next: bool, after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


def paginate(items: Sequence[T], first: int, offset: int) -> Connection[T]:
    page = list(items[offset : offset + first])
    edges = [Edge(cursor=ids.encode_cursor(offset + i), node=n) for i, n in enumerate(page)]
    return Connection(
        edges=edges,
        nodes=page,
        page_info=PageInfo(
            has_next_page=offset + len(page) < len(items),
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=len(items),
    )
