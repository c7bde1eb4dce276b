"""The GraphQL documents the web page sends, one named operation per ``.graphql`` file.

The page never builds a query at run time: every request is one of these operations with variables.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any


@functools.cache
def _texts() -> dict[str, str]:
    folder = files("web.documents")
    return {
        entry.name.removesuffix(".graphql"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".graphql")
    }


class Documents:
    """Maps an operation's name to the request body that runs it."""

    def names(self) -> set[str]:
        return set(_texts())

    def text(self, operation: str) -> str:
        return _texts()[operation]

    def request_body(self, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
        return {"query": self.text(operation), "operationName": operation, "variables": variables}
