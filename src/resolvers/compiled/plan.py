"""Compile a query document against the schema into a plan, and run a plan (docs/compiled-reads.md).

A plan is a tree of ``ObjectPlan``s (one per selection set, fields collected and merged in graphql-core's order:
fragments expanded where their type condition holds, response keys merged at their first appearance), each field
with how it maps to its object's source (resolvers/common/mapping.py), its arguments and how its value is
completed (the schema's own serializers for leaves, nullability, lists). Running one takes two passes:

1. ``_prefetch``: level by level, the keys of every ``Related`` field over all sources of the level, one batched
   load per relation (Gældsstyrelsen's call started first, so it overlaps the statements), then the next level;
2. ``_complete``: the response dict built straight from the sources, without awaiting anything.

Whatever graphql-core would answer with an error (a non-null field without a value, a value its scalar cannot
serialize, more objects than the cap, a mapping that raises) raises ``Fallback`` instead: the caller hands the
request to Strawberry with everything loaded so far (relations.py primes its DataLoaders), so the error is
graphql-core's own, byte for byte, and nothing is read twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_argument_values,
    get_named_type,
    get_variable_values,
    is_leaf_type,
    visit,
)
from graphql.language import Visitor

from resolvers.common.mapping import MAX_PAGE_SIZE, Related, Tables, Value
from resolvers.compiled.relations import RELATIONS, Loaded, Relation
from resolvers.context import Context

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class Fallback(Exception):
    """The plan cannot give graphql-core's answer itself; Strawberry gives it (with what was loaded)."""


class NotCompilable(Exception):
    """The document uses something the compiler does not map: it always runs the ordinary way."""


# --- leaves: the schema's own serializers, with fast paths for values that are already what they serialize to ---


