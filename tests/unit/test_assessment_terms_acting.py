"""The individual assessment's counter-offer (R11), terms as data, and the access log for people (issue 12)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.acting import (
    DESCRIBED_OPERATIONS,
    MAX_PURPOSE_LENGTH,
    clean_purpose,
    describe_access,
    purpose_problem,
    who,
)
from gateway.domain.errors import UserErrorCode
from gateway.domain.i18n import MESSAGES
from gateway.domain.plans import MIN_MONTHLY_OERE, CounterOffer, counter_offer
from gateway.domain.terms import CURRENT_TERMS_VERSION, PUBLISHED_TERMS_VERSIONS, is_published, terms_text

# --- counter-offer ------------------------------------------------------------------------------------------


def test_a_counter_offer_by_amount_keeps_the_amount_and_says_how_long() -> None:
    offer, violation = counter_offer(1_205_000, monthly_oere=50_000, months=None)
    assert violation is None
    assert offer == CounterOffer(monthly_oere=50_000, months=25)  # longer than 18 months: it is the assessment


def test_a_counter_offer_by_months_gets_the_least_amount_that_repays_in_time() -> None:
    offer, violation = counter_offer(1_205_000, monthly_oere=None, months=24)
    assert violation is None
    assert offer == CounterOffer(monthly_oere=50_209, months=24)  # ceil(12,050.00 / 24) = 502.09 DKK


def test_a_counter_offer_below_350_a_month_is_refused_by_amount_and_by_months() -> None:
    offer, violation = counter_offer(1_205_000, monthly_oere=34_999, months=None)
    assert offer is None and violation is not None
    assert (violation.code, violation.field) == (UserErrorCode.MONTHLY_AMOUNT_BELOW_MINIMUM, ("input", "monthlyAmount"))
    # 36 months of 12,050.00 DKK is 334.73 DKK a month: below the minimum, whatever the assessment says.
    offer, violation = counter_offer(1_205_000, monthly_oere=None, months=36)
    assert offer is None and violation is not None
    assert (violation.code, violation.field) == (UserErrorCode.MONTHLY_AMOUNT_BELOW_MINIMUM, ("input", "months"))


@pytest.mark.parametrize(
    ("monthly", "months", "code", "field"),
    [
        (None, None, UserErrorCode.INVALID_INPUT, ("input", "monthlyAmount")),
        (50_000, 12, UserErrorCode.INVALID_INPUT, ("input", "monthlyAmount")),
        (None, 0, UserErrorCode.INVALID_INPUT, ("input", "months")),
        (None, -3, UserErrorCode.INVALID_INPUT, ("input", "months")),
        (0, None, UserErrorCode.INVALID_AMOUNT, ("input", "monthlyAmount")),
    ],
)
def test_a_counter_offer_names_an_amount_or_months(
    monthly: int | None, months: int | None, code: UserErrorCode, field: tuple[str, ...]
) -> None:
    offer, violation = counter_offer(1_000_000, monthly_oere=monthly, months=months)
    assert offer is None and violation is not None
    assert (violation.code, violation.field) == (code, field)


def test_no_counter_offer_for_less_than_one_installment() -> None:
    offer, violation = counter_offer(MIN_MONTHLY_OERE - 1, monthly_oere=MIN_MONTHLY_OERE, months=None)
    assert offer is None and violation is not None
    assert violation.code is UserErrorCode.TOTAL_BELOW_MINIMUM_INSTALLMENT


@given(st.integers(min_value=MIN_MONTHLY_OERE, max_value=100_000_000), st.integers(min_value=1, max_value=400))
def test_every_counter_offer_by_months_is_within_the_rules(principal: int, months: int) -> None:
    offer, violation = counter_offer(principal, monthly_oere=None, months=months)
    if offer is None:
        assert violation is not None and violation.code is UserErrorCode.MONTHLY_AMOUNT_BELOW_MINIMUM
        assert -(-principal // months) < MIN_MONTHLY_OERE
        return
    assert offer.monthly_oere >= MIN_MONTHLY_OERE
    assert offer.months <= months  # never longer than offered
    assert offer.monthly_oere * offer.months >= principal > offer.monthly_oere * (offer.months - 1)


# --- terms as data ------------------------------------------------------------------------------------------

# A published version's text never changes (plans store the version their citizen accepted). New wording is a new
# version: add it to PUBLISHED_TERMS_VERSIONS and its digest here; never edit a digest.
PUBLISHED_DIGESTS = {
    "2026-12": "939918ca3898f11f853c3a854f75170e4a04eb46a4095399098bd10b45c4458a",
}


def _digest(version: str) -> str:
    da, en = MESSAGES["PLAN_TERMS_" + version.replace("-", "_")]
    return hashlib.sha256((da + "\0" + en).encode()).hexdigest()


def test_every_published_version_has_both_languages_and_an_unchanged_text() -> None:
    assert CURRENT_TERMS_VERSION in PUBLISHED_TERMS_VERSIONS
    for version in PUBLISHED_TERMS_VERSIONS:
        assert is_published(version)
        da, en = terms_text(version, "da"), terms_text(version, "en")
        assert da and en and da != en
        assert "350,00 kr." in da and "350.00 DKK" in en  # R11's minimum, in each language's notation
        assert _digest(version) == PUBLISHED_DIGESTS[version], f"the published text of {version} was changed"


def test_unknown_versions_have_no_text() -> None:
    assert terms_text("1999-01", "da") is None
    assert not is_published("")


# --- acting on a citizen's behalf, and the access log for people ---------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "problem"),
    [
        ("", UserErrorCode.PURPOSE_REQUIRED),
        ("   \n\t", UserErrorCode.PURPOSE_REQUIRED),
        ("x" * (MAX_PURPOSE_LENGTH + 1), UserErrorCode.PURPOSE_TOO_LONG),
        ("x" * MAX_PURPOSE_LENGTH, None),
        ("Borger ringede om afdragsordning", None),
        ("Borger ringede\nom afdragsordning\t(2. gang)", None),
        ("Borger\x00ringede", UserErrorCode.INVALID_INPUT),
        ("Borger\x1bringede", UserErrorCode.INVALID_INPUT),
    ],
)
def test_a_purpose_is_required_and_bounded(purpose: str, problem: UserErrorCode | None) -> None:
    assert purpose_problem(purpose) is problem


def test_a_purpose_never_keeps_a_cpr() -> None:
    assert "1507804321" not in clean_purpose("  Borger 150780-4321 ringede ")
    assert "150780-4321" not in clean_purpose("Borger 150780-4321 ringede")
    assert clean_purpose("  Borger ringede  ") == "Borger ringede"


def test_who_is_a_name_and_unit_never_a_bare_id() -> None:
    assert who("Mette Sørensen", "Betalingskontoret", "da") == "Mette Sørensen (Betalingskontoret)"
    assert who("Mette Sørensen", None, "en") == "Mette Sørensen"
    assert who(None, "Betalingskontoret", "da") == "En sagsbehandler i Betalingskontoret"
    assert who(None, None, "en") == "A caseworker"


def test_every_described_operation_reads_in_both_languages() -> None:
    for operation in DESCRIBED_OPERATIONS:
        da = describe_access(operation, name="Mette", unit="Betalingskontoret", purpose=None, language="da")
        en = describe_access(operation, name="Mette", unit="Betalingskontoret", purpose=None, language="en")
        assert da.startswith("Mette (Betalingskontoret) ") and en.startswith("Mette (Betalingskontoret) ")
        assert da != en and "{" not in da + en


def test_a_description_says_why_and_falls_back_for_operations_it_does_not_know() -> None:
    text = describe_access(
        "createInstallmentPlanOnBehalf", name=None, unit=None, purpose="Borger ringede", language="da"
    )
    assert text == (
        "En sagsbehandler oprettede en afdragsordning for dig i telefonen, efter at du havde accepteret "
        "betingelserne. Formål: Borger ringede"
    )
    assert describe_access("someFutureOperation", name="Bo", unit=None, purpose=None, language="en") == (
        "Bo looked at or changed your data."
    )


def test_every_operation_the_code_logs_has_words_of_its_own() -> None:
    """caseworkers.md: "Every operation that logs has its own wording". searchCitizens, workQueue and the three
    subscriptions read "looked at or changed your data" until an outside review found them. The operations are the
    string literals the resolvers and use-cases give the access log: a ``log_caseworker_access`` call's last
    argument, a watched subscription's operation, and ``operation="…"`` keywords."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src"
    logged: set[str] = set()
    for path in [*(src / "resolvers").rglob("*.py"), *(src / "gateway" / "usecases").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            literals = []
            if name in ("log_caseworker_access", "_Watched") and node.args:
                literals.append(node.args[-1])
            literals += [k.value for k in node.keywords if k.arg == "operation"]
            logged |= {c.value for c in literals if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    logged.discard("")
    assert {"searchCitizens", "workQueue", "citizen", "paymentUpdated", "approveInstallmentPlan"} <= logged
    assert logged <= DESCRIBED_OPERATIONS, sorted(logged - DESCRIBED_OPERATIONS)


def test_no_message_ends_a_sentence_right_after_an_amount() -> None:
    """An amount is formatted "2.600,00 kr.": a template with "{amount}." read "på i alt 2.600,00 kr.." (the notice
    of a payment link, found in an outside review)."""
    import string

    from gateway.domain.money import format_dkk

    class Values(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return format_dkk(260_000) if key == "amount" else "x"

    for key, texts in MESSAGES.items():
        for text in texts:
            rendered = string.Formatter().vformat(text, (), Values())
            assert "kr.." not in rendered, key
