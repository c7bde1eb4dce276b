"""The compiled read path (issue 10, docs/compiled-reads.md): trusted query documents compiled at start-up into
plans that read rows in batches and build the response straight from them, with graphql-core's answer as the
reference every compiled answer must equal byte for byte (tests/compiled/).

``CompiledReads`` holds the plans of one schema and its settings. ``execute`` answers a citizen's request with
the whole response body, or raises ``Fallback`` having loaded nothing or with what it loaded primed into the
request's DataLoaders; the caller then runs the request the ordinary way (Strawberry) on the same context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import strawberry
import structlog
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLObjectType,
    NoSchemaIntrospectionCustomRule,
    get_named_type,
    parse,
    specified_rules,
    validate,
)
from strawberry.types.base import StrawberryObjectDefinition

from gateway.settings import Settings
from resolvers.citizens import queries as citizen_queries
from resolvers.citizens import types as citizen_types
from resolvers.claims import types as claim_types
from resolvers.common import types as common_types
from resolvers.common.mapping import Tables
from resolvers.compiled.plan import Compiler, Fallback, NotCompilable, Plan
from resolvers.compiled.relations import Loaded
from resolvers.context import Context
from resolvers.limits import LimitsConfig, analyse, operation_cost
from resolvers.limits.extension import STRAWBERRY_RULES
from resolvers.schema import format_error, upstream_error

__all__ = ["CompiledReads", "Fallback", "NotCompilable", "differences"]

log = structlog.get_logger(__name__)

TABLES: Tables = {
    **common_types.COMPILED,
    **claim_types.COMPILED,
    **citizen_types.COMPILED,
    **citizen_queries.COMPILED,
}


def _attributes(schema: strawberry.Schema) -> Any:
    """GraphQL field name -> Python attribute, for the plain fields (no resolver, no extension) of a Strawberry
    object type: what its default resolver reads.

    Left out: a plain field of a type that has a table (``Money``, ``Claim``…) on an object that is not a generic
    container. A connection or an edge holds what the mapping that made it put there (rows, øre); any other
    object holds a Strawberry object of that type (a draw's ``amount``, a payment request's ``claims``), which
    the type's table cannot read, so a document that asks for it is not compiled."""
    converter = schema.config.name_converter

    def attributes(type_name: str) -> dict[str, str] | None:
        definition = schema.get_type_by_name(type_name)
        if not isinstance(definition, StrawberryObjectDefinition):
            return None
        graphql_type = schema._schema.get_type(type_name)
        assert isinstance(graphql_type, GraphQLObjectType)
        fields = {}
        for f in definition.fields:
            if f.base_resolver is not None or f.extensions or f.permission_classes:
                continue
            name = converter.get_graphql_name(f)
            field = graphql_type.fields.get(name)
            if field is not None and definition.concrete_of is None and get_named_type(field.type).name in TABLES:
                continue
            fields[name] = f.python_name
        return fields

    return attributes


@dataclass(frozen=True, slots=True)
class Compiled:
    plan: Plan
    operation_name: str | None
    fragment_order: Any
    cost: int | None  # the document's cost when it has no variables


class CompiledReads:
    """The plans of the query documents given to ``add`` (the trusted documents), by their text."""

    def __init__(self, schema: strawberry.Schema, settings: Settings, limits: LimitsConfig) -> None:
        self.schema, self.settings, self.limits = schema, settings, limits
        self._compiler = Compiler(schema._schema, TABLES, _attributes(schema), settings.max_page_size)
        self._plans: dict[str, Compiled] = {}
        self.answered = 0  # requests answered by a plan
        self.handed_over = 0  # requests a plan handed to Strawberry (Fallback)

    def add_all(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.add(text)

    def add(self, text: str) -> bool:
        """Compile a document; False (and it runs the ordinary way) when it uses something not mapped."""
        try:
            document = parse(text, max_tokens=self.settings.max_query_tokens)
            self._check(document)
            plan = self._compiler.compile(document)
        except (GraphQLError, NotCompilable) as exc:
            log.info("compiled.not_compiled", reason=str(exc)[:200])
            return False
        shape = analyse(document, self.limits.shape)
        if shape.violation(self.limits.shape) is not None:
            return False
        name = plan.operation.name.value if plan.operation.name else None
        cost = None if plan.has_variables else self._cost(document, name, {}, shape.fragment_order)
        self._plans[text] = Compiled(plan, name, shape.fragment_order, cost)
        return True

    def _check(self, document: DocumentNode) -> None:
        rules = (*specified_rules, *STRAWBERRY_RULES, NoSchemaIntrospectionCustomRule)
        errors = validate(self.schema._schema, document, rules)
        if errors:
            raise NotCompilable(errors[0].message)

    def _cost(self, document: DocumentNode, name: str | None, variables: dict[str, Any], order: Any) -> int:
        return operation_cost(self.schema._schema, document, name, variables, self.limits.cost, order)

    def plan(self, text: str) -> Compiled | None:
        return self._plans.get(text)

    def __len__(self) -> int:
        return len(self._plans)

    async def execute(
        self,
        compiled: Compiled,
        ctx: Context,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        *,
        loaded: Loaded | None = None,
    ) -> dict[str, Any]:
        """The response body (``data``, the upstream error if any, ``extensions.cost``), or ``Fallback``."""
        try:
            body = await self._execute(compiled, ctx, variables, operation_name, loaded)
        except Fallback:
            self.handed_over += 1
            raise
        self.answered += 1
        return body

    async def _execute(
        self,
        compiled: Compiled,
        ctx: Context,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        loaded: Loaded | None,
    ) -> dict[str, Any]:
        if operation_name is not None and operation_name != compiled.operation_name:
            raise Fallback("operation name")
        plan = compiled.plan
        coerced = plan.coerce_variables(variables) if plan.has_variables else None
        cost = compiled.cost
        if cost is None:
            cost = self._cost(plan.document, compiled.operation_name, dict(variables or {}), compiled.fragment_order)
        budget = self.limits.budget(ctx.viewer)
        if cost > budget:
            raise Fallback("cost")  # QUERY_TOO_COMPLEX, from the ordinary path
        data = await plan.run(ctx, ctx.viewer, coerced, max_objects=self.limits.max_objects, loaded=loaded)
        body: dict[str, Any] = {"data": data}
        if ctx.upstream_unavailable:
            body["errors"] = [format_error(upstream_error(), ctx.language)]
        if self.limits.report_cost:
            body["extensions"] = {"cost": {"requestedQueryCost": cost, "maximumAvailable": budget}}
        return body


def differences(left: Any, right: Any, path: str = "") -> list[str]:
    """The JSON paths (keys and list indexes, never values) where two answers differ, key order included."""
    if isinstance(left, dict) and isinstance(right, dict):
        if list(left) != list(right):
            return [path or "."]
        return [d for k in left for d in differences(left[k], right[k], f"{path}.{k}")]
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [path]
        return [d for i, (a, b) in enumerate(zip(left, right, strict=True)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if type(left) is type(right) and left == right else [path]
