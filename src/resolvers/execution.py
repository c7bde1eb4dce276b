"""A plain-attribute fast path for graphql-core's execution (issue 10, "the cheap fixes").

Most fields of an answer are a scalar or an enum read straight off an object (``Claim.reference``,
``Money.amount``, ``StatementLine.kind``): Strawberry gives them a default resolver, and graphql-core then builds a
resolve info (a 15-item tuple), looks for arguments and middleware, calls the resolver through Strawberry's
``get_result`` and dispatches on the return type, for every one of the ~1,300 fields of the overview. For those
fields the answer is ``getattr(source, python_name)`` coerced by the leaf type, which is all this path does.

Anything out of the ordinary takes graphql-core's own path, which then answers exactly as before: a value that is
None (a null, or a non-null violation to report), an exception, a coercion that fails, a field with arguments,
and every field while any extension resolves through middleware (tracing, for example).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLSchema,
    get_nullable_type,
    is_leaf_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

# Strawberry keeps each GraphQL field's own definition in its extensions under this key.
_DEFINITION = "strawberry-definition"


def _plain_attribute(python_name: str, leaf: GraphQLLeafType) -> Callable[..., Any]:
    """The resolver of a plain leaf attribute, marked for the fast path (and correct without it)."""

    def resolve(source: Any, _info: Any, **_arguments: Any) -> Any:
        return getattr(source, python_name)

    resolve.plain_attribute = (python_name, leaf)  # type: ignore[attr-defined]
    return resolve


def install_plain_attribute_resolvers(schema: GraphQLSchema) -> int:
    """Give every argument-less leaf field with Strawberry's default resolver a plain ``getattr``; returns how
    many. Strawberry's default resolver does the same, with three calls more."""
    count = 0
    for graphql_type in schema.type_map.values():
        if graphql_type.name.startswith("__") or not isinstance(
            graphql_type, (GraphQLObjectType, GraphQLInterfaceType)
        ):
            continue
        for graphql_field in graphql_type.fields.values():
            definition = (graphql_field.extensions or {}).get(_DEFINITION)
            leaf = get_nullable_type(graphql_field.type)
            if (
                isinstance(definition, StrawberryField)
                and getattr(graphql_field.resolve, "_is_default", False)
                and not graphql_field.args
                and is_leaf_type(leaf)
            ):
                graphql_field.resolve = _plain_attribute(definition.python_name, leaf)
                count += 1
    return count


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution with the fast path for plain leaf attributes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        # Middleware wraps every resolver (an extension's ``resolve``): then every field goes the full way.
        self._fast = middleware is None or not middleware.middlewares

    def execute_field(self, parent_type: Any, source: Any, field_details_list: Any, path: Any, *rest: Any) -> Any:
        if self._fast:
            first = field_details_list[0]
            node = getattr(first, "node", first)  # graphql-core 3.3 passes FieldDetails, 3.2 FieldNodes
            field_def = parent_type.fields.get(node.name.value)
            plain = getattr(field_def.resolve, "plain_attribute", None) if field_def is not None else None
            if plain is not None and not node.arguments:
                python_name, leaf = plain
                try:
                    value = getattr(source, python_name)
                    if value is not None:
                        return self.complete_leaf_value(leaf, value)
                except Exception:  # noqa: BLE001, S110 - graphql-core's path below raises and reports it as before
                    pass
        return super().execute_field(parent_type, source, field_details_list, path, *rest)
