"""Node types of a package above this one: named for Strawberry and built from a row, without an import.

The GraphQL graph has cycles (a claim shows its plan, a plan its claims) but the packages import one way only:
claims < plans < payments < citizens (tests/test_architecture.py). A field that points up names its type with
``strawberry.lazy`` and builds it with ``LazyNode.build``, which finds the class in its module when first used
(by then the schema has imported it).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, ForwardRef, Generic, TypeVar

import strawberry

from resolvers.common.types import Node

R = TypeVar("R")

_annotated: Any = Annotated  # an annotation built at run time, which mypy would not take as a type expression


@dataclass(frozen=True)
class LazyNode(Generic[R]):
    """The type ``name`` of ``module``, a ``Node`` built with its ``from_row`` from a row of type ``R``."""

    module: str
    name: str

    @property
    def graphql_type(self) -> Any:
        """For ``strawberry.field(graphql_type=...)``: the lazily resolved type."""
        return _annotated[ForwardRef(self.name), strawberry.lazy(self.module)]

    def build(self, row: R) -> Node:
        node: Node = self._type.from_row(row)
        return node

    @cached_property
    def _type(self) -> Any:
        return getattr(importlib.import_module(self.module), self.name)
