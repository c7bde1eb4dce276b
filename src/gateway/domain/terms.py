"""The terms of an installment plan as data (R11: "tick to accept the terms"): a version and its text.

The text lives in the one message catalogue (``gateway.domain.i18n``, Danish and English) under the key
``PLAN_TERMS_<version>``; every plan stores the version its citizen accepted, by their own click or on the phone
with a caseworker. A version is never edited once published: new wording is a new version, and
``tests/unit/test_terms.py`` pins each version's text by a digest, so changing a published text fails there.
"""

from __future__ import annotations

from typing import Final

from gateway.domain.i18n import MESSAGES, Language, translate

CURRENT_TERMS_VERSION: Final = "2026-12"
"""The version a citizen accepts today. Older versions stay readable (a plan shows the terms it was made on)."""

PUBLISHED_TERMS_VERSIONS: Final[tuple[str, ...]] = ("2026-12",)

MAX_TERMS_VERSION_LENGTH: Final = 40


def _key(version: str) -> str:
    return "PLAN_TERMS_" + version.replace("-", "_")


def is_published(version: str) -> bool:
    return version in PUBLISHED_TERMS_VERSIONS


def terms_text(version: str, language: Language) -> str | None:
    """The text of a published version in the language (None for a version that was never published)."""
    if not is_published(version) or _key(version) not in MESSAGES:
        return None
    return translate(_key(version), language)
