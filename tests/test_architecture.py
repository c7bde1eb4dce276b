"""The layers' shape (docs/architecture.md): no import cycle anywhere, and SQL only in the adapters.

The one-way arrows between the layers are import-linter contracts in pyproject.toml (`make lint`); these
tests add what a contract cannot say.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("gateway", "resolvers", "adapters")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def _ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def test_no_module_imports_itself_back(graph: grimp.ImportGraph) -> None:
    cycles = []
    for importer in sorted(m for m in graph.modules if _ours(m)):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if not _ours(imported) or imported == importer:
                continue
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.append(" -> ".join((importer, *back)))
    assert cycles == []


def test_no_package_imports_a_package_that_imports_it_back(graph: grimp.ImportGraph) -> None:
    """Cycles between the layers' packages, not only between modules (e.g. gateway.cli <-> gateway.devserver
    once; resolvers.context -> gateway.app -> resolvers)."""
    packages = sorted({m for m in graph.modules if _ours(m) and graph.find_children(m)})
    cycles = []
    for a in packages:
        for b in packages:
            if a < b and not b.startswith(a + ".") and not a.startswith(b + "."):
                there = graph.chain_exists(importer=a, imported=b, as_packages=True)
                back = graph.chain_exists(importer=b, imported=a, as_packages=True)
                if there and back and not {a, b} & {"gateway", "resolvers", "adapters"}:
                    cycles.append((a, b))
    assert cycles == []


def test_sql_only_in_the_adapters(graph: grimp.ImportGraph) -> None:
    sql = {"sqlalchemy", "asyncpg", "aiosqlite", "alembic"}
    outside = sorted(
        importer
        for package in sql
        if package in graph.modules
        for importer in graph.find_modules_that_directly_import(package)
        if _ours(importer) and not importer.startswith("adapters.")
    )
    assert outside == []
