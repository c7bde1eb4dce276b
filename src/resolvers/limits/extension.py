"""The limits as a Strawberry extension: shape and validation (cached per document and rule set), cost with the
request's variables against the viewer's budget, the objects actually resolved, and who sees the schema.

Validation happens before any resolver, so the extension reads the viewer from the request's context when the
operation starts and picks one of two rule sets: with introspection (and graphql-core's "Did you mean …?"
suggestions) or without. The rule set is part of the validation cache's key, so each set is cached correctly.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from inspect import isawaitable
from typing import Any, Literal

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    default_field_resolver,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    validate,
)
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gateway.domain.errors import ErrorCode, GatewayError
from gateway.domain.viewers import CaseworkerViewer, CitizenViewer
from gateway.settings import Settings
from resolvers.limits.cost import CostModel, operation_cost
from resolvers.limits.shape import Shape, ShapeLimits, analyse

# What Strawberry's own validation adds to graphql-core's rules (strawberry.schema.schema.validate_document).
STRAWBERRY_RULES: tuple[type[ASTValidationRule], ...] = (MaybeNullValidationRule, OneOfInputValidationRule)
_SUGGESTION = re.compile(r" Did you mean .*$", re.DOTALL)
_VALIDATION_CACHE_SIZE = 256


class TooComplex(GatewayError):
    """QUERY_TOO_COMPLEX with a sentence saying which limit, and by how much."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.QUERY_TOO_COMPLEX)
        self.detail = detail


def too_complex(detail: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(detail, nodes, original_error=TooComplex(detail))


@dataclass(frozen=True)
class LimitsConfig:
    shape: ShapeLimits
    cost: CostModel
    budgets: tuple[int, int, int]  # anonymous, citizen, caseworker
    max_objects: int
    max_cached_document_bytes: int
    introspection: Literal["on", "off", "caseworkers"]
    report_cost: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, *, max_ids: int) -> LimitsConfig:
        introspection = settings.introspection or ("on" if settings.is_development else "caseworkers")
        return cls(
            shape=ShapeLimits(
                max_depth=settings.max_query_depth,
                max_aliases=settings.max_aliases,
                max_fragment_spreads=settings.max_fragment_spreads,
                max_selections=settings.max_selections,
                max_merge_work=settings.max_merge_work,
            ),
            cost=CostModel(page_size=min(100, settings.max_page_size), max_ids=max_ids),
            budgets=(settings.cost_budget_anonymous, settings.cost_budget_citizen, settings.cost_budget_caseworker),
            max_objects=settings.max_objects_per_request,
            max_cached_document_bytes=settings.max_cached_document_bytes,
            introspection=introspection,
            report_cost=settings.query_cost_in_extensions,
        )

    def budget(self, viewer: object) -> int:
        if isinstance(viewer, CaseworkerViewer):
            return self.budgets[2]
        if isinstance(viewer, CitizenViewer):
            return self.budgets[1]
        return self.budgets[0]

    def shows_schema(self, viewer: object) -> bool:
        """Introspection and suggestions: for everyone, nobody, or caseworkers only."""
        return self.introspection == "on" or (
            self.introspection == "caseworkers" and isinstance(viewer, CaseworkerViewer)
        )


def _check(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
    limits: ShapeLimits,
) -> tuple[tuple[GraphQLError, ...], Shape]:
    """The shape first (linear; graphql-core's rules never see a document over the limits), then validation."""
    shape = analyse(document, limits)
    if (violation := shape.violation(limits)) is not None:
        return (too_complex(violation),), shape
    return tuple(validate(schema, document, rules, hide_suggestions=hide_suggestions)), shape


# Keyed by the document (the parser cache hands out the same node for the same text), the rule set and the
# limits. Documents over ``max_cached_document_bytes`` bypass it, so its entries stay small.
_cached_check = lru_cache(maxsize=_VALIDATION_CACHE_SIZE)(_check)


class BoundedParserCache(ParserCache):
    """Strawberry's parser cache for documents up to a size; larger ones are parsed and forgotten."""

    def __init__(self, maxsize: int, max_document_bytes: int) -> None:
        super().__init__(maxsize=maxsize)
        self.max_document_bytes = max_document_bytes

    def on_parse(self) -> Iterator[None]:
        if _is_large(self.execution_context.query, self.max_document_bytes):
            yield  # Strawberry parses it (with the token limit), uncached
        else:
            yield from super().on_parse()


def _is_large(query: str | None, limit: int) -> bool:
    return query is not None and (len(query) > limit or len(query.encode()) > limit)


