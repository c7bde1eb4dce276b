"""A caseworker acting on a citizen's behalf (by phone): who acts, for whom, and why.

Every such action is written to the citizen's access log with the caseworker, the purpose and the request id, in
the action's own transaction (domain.md: citizens may ask who looked at or changed their data). The purpose is
free text the caseworker writes, required and bounded: it is shown to the citizen in their access log.

Pure domain logic: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway.domain.cpr import redact
from gateway.domain.errors import UserErrorCode
from gateway.domain.i18n import Language, translate
from gateway.domain.text import has_control_characters

MAX_PURPOSE_LENGTH: Final = 500
"""Characters of a purpose: a sentence or two ("Borger ringede; ønsker afdragsordning på daginstitution")."""

FIELD_PURPOSE: Final[tuple[str, ...]] = ("input", "purpose")


@dataclass(frozen=True, slots=True)
class Actor:
    """The caseworker as the access log shows them: id, and name and unit where the token said."""

    caseworker_id: str
    name: str | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Acting:
    """One action on a citizen's behalf: logged with ``actor``, ``purpose`` and ``request_id``."""

    actor: Actor
    purpose: str
    request_id: str | None


def purpose_problem(purpose: str) -> UserErrorCode | None:
    """Why a purpose cannot be accepted (None when it can). Blank is PURPOSE_REQUIRED."""
    text = purpose.strip()
    if not text:
        return UserErrorCode.PURPOSE_REQUIRED
    if len(text) > MAX_PURPOSE_LENGTH:
        return UserErrorCode.PURPOSE_TOO_LONG
    if has_control_characters(text):
        return UserErrorCode.INVALID_INPUT
    return None


def clean_purpose(purpose: str) -> str:
    """The purpose as stored: trimmed, and anything CPR-shaped masked (the log is shown, and a CPR never is)."""
    return redact(purpose.strip())


# --- the access log, for people ----------------------------------------------------------------------------------

DESCRIBED_OPERATIONS: Final[frozenset[str]] = frozenset(
    {
        "citizen",
        "node",
        "nodes",
        "installmentPlansAwaitingApproval",
        "caseworkerItems",
        "searchCitizens",
        "workQueue",
        "paymentUpdated",
        "paymentMethodUpdated",
        "installmentPlanUpdated",
        "resolveWorkQueueItem",
        "approveInstallmentPlan",
        "rejectInstallmentPlan",
        "counterOfferInstallmentPlan",
        "cancelInstallmentPlan",
        "previewInstallmentPlanOnBehalf",
        "createInstallmentPlanOnBehalf",
        "cancelInstallmentPlanOnBehalf",
        "enrolAutomaticPaymentOnBehalf",
        "stopAutomaticPaymentOnBehalf",
        "sendPaymentLink",
    }
)
"""The operations the access log describes in words of their own (``ACCESS_<operation>`` in the catalogue); any
other is described as looking at or changing the citizen's data."""


def who(name: str | None, unit: str | None, language: Language) -> str:
    """The caseworker as a citizen reads it: "Mette Sørensen (Betalingskontoret)", or as much as is known; never a
    bare id."""
    if name and unit:
        return f"{name} ({unit})"
    if name:
        return name
    if unit:
        return translate("ACCESS_CASEWORKER_IN_UNIT", language, unit=unit)
    return translate("ACCESS_CASEWORKER", language)


def describe_access(
    operation: str, *, name: str | None, unit: str | None, purpose: str | None, language: Language
) -> str:
    """One access-log entry in the citizen's language: who did what, and why when a purpose was given."""
    key = f"ACCESS_{operation}" if operation in DESCRIBED_OPERATIONS else "ACCESS_OTHER"
    text = translate(key, language, who=who(name, unit, language))
    if purpose:
        text += " " + translate("ACCESS_PURPOSE", language, purpose=purpose)
    return text
