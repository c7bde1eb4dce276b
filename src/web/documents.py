"""The GraphQL documents the web page sends: the repository's trusted documents (docs/trusted-documents.md),
``src/gateway/trusted_documents/web_*.graphql``, one named operation each.

The page never builds a query at run time and never sends a document's text: every request names its document
by id, ``{"documentId": "sha256:<hex>", "variables": …}``, the sha256 of the file's exact bytes, as any client
of the trusted documents computes it from the file it ships. Only the files are read here (not the gateway's
registry, which parses them with graphql-core): the page is a client, and the id is all it needs.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

_OPERATION = re.compile(r"^\s*(?:query|mutation|subscription)\s+([A-Za-z_]\w*)", re.MULTILINE)
PREFIX = "web_"


@dataclass(frozen=True)
class Document:
    operation: str
    text: str
    id: str  # "sha256:<hex>"


@functools.cache
def _documents() -> dict[str, Document]:
    folder = files("gateway") / "trusted_documents"
    found: dict[str, Document] = {}
    for entry in folder.iterdir():
        if not (entry.name.startswith(PREFIX) and entry.name.endswith(".graphql")):
            continue
        raw = entry.read_bytes()
        text = raw.decode("utf-8")
        match = _OPERATION.search(text)
        if match is None:
            raise RuntimeError(f"{entry.name}: no named operation")
        found[match.group(1)] = Document(match.group(1), text, "sha256:" + hashlib.sha256(raw).hexdigest())
    return found


class Documents:
    """Maps an operation's name to the request body that runs it."""

    def names(self) -> set[str]:
        return set(_documents())

    def get(self, operation: str) -> Document:
        return _documents()[operation]

    def request_body(self, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
        return {"documentId": self.get(operation).id, "variables": variables}
