"""The trusted documents in the repository (src/gateway/trusted_documents/): CI validates every one against the
schema the code builds, and the registry's rules (ids, one named operation each, unique names)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from graphql import OperationType, parse, validate

from gateway.settings import Settings
from gateway.trusted_documents import (
    DIRECTORY,
    OTHER,
    InvalidTrustedDocument,
    TrustedDocuments,
    document_id,
    trusted_documents,
)
from resolvers.limits.cost import operation_cost
from resolvers.limits.extension import LimitsConfig
from resolvers.limits.shape import analyse
from resolvers.schema import build_schema
from tests.bench.run import OVERVIEW as BENCH_OVERVIEW

FILES = sorted(DIRECTORY.glob("*.graphql"))
SETTINGS = Settings()
SCHEMA = build_schema(SETTINGS)._schema
LIMITS = LimitsConfig.from_settings(SETTINGS, max_ids=100)


def test_the_directory_holds_the_clients_operations() -> None:
    names = {doc.operation_name for doc in trusted_documents()}
    assert len(trusted_documents()) == len(FILES) >= 19
    for expected in ("Overview", "ClaimDetails", "PreviewInstallmentPlan", "CitizenPayments", "CitizenNotices"):
        assert expected in names
    for expected in ("CitizenInstallmentPlans", "CitizenPaymentMethods", "CitizenAccessLog", "CaseworkerCitizen"):
        assert expected in names
    assert "CaseworkerItems" in names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_document_is_valid_against_the_schema_and_within_the_limits(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    document = parse(text)
    assert validate(SCHEMA, document) == []
    shape = analyse(document, LIMITS.shape)
    assert shape.violation(LIMITS.shape) is None
    # A citizen's budget holds every document, so a trusted document is never QUERY_TOO_COMPLEX (with the
    # default page size); the contacts, which need no token, fit the anonymous budget.
    cost = operation_cost(SCHEMA, document, None, {}, LIMITS.cost)
    assert cost <= SETTINGS.cost_budget_citizen
    if path.name in ("contacts.graphql", "web_contacts.graphql"):
        assert cost <= SETTINGS.cost_budget_anonymous


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_document_has_one_named_operation_and_its_id_is_the_sha256_of_its_bytes(path: Path) -> None:
    [doc] = [d for d in trusted_documents() if d.file_name == path.name]
    assert doc.id == hashlib.sha256(path.read_bytes()).hexdigest() == document_id(doc.text)
    assert doc.document_id == f"sha256:{doc.id}"
    operations = [d for d in parse(doc.text).definitions if d.kind == "operation_definition"]
    assert len(operations) == 1
    assert operations[0].name is not None and operations[0].name.value == doc.operation_name


def test_ids_and_operation_names_are_unique() -> None:
    docs = list(trusted_documents())
    assert len({d.id for d in docs}) == len({d.operation_name for d in docs}) == len(FILES)


def test_the_overview_is_the_benchmarks_query() -> None:
    """performance.md's shape, as ``make bench`` sends it (the file has no trailing newline, so the bench's text
    is the document byte for byte)."""
    overview = trusted_documents().by_operation_name("Overview")
    assert overview is not None and overview.text == BENCH_OVERVIEW
    assert overview.operation_type is OperationType.QUERY


def test_look_ups() -> None:
    docs = trusted_documents()
    overview = docs.by_operation_name("Overview")
    assert overview is not None
    assert docs.by_id(overview.id) is overview
    assert docs.by_id(overview.document_id) is overview
    assert docs.by_id(overview.id.upper()) is overview
    assert docs.by_id("md5:" + overview.id) is None
    assert docs.by_id("0" * 64) is None
    assert docs.match(overview.text) is overview
    assert docs.match(overview.text + "\n") is overview  # trailing whitespace moves no error location
    assert docs.match(" " + overview.text) is None
    assert docs.match(overview.text.replace("name", "name ")) is None
    assert docs.operation_label(overview.text) == "Overview"
    assert docs.operation_label("{ me { name } }") == OTHER
    assert docs.operation_label(None) == OTHER


def _write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.graphql": "query A { me { name } }", "b.graphql": "query A { me { cpr } }"}, "already a.graphql's"),
        ({"a.graphql": "{ me { name } }"}, "exactly one named operation"),
        ({"a.graphql": "query A { me { name } } query B { me { cpr } }"}, "exactly one named operation"),
        ({"a.graphql": "fragment F on Citizen { name }"}, "exactly one named operation"),
        ({"a.graphql": "query A { me { name }"}, "Syntax Error"),
    ],
)
def test_a_bad_directory_is_refused(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidTrustedDocument, match=message):
        TrustedDocuments.from_directory(_write(tmp_path, files))


def test_new_files_are_picked_up(tmp_path: Path) -> None:
    text = "query Mine($id: ID!) { node(id: $id) { id } }\n"
    docs = TrustedDocuments.from_directory(_write(tmp_path, {"mine.graphql": text, "notes.txt": "not a document"}))
    assert [d.operation_name for d in docs] == ["Mine"]
    mine = docs.by_operation_name("Mine")
    assert mine is not None and mine.id == hashlib.sha256(text.encode()).hexdigest()
