"""What an operation costs, in the style of IBM's GraphQL cost directives spec, with the request's variables.

- A field of an object type costs 1 per object it returns, plus what its selection costs for each of them;
  scalars and enums cost 0, and so does ``Money`` (an amount formatted with its parent, never loaded).
- A list's size is its ``first`` for a connection's ``nodes``/``edges`` (default and maximum: the page size),
  the number of ``ids`` for ``nodes(ids:)``, else the assumed size below (the spec's ``assumedSize``).
- Fragments on different concrete types of an abstract field are alternatives: the dearest one counts.
- ``__schema`` and ``__type`` cost a flat 100 (answered from memory, and gated separately); ``__typename`` 0.

Each fragment is costed once per page size it is spread under (a fragment only depends on the page when it is
on a connection type), in the dependency order the shape pass found, so the pass is linear in the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    value_from_ast_untyped,
)

INTROSPECTION_COST = 100
TYPE_WEIGHTS: Mapping[str, int] = {"Money": 0}
# Lists without a slicing argument: how many items a request is assumed to get (docs/api.md "Limits and cost").
ASSUMED_LIST_SIZES: Mapping[str, int] = {
    "Citizen.mobilePayAccounts": 5,
    "Citizen.notices": 10,
    "ContactDetails.phoneHours": 7,  # a week
    "Statement.lines": 20,
    "InstallmentPlan.claims": 10,
    "PaymentMethod.claims": 10,
    "Payment.claims": 10,
    "Payment.allocations": 10,
    "InstallmentPlan.installments": 18,  # the longest plan without an individual assessment
    "InstallmentPlanPreview.installments": 18,
    "InstallmentPlan.draws": 18,
    "PaymentMethod.draws": 18,
    "Contacts.departments": 20,
    "PlanRange.options": 4,
}
DEFAULT_LIST_SIZE = 10
SIZED_FIELDS = frozenset({"nodes", "edges"})


@dataclass(frozen=True)
class CostModel:
    page_size: int  # ``first``'s default and maximum (a larger ``first`` is refused by the resolver)
    max_ids: int  # ``nodes(ids:)``'s maximum


class _Costing:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        model: CostModel,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.model = model
        self.memo: dict[tuple[str, int | None], int] = {}

    def fragment(self, name: str, page: int | None) -> int:
        key = (name, page)
        cost = self.memo.get(key)
        if cost is None:
            definition = self.fragments.get(name)
            condition = self.schema.get_type(definition.type_condition.name.value) if definition else None
            cost = (
                0
                if definition is None or condition is None
                else self.selection_set(definition.selection_set, condition, page)
            )
            self.memo[key] = cost
        return cost

    def selection_set(self, selection_set: SelectionSetNode, parent: GraphQLNamedType, page: int | None) -> int:
        common = 0
        alternatives: dict[str, int] = {}  # concrete type -> cost of the fragments on it
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                common += self.field(selection, parent, page)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = (
                    self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                )
                if condition is None:
                    continue
                cost = self.selection_set(selection.selection_set, condition, page)
            elif isinstance(selection, FragmentSpreadNode):
                definition = self.fragments.get(selection.name.value)
                condition = self.schema.get_type(definition.type_condition.name.value) if definition else None
                if condition is None:
                    continue
                cost = self.fragment(selection.name.value, page)
            else:  # pragma: no cover - graphql-core has no other selections
                continue
            if condition is parent or is_abstract_type(condition):
                common += cost
            else:
                alternatives[condition.name] = alternatives.get(condition.name, 0) + cost
        return common + max(alternatives.values(), default=0)

    def field(self, node: FieldNode, parent: GraphQLNamedType, page: int | None) -> int:
        name = node.name.value
        if name == "__typename":
            return 0
        if name in ("__schema", "__type"):
            return INTROSPECTION_COST
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 0
        definition = parent.fields.get(name)
        if definition is None or node.selection_set is None:
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        own_page = self.page(node) if "first" in definition.args else None
        each = TYPE_WEIGHTS.get(named.name, 1) + self.selection_set(node.selection_set, named, own_page)
        if not is_list_type(get_nullable_type(definition.type)):
            return each
        if "ids" in definition.args:
            size = self.ids(node)
        elif own_page is not None:
            size = own_page
        elif page is not None and name in SIZED_FIELDS:
            size = page
        else:
            size = ASSUMED_LIST_SIZES.get(f"{parent.name}.{name}", DEFAULT_LIST_SIZE)
        return size * each

    def argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, self.variables)
        return Undefined

    def page(self, node: FieldNode) -> int:
        first = self.argument(node, "first")
        if isinstance(first, int) and not isinstance(first, bool):
            return max(0, min(first, self.model.page_size))
        return self.model.page_size  # absent or null: the default page (anything else is refused at execution)

    def ids(self, node: FieldNode) -> int:
        ids = self.argument(node, "ids")
        if ids is Undefined or ids is None:
            return 0
        count = len(ids) if isinstance(ids, list) else 1  # one value for a list input is a list of one
        return min(count, self.model.max_ids)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    model: CostModel,
    fragment_order: tuple[str, ...] = (),
) -> int:
    """The cost of the operation a request runs; 0 when the document has no such operation."""
    operation: OperationDefinitionNode | None = None
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if operation is None and (
                operation_name is None or (definition.name and definition.name.value == operation_name)
            ):
                operation = definition
        elif isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)
    if operation is None:
        return 0
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    if root is None:
        return 0
    values = dict(variables or {})
    for variable in operation.variable_definitions or ():
        name = variable.variable.name.value
        if name not in values and variable.default_value is not None:
            values[name] = value_from_ast_untyped(variable.default_value)
    costing = _Costing(schema, fragments, values, model)
    for name in fragment_order:  # dependencies first: no recursion along chains of fragments
        costing.fragment(name, None)
    return costing.selection_set(operation.selection_set, root, None)
