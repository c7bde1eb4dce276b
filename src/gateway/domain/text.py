"""Free text that people write and other people read: a citizen's reason, a caseworker's note, message or purpose.

Pure domain logic: no I/O.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# Line breaks and tabs are part of a written text; every other control character is not (a NUL, say, which
# PostgreSQL cannot store in text and a page would carry into its HTML).
_ALLOWED_CONTROLS: Final = frozenset("\n\r\t")


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character other than a line break or a tab."""
    return any(unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS for c in text)


def has_any_control_character(text: str) -> bool:
    """Whether ``text`` holds any control character at all, line breaks included: for one-line identifiers
    (idempotency keys), which PostgreSQL could not store with a NUL in them."""
    return any(unicodedata.category(c) == "Cc" for c in text)
