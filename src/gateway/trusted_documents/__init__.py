"""Trusted documents: the GraphQL operations our own clients send, kept in the repository (docs/trusted-documents.md).

Every ``*.graphql`` file in this directory is one document with exactly one named operation. Its id is the
lower-case hex sha256 of the file's exact bytes (the GraphQL-over-HTTP persisted-documents appendix's "SHA256
hex document identifier", and Apollo's ``persistedQuery.sha256Hash``), so a client computes it from the text it
ships and the server never has to be told. The files are read once per process; adding a file is all it takes
to add a document (``tests/unit/test_trusted_documents.py`` validates each against the schema in CI).

This module only knows documents. What an HTTP request that names one means (``documentId``, APQ, the
citizens-only setting) is ``gateway.trusted_documents.requests``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

DIRECTORY = Path(__file__).parent
# What metrics and logs call an operation that is not a trusted document (a bounded label set).
OTHER = "other"
_SHA256_PREFIX = "sha256:"


def document_id(text: str) -> str:
    """The id of a document's text: lower-case hex sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bare_id(identifier: str) -> str:
    """``sha256:<hex>`` (the GraphQL-over-HTTP form) or bare hex (Apollo's) as bare lower-case hex. Any other
    prefix is returned unchanged, so it matches no document."""
    if identifier[: len(_SHA256_PREFIX)].lower() == _SHA256_PREFIX:
        identifier = identifier[len(_SHA256_PREFIX) :]
    return identifier.lower()


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    id: str  # lower-case hex sha256 of the file's bytes
    text: str
    operation_name: str
    operation_type: OperationType
    file_name: str

    @property
    def document_id(self) -> str:
        """The id as GraphQL over HTTP writes it: ``sha256:<hex>``."""
        return _SHA256_PREFIX + self.id


class InvalidTrustedDocument(ValueError):
    """A file that cannot be a trusted document (the process refuses to start with it)."""


def _load(path: Path) -> TrustedDocument:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
        document = parse(text)
    except (UnicodeDecodeError, GraphQLError) as exc:
        raise InvalidTrustedDocument(f"{path.name}: {exc}") from exc
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].name is None:
        raise InvalidTrustedDocument(f"{path.name}: a trusted document holds exactly one named operation")
    operation = operations[0]
    assert operation.name is not None
    return TrustedDocument(
        id=hashlib.sha256(raw).hexdigest(),
        text=text,
        operation_name=operation.name.value,
        operation_type=operation.operation,
        file_name=path.name,
    )


class TrustedDocuments:
    """The documents by id, by operation name and by text. Immutable once built."""

    def __init__(self, documents: Iterable[TrustedDocument]) -> None:
        self._by_id: dict[str, TrustedDocument] = {}
        self._by_name: dict[str, TrustedDocument] = {}
        self._by_text: dict[str, TrustedDocument] = {}
        for doc in documents:
            if (other := self._by_name.get(doc.operation_name)) is not None:
                raise InvalidTrustedDocument(
                    f"{doc.file_name}: operation {doc.operation_name} is already {other.file_name}'s"
                )
            if (other := self._by_id.get(doc.id)) is not None:
                raise InvalidTrustedDocument(f"{doc.file_name}: the same bytes as {other.file_name}")
            self._by_id[doc.id] = self._by_name[doc.operation_name] = doc
            # Trailing whitespace moves no error location, so a client that trimmed the file's last newline
            # (or added one) still sends the trusted document; anything else is a different document.
            self._by_text[doc.text.rstrip()] = doc

    @classmethod
    def from_directory(cls, directory: Path = DIRECTORY) -> TrustedDocuments:
        return cls(_load(path) for path in sorted(directory.glob("*.graphql")))

    def __iter__(self) -> Iterator[TrustedDocument]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def by_id(self, identifier: str) -> TrustedDocument | None:
        """The document with this id: ``sha256:<hex>`` or bare hex."""
        return self._by_id.get(bare_id(identifier))

    def by_operation_name(self, name: str) -> TrustedDocument | None:
        return self._by_name.get(name)

    def match(self, query: str) -> TrustedDocument | None:
        """The trusted document whose text this query is (up to trailing whitespace), else None."""
        return self._by_text.get(query.rstrip())

    def operation_label(self, query: str | None) -> str:
        """The trusted operation's name for this query text, else ``"other"``: a label with a bounded set of
        values (metrics), never a client's own operation name."""
        doc = self.match(query) if query is not None else None
        return doc.operation_name if doc is not None else OTHER


@lru_cache(maxsize=1)
def trusted_documents() -> TrustedDocuments:
    """This process's trusted documents: the files in this directory, read once."""
    return TrustedDocuments.from_directory()


def is_trusted(query: str) -> bool:
    return trusted_documents().match(query) is not None


__all__ = [
    "DIRECTORY",
    "OTHER",
    "InvalidTrustedDocument",
    "TrustedDocument",
    "TrustedDocuments",
    "bare_id",
    "document_id",
    "is_trusted",
    "trusted_documents",
]
