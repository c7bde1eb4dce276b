"""Reading an import file's bytes: UTF-8 JSON, with keys given twice remembered (``json`` keeps the last)."""

from __future__ import annotations

import json
from typing import Any

from adapters.ledger.importer.report import ImportProblem


class JsonObject(dict[str, Any]):
    """A JSON object that remembers keys that appeared more than once."""

    duplicate_keys: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject()
    duplicates: list[str] = []
    for key, value in pairs:
        if key in obj:
            duplicates.append(key)
        obj[key] = value
    obj.duplicate_keys = duplicates
    return obj


def duplicate_keys(value: object) -> list[str]:
    """The keys given more than once in a parsed JSON object (none for anything else)."""
    return value.duplicate_keys if isinstance(value, JsonObject) else []


def parse_json(data: bytes) -> tuple[object, list[ImportProblem]]:
    """Decode and parse a file's bytes. Problems carry ``line L, column C``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1  # in characters
        return None, [ImportProblem(f"line {line}, column {column}", "the file is not valid UTF-8")]
    try:
        return json.loads(text, object_pairs_hook=_object_pairs), []
    except json.JSONDecodeError as exc:
        # exc.msg is the parser's description only (it never quotes the document).
        return None, [ImportProblem(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")]
    except RecursionError:
        return None, [ImportProblem("$", "invalid JSON: nested too deeply")]