def _leaf(graphql_type: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    serialize = graphql_type.serialize
    if isinstance(graphql_type, GraphQLEnumType):
        memo: dict[Any, Any] = {}

        def enum(value: Any) -> Any:
            try:
                return memo[value]
            except KeyError:
                memo[value] = out = serialize(value)
                return out

        return enum
    name = graphql_type.name
    if name in ("String", "ID"):
        return lambda v: v if v.__class__ is str else serialize(v)
    if name == "Int":
        return lambda v: v if v.__class__ is int and _INT_MIN <= v <= _INT_MAX else serialize(v)
    if name == "Boolean":
        return lambda v: v if v.__class__ is bool else serialize(v)
    return serialize


# --- the plan --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class FieldPlan:
    key: str  # the response key (alias or name)
    typename: str | None  # set for __typename: the value
    spec: Value | Related | None
    relation: Relation | None
    arguments: dict[str, Any] | None  # coerced when the document fixes them (no variables), else None
    node: FieldNode | None
    definition: GraphQLField | None
    nullable: bool
    list_item_nullable: bool | None  # None: not a list
    leaf: Callable[[Any], Any] | None
    child: ObjectPlan | None
    counts_objects: bool  # a list of objects: counted against the objects cap, as the schema's wrapper does


@dataclass(slots=True)
class ObjectPlan:
    type_name: str
    fields: list[FieldPlan]
    io: bool = False  # a Related field here or below

    def related(self) -> list[FieldPlan]:
        return [f for f in self.fields if f.relation is not None]


@dataclass(slots=True)
class _Request:
    ctx: Context
    variables: Any  # graphql-core's VariableValues
    max_page_size: int
    loaded: Loaded = field(default_factory=dict)
    arguments: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    objects: int = 0


class Plan:
    """A compiled query document: ``run`` gives the ``data`` dict or raises ``Fallback``."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        root: ObjectPlan,
        max_page_size: int,
    ) -> None:
        self.schema, self.document, self.operation, self.root = schema, document, operation, root
        self.max_page_size = max_page_size
        self.has_variables = bool(operation.variable_definitions)

    def coerce_variables(self, inputs: Mapping[str, Any] | None) -> Any:
        result = get_variable_values(self.schema, self.operation.variable_definitions or (), dict(inputs or {}))
        if isinstance(result, list):
            raise Fallback("variables")  # graphql-core's errors for them, from the ordinary path
        return result

    async def run(
        self, ctx: Context, root: Any, variables: Any, *, max_objects: int, loaded: Loaded | None = None
    ) -> dict[str, Any]:
        """The ``data`` of the operation for ``root`` (the Query's source), or ``Fallback``."""
        request = _Request(ctx, variables, self.max_page_size, loaded if loaded is not None else {})
        try:
            await _prefetch(self.root, [root], request)
            data = _complete_object(self.root, root, request)
            if request.objects > max_objects:
                raise Fallback("objects")
        except Exception as exc:
            _prime(request)  # Strawberry takes over with every row and upstream answer loaded so far
            if isinstance(exc, Fallback):
                raise
            raise Fallback(type(exc).__name__) from exc  # any surprise is graphql-core's to report
        return data


def _prime(request: _Request) -> None:
    for name, values in request.loaded.items():
        RELATIONS[name].prime(request.ctx, values)


def _arguments(f: FieldPlan, request: _Request) -> Mapping[str, Any]:
    if f.arguments is not None:
        return f.arguments
    cached = request.arguments.get(id(f))
    if cached is None:
        assert f.definition is not None and f.node is not None
        cached = {**get_argument_values(f.definition, f.node, request.variables), MAX_PAGE_SIZE: request.max_page_size}
        request.arguments[id(f)] = cached
    return cached


def _value(f: FieldPlan, source: Any, request: _Request) -> Any:
    spec = f.spec
    if isinstance(spec, Value):
        return spec.get(source)
    assert spec is not None
    loaded = request.loaded[spec.relation][spec.key(source)]
    return spec.get(loaded, source, _arguments(f, request))


async def _prefetch(plan: ObjectPlan, sources: list[Any], request: _Request) -> None:
    if not plan.io or not sources:
        return
    wanted: dict[str, list[Any]] = {}
    for f in plan.related():
        spec: Related = f.spec  # type: ignore[assignment]
        if spec.check is not None:
            spec.check(_arguments(f, request))
        have = request.loaded.setdefault(spec.relation, {})
        keys = wanted.setdefault(spec.relation, [])
        for s in sources:
            k = spec.key(s)
            if k not in have and k not in keys:
                keys.append(k)
    upstream = []
    for name, keys in wanted.items():
        if keys and RELATIONS[name].upstream:
            upstream.append((name, asyncio.ensure_future(RELATIONS[name].fetch(request.ctx, request.loaded, keys))))
    try:
        for name, keys in wanted.items():
            if keys and not RELATIONS[name].upstream:
                request.loaded[name].update(await RELATIONS[name].fetch(request.ctx, request.loaded, keys))
    finally:
        for name, task in upstream:
            request.loaded[name].update(await task)
    for f in plan.fields:
        child = f.child
        if child is None or not child.io:
            continue
        below: list[Any] = []
        for s in sources:
            value = _value(f, s, request)
            if value is None:
                continue
            if f.list_item_nullable is None:
                below.append(value)
            else:
                below.extend(v for v in value if v is not None)
        await _prefetch(child, below, request)


def _complete_object(plan: ObjectPlan, source: Any, request: _Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in plan.fields:
        if f.typename is not None:
            out[f.key] = f.typename
            continue
        value = _value(f, source, request)
        if value is None:
            if not f.nullable:
                raise Fallback(f"null at {plan.type_name}.{f.key}")
            out[f.key] = None
        elif f.list_item_nullable is None:
            out[f.key] = f.leaf(value) if f.leaf is not None else _complete_object(f.child, value, request)  # type: ignore[arg-type]
        else:
            if f.counts_objects:
                request.objects += len(value)
            if f.leaf is not None:
                leaf = f.leaf
                items = [None if v is None else leaf(v) for v in value]
            else:
                child = f.child
                items = [None if v is None else _complete_object(child, v, request) for v in value]  # type: ignore[arg-type]
            if not f.list_item_nullable and None in items:
                raise Fallback(f"null item at {plan.type_name}.{f.key}")
            out[f.key] = items
    return out


# --- compiling ---------------------------------------------------------------------------------------------------


class Compiler:
    """Compiles documents against one schema, with the field tables of the domain packages."""

    def __init__(
        self,
        schema: GraphQLSchema,
        tables: Tables,
        attributes: Callable[[str], Mapping[str, str] | None],
        max_page_size: int,
    ) -> None:
        # ``attributes(type_name)``: GraphQL field name -> Python attribute of the plain fields of a type whose
        # source is its Strawberry object (None: not a Strawberry object type).
        self.schema, self.tables, self.attributes = schema, tables, attributes
        self.max_page_size = max_page_size

    def compile(self, document: DocumentNode, operation_name: str | None = None) -> Plan:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is not None:
            operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
        if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
            raise NotCompilable("one query operation")
        operation = operations[0]
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        query_type = self.schema.query_type
        assert query_type is not None
        root = self._object(query_type, [operation.selection_set], fragments)
        return Plan(self.schema, document, operation, root, self.max_page_size)

    def _object(
        self,
        object_type: GraphQLObjectType,
        selection_sets: Iterable[SelectionSetNode],
        fragments: Mapping[str, FragmentDefinitionNode],
    ) -> ObjectPlan:
        grouped: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            self._collect(object_type, selection_set, fragments, grouped, set())
        table = self.tables.get(object_type.name)
        attributes = None if table is not None else self.attributes(object_type.name)
        if table is None and attributes is None:
            raise NotCompilable(f"no mapping for {object_type.name}")
        plan = ObjectPlan(object_type.name, [])
        for key, nodes in grouped.items():
            name = nodes[0].name.value
            if name == "__typename":
                plan.fields.append(
                    FieldPlan(key, object_type.name, None, None, None, None, None, False, None, None, None, False)
                )
                continue
            definition = object_type.fields.get(name)
            if definition is None or name.startswith("__"):
                raise NotCompilable(f"{object_type.name}.{name}")
            spec: Value | Related | None
            if table is not None:
                spec = table.get(name)
                if spec is None:
                    raise NotCompilable(f"no mapping for {object_type.name}.{name}")
            else:
                assert attributes is not None
                if name not in attributes:
                    raise NotCompilable(f"{object_type.name}.{name} has a resolver")
                attribute = attributes[name]
                spec = Value(attrgetter(attribute))
            plan.fields.append(self._field(key, nodes, definition, spec, fragments))
        plan.io = any(f.relation is not None or (f.child is not None and f.child.io) for f in plan.fields)
        return plan

    def _field(
        self,
        key: str,
        nodes: list[FieldNode],
        definition: GraphQLField,
        spec: Value | Related,
        fragments: Mapping[str, FragmentDefinitionNode],
    ) -> FieldPlan:
        node = nodes[0]
        if any(n.directives for n in nodes):
            raise NotCompilable("directives")
        relation = RELATIONS[spec.relation] if isinstance(spec, Related) else None
        if definition.args and relation is None:
            raise NotCompilable("arguments on a field without a relation")
        arguments: dict[str, Any] | None = None
        if not _uses_variables(node):
            arguments = {**get_argument_values(definition, node, None), MAX_PAGE_SIZE: self.max_page_size}
        graphql_type: GraphQLOutputType = definition.type
        nullable = not isinstance(graphql_type, GraphQLNonNull)
        if isinstance(graphql_type, GraphQLNonNull):
            graphql_type = graphql_type.of_type
        item_nullable: bool | None = None
        if isinstance(graphql_type, GraphQLList):
            item = graphql_type.of_type
            item_nullable = not isinstance(item, GraphQLNonNull)
            if isinstance(item, GraphQLNonNull):
                item = item.of_type
            if isinstance(item, GraphQLList):
                raise NotCompilable("lists of lists")
            graphql_type = item
        named = get_named_type(graphql_type)
        leaf = child = None
        if is_leaf_type(named):
            leaf = _leaf(named)
        elif isinstance(named, GraphQLObjectType):
            child = self._object(named, [n.selection_set for n in nodes if n.selection_set], fragments)
        else:
            raise NotCompilable(f"abstract type {named.name}")
        return FieldPlan(
            key,
            None,
            spec,
            relation,
            arguments,
            node,
            definition,
            nullable,
            item_nullable,
            leaf,
            child,
            counts_objects=item_nullable is not None and child is not None,
        )

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        grouped: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if selection.directives:
                raise NotCompilable("directives")
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, object_type):
                    self._collect(object_type, selection.selection_set, fragments, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = fragments[name]
                if self._applies(fragment.type_condition, object_type):
                    self._collect(object_type, fragment.selection_set, fragments, grouped, visited)

    def _applies(self, condition: Any, object_type: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        named = self.schema.get_type(condition.name.value)
        return named is object_type or named in object_type.interfaces


def _uses_variables(node: FieldNode) -> bool:
    found = False

    class _Find(Visitor):
        def enter_variable(self, *_: Any) -> None:
            nonlocal found
            found = True

    for argument in node.arguments or ():
        visit(argument, _Find())
    return found
