"""How a GraphQL field maps to what the compiled read path holds (docs/compiled-reads.md).

Each domain package declares, next to its types, a ``COMPILED`` table: GraphQL type name -> field name -> one of
these. The compiled path holds a *source* per object (a ledger row read by position, an amount in øre, a domain
value, or the Strawberry object itself) and gets each field's value from it:

- ``Value(get)``: a pure function of the source (a column, a formatted amount, an object built from the row);
- ``Related(relation, key, get)``: a batched relation (``resolvers.compiled.relations``) loaded once per request
  for the keys of all sources on a level, then ``get(loaded, source, arguments)``.

A type without a table holds its Strawberry object: its plain fields are read by attribute, as Strawberry's
default resolver does. A field with neither (a resolver nobody mapped) keeps its document off the compiled path.

This module imports nothing of ours, so every domain package can declare its table without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

Arguments = Mapping[str, Any]
# The field's coerced arguments, plus the one setting a field's value depends on, under a key no argument has.
MAX_PAGE_SIZE = "__max_page_size"


@dataclass(frozen=True, slots=True)
class Value:
    """The field is a pure function of its object's source. ``position`` / ``attribute``: it is the source's
    item or attribute of that name (the compiler then reads it inline)."""

    get: Callable[[Any], Any]
    position: int | None = None
    attribute: str | None = None


@dataclass(frozen=True, slots=True)
class Related:
    """The field needs ``relation`` for ``key(source)``; ``get(loaded, source, arguments)`` makes its value.
    ``check(arguments)`` raises, before anything is loaded, where the resolver refuses its arguments before it
    loads anything (so a refused request costs the same statements either way)."""

    relation: str
    key: Callable[[Any], Any]
    get: Callable[[Any, Any, Arguments], Any]
    check: Callable[[Arguments], object] | None = None


FieldMap = Value | Related
TypeMap = Mapping[str, FieldMap]
Tables = Mapping[str, TypeMap]


def column(position: int) -> Value:
    """A column of a row read by position (``adapters.ledger.fastread``'s column orders)."""
    return Value(itemgetter(position), position=position)


def attribute(name: str) -> Value:
    """An attribute of the source (a Strawberry object's plain field, a domain value's attribute)."""
    return Value(attrgetter(name), attribute=name)
