"""The shape of a document — depth, aliases, fragment spreads, expanded size, merge work — in one linear pass.

Strawberry's depth and alias rules expand every fragment spread again, so fragments that spread the one below
twice cost 2^levels. Here each fragment definition is walked once, in dependency order, and its summary reused
at every spread: the pass costs what the text costs. A spread that closes a cycle, or names no fragment, counts
as nothing; graphql-core's NoFragmentCyclesRule and KnownFragmentNamesRule report those afterwards (this pass
never follows a spread, so it cannot loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

# Selection sets nested deeper than this are refused outright: the walk recurses per level, and no real query
# comes near it (the depth limit stops ordinary fields at 12; introspection's ofType chains need about 10).
MAX_NESTING = 64


@dataclass(frozen=True)
class ShapeLimits:
    max_depth: int
    max_aliases: int
    max_fragment_spreads: int
    max_selections: int
    max_merge_work: int


@dataclass
class _Summary:
    """What a selection set (with its fragments expanded) amounts to."""

    reach: int = 0  # nesting of its deepest field below it (0: leaf fields only); introspection not counted
    aliases: int = 0
    selections: int = 0  # fields, inline fragments and spreads, each fragment counted at every spread
    merge_work: int = 0  # pairs the overlapping-fields rule compares, weighted by their sizes (upper bound)
    # response name -> (sum of the fields' sizes, sum of their squares): what a parent merges with its own
    groups: dict[str, list[int]] = field(default_factory=dict)
    merged: set[str] = field(default_factory=set)  # fragments whose fields are in ``groups`` (once, as graphql-core)


@dataclass(frozen=True)
class Shape:
    fragment_spreads: int
    depth: int
    aliases: int
    selections: int
    merge_work: int
    fragment_order: tuple[str, ...]  # every fragment after the ones it spreads (cycles cut)
    fragments_walked: int  # how many fragment definitions were walked (each at most once)
    too_nested: bool = False

    def violation(self, limits: ShapeLimits) -> str | None:
        """The first limit the document breaks, as a sentence for the client; None within every limit."""
        if self.fragment_spreads > limits.max_fragment_spreads:
            return (
                f"The document has {self.fragment_spreads} fragment spreads; at most {limits.max_fragment_spreads} "
                "are allowed."
            )
        if self.too_nested:
            return f"The document nests selections more than {MAX_NESTING} levels deep."
        if self.depth > limits.max_depth:
            return f"The query exceeds maximum operation depth of {limits.max_depth} (it reaches {self.depth})."
        if self.aliases > limits.max_aliases:
            return f"{self.aliases} aliases found; at most {limits.max_aliases} are allowed."
        if self.selections > limits.max_selections:
            return (
                f"With its fragments expanded the document has {self.selections:,} fields and fragments; at most "
                f"{limits.max_selections:,} are allowed."
            )
        if self.merge_work > limits.max_merge_work:
            return (
                f"Too many fields share a response name in one selection set: merging them takes "
                f"{self.merge_work:,} comparisons; at most {limits.max_merge_work:,} are allowed."
            )
        return None


class _TooNested(Exception):
    pass


def _spreads_in(selection_set: SelectionSetNode) -> Iterator[str]:
    """Every fragment spread below a selection set, without following any (iterative: no recursion)."""
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, (FieldNode, InlineFragmentNode)) and selection.selection_set is not None:
                stack.append(selection.selection_set)


def _dependency_order(fragments: dict[str, FragmentDefinitionNode], spreads: dict[str, list[str]]) -> list[str]:
    """Fragments in post-order of their spreads: each after those it spreads. A back edge (cycle) is skipped."""
    order: list[str] = []
    done: set[str] = set()
    on_path: set[str] = set()
    for root in fragments:
        if root in done:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(spreads[root]))]
        on_path.add(root)
        while stack:
            name, pending = stack[-1]
            for child in pending:
                if child in fragments and child not in done and child not in on_path:
                    on_path.add(child)
                    stack.append((child, iter(spreads[child])))
                    break
            else:
                stack.pop()
                on_path.discard(name)
                done.add(name)
                order.append(name)
    return order


class _Walker:
    def __init__(self) -> None:
        self.summaries: dict[str, _Summary] = {}

    def selection_set(self, selection_set: SelectionSetNode, nesting: int) -> _Summary:
        """A field's, fragment's or operation's selection set, with the work of merging its fields."""
        summary = _Summary()
        self._collect(selection_set, nesting, summary)
        for total, squares in summary.groups.values():
            summary.merge_work += (total * total - squares) // 2  # sum over pairs i<j of size_i * size_j
        return summary

    def _collect(self, selection_set: SelectionSetNode, nesting: int, into: _Summary) -> None:
        if nesting > MAX_NESTING:
            raise _TooNested
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                size = 1
                if selection.alias is not None:
                    into.aliases += 1
                if selection.selection_set is not None:
                    child = self.selection_set(selection.selection_set, nesting + 1)
                    size += child.selections
                    into.aliases += child.aliases
                    into.merge_work += child.merge_work
                    if not selection.name.value.startswith("__"):  # as Strawberry's depth rule: not introspection
                        into.reach = max(into.reach, 1 + child.reach)
                into.selections += size
                _add_group(into.groups, (selection.alias or selection.name).value, size, size * size)
            elif isinstance(selection, InlineFragmentNode):
                into.selections += 1
                self._collect(selection.selection_set, nesting + 1, into)  # its fields merge with the parent's
            elif isinstance(selection, FragmentSpreadNode):
                into.selections += 1
                fragment = self.summaries.get(selection.name.value)
                if fragment is not None:  # unknown, or a spread that closes a cycle: validation reports it
                    into.selections += fragment.selections
                    into.aliases += fragment.aliases
                    into.reach = max(into.reach, fragment.reach)
                    if selection.name.value not in into.merged:  # the overlap rule collects a name once per set
                        into.merged.add(selection.name.value)
                        for name, (total, squares) in fragment.groups.items():
                            _add_group(into.groups, name, total, squares)