@dataclass
class _Objects:
    limit: int
    count: int = 0


_objects: ContextVar[_Objects | None] = ContextVar("graphql_objects", default=None)


class QueryLimits(SchemaExtension):
    """Refuses what is over a limit before execution, and reports the cost in ``extensions.cost``."""

    def __init__(self, config: LimitsConfig) -> None:
        self.config = config
        self.cost: int | None = None
        self.budget = config.budgets[0]
        self.shows_schema = True

    def on_operation(self) -> Iterator[None]:
        viewer = getattr(self.execution_context.context, "viewer", None)
        self.budget = self.config.budget(viewer)
        self.shows_schema = self.config.shows_schema(viewer)
        yield

    def on_validate(self) -> Iterator[None]:
        # Before the yield: Strawberry reads the errors before the hooks' after-parts run, and validates again
        # itself only when no extension has set them.
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None:
            rules = (*ctx.validation_rules, *STRAWBERRY_RULES)
            if not self.shows_schema:
                rules = (*rules, NoSchemaIntrospectionCustomRule)
            check = _check if _is_large(ctx.query, self.config.max_cached_document_bytes) else _cached_check
            errors, shape = check(ctx.schema._schema, document, rules, not self.shows_schema, self.config.shape)
            ctx.pre_execution_errors = list(errors)
            if not errors:
                variables = ctx.variables if isinstance(ctx.variables, dict) else None
                self.cost = operation_cost(
                    ctx.schema._schema, document, ctx.operation_name, variables, self.config.cost, shape.fragment_order
                )
                if self.cost > self.budget:
                    detail = f"The query costs {self.cost:,}; at most {self.budget:,} is allowed."
                    ctx.pre_execution_errors = [too_complex(detail)]
        yield

    def on_execute(self) -> Iterator[None]:
        token = _objects.set(_Objects(self.config.max_objects))
        try:
            yield
        finally:
            with suppress(ValueError):  # closed from another context (an abandoned request): nothing to undo
                _objects.reset(token)
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = _one_objects_error(result.errors)
            if not self.shows_schema:
                _strip_suggestions(result.errors)

    def get_results(self) -> dict[str, Any]:
        # Shopify's shape (rate-limit fields join it elsewhere); null when the document could not be costed.
        if not self.config.report_cost:
            return {}
        return {"cost": {"requestedQueryCost": self.cost, "maximumAvailable": self.budget}}


def _strip_suggestions(errors: list[GraphQLError] | None) -> None:
    for error in errors or ():
        if "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)


def _one_objects_error(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Once the objects cap is reached every later list fails too: the client needs to hear it once."""
    kept: list[GraphQLError] = []
    seen = False
    for error in errors:
        if isinstance(error.original_error, TooComplex):
            if seen:
                continue
            seen = True
        kept.append(error)
    return kept


# --- the objects cap: only list fields of objects count, so other fields run as fast as before --------------


def count_list_objects(schema: GraphQLSchema) -> None:
    """Wrap the resolver of every list-of-objects field to count the items it returns against the cap."""
    for graphql_type in schema.type_map.values():
        if graphql_type.name.startswith("__") or not isinstance(
            graphql_type, (GraphQLObjectType, GraphQLInterfaceType)
        ):
            continue
        for graphql_field in graphql_type.fields.values():
            resolve = graphql_field.resolve or default_field_resolver
            lists_objects = is_list_type(get_nullable_type(graphql_field.type)) and not is_leaf_type(
                get_named_type(graphql_field.type)
            )
            if lists_objects and not getattr(resolve, "counts_objects", False):  # never twice: items count double
                graphql_field.resolve = _counting(resolve)


def _counting(resolve: Callable[..., Any]) -> Callable[..., Any]:
    def counted(source: Any, info: Any, **arguments: Any) -> Any:
        result = resolve(source, info, **arguments)
        if isawaitable(result):
            return _count_later(result)
        _count(result)
        return result

    counted.counts_objects = True  # type: ignore[attr-defined]
    return counted


async def _count_later(result: Awaitable[Any]) -> Any:
    value = await result
    _count(value)
    return value


def _count(value: Any) -> None:
    objects = _objects.get()
    if objects is None or value is None:
        return
    try:
        objects.count += len(value)
    except TypeError:  # a generator or another iterable without a length: not counted
        return
    if objects.count > objects.limit:
        raise TooComplex(f"The request resolved more than {objects.limit:,} objects.")