def _add_group(groups: dict[str, list[int]], name: str, total: int, squares: int) -> None:
    group = groups.get(name)
    if group is None:
        groups[name] = [total, squares]
    else:
        group[0] += total
        group[1] += squares


def analyse(document: DocumentNode, limits: ShapeLimits) -> Shape:
    """The document's shape; linear in its size, whatever its fragments expand to."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    spreads: dict[str, list[str]] = {}
    operations: list[OperationDefinitionNode] = []
    spread_count = 0
    for definition in document.definitions:
        if isinstance(definition, (FragmentDefinitionNode, OperationDefinitionNode)):
            names = list(_spreads_in(definition.selection_set))
            spread_count += len(names)
            if isinstance(definition, OperationDefinitionNode):
                operations.append(definition)
            elif definition.name.value not in fragments:  # a duplicate name is a validation error
                fragments[definition.name.value] = definition
                spreads[definition.name.value] = names
    if spread_count > limits.max_fragment_spreads:  # refused as written: nothing else is walked
        return Shape(spread_count, 0, 0, 0, 0, (), 0)
    order = tuple(_dependency_order(fragments, spreads))
    walker = _Walker()
    try:
        for name in order:
            walker.summaries[name] = walker.selection_set(fragments[name].selection_set, 0)
        merge_work = sum(s.merge_work for s in walker.summaries.values())
        depth = aliases = selections = 0
        for operation in operations:
            summary = walker.selection_set(operation.selection_set, 0)
            depth = max(depth, summary.reach)
            aliases += summary.aliases
            selections += summary.selections
            merge_work += summary.merge_work
    except _TooNested:
        return Shape(spread_count, 0, 0, 0, 0, order, len(walker.summaries), too_nested=True)
    return Shape(spread_count, depth, aliases, selections, merge_work, order, len(walker.summaries))
