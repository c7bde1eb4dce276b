"""CPR numbers (cpr.dk: length, date, and the 7th digit's century rule; never modulus 11) and money in øre."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.cpr import Cpr, InvalidCpr, is_valid
from gateway.domain.money import MAX_INPUT_OERE, InvalidAmount, format_dkk, parse_oere, to_decimal_string


def passes_modulus_11(cpr: str) -> bool:
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    return sum(int(d) * w for d, w in zip(cpr, weights, strict=True)) % 11 == 0


# --- CPR ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpr", "born"),
    [
        # 7th digit 0-3: 1900-1999
        ("0101000000", date(1900, 1, 1)),
        ("3112993999", date(1999, 12, 31)),
        # 7th digit 4 or 9: 00-36 -> 2000s, 37-99 -> 1900s
        ("0101364000", date(2036, 1, 1)),
        ("0101374000", date(1937, 1, 1)),
        ("0101369000", date(2036, 1, 1)),
        ("0101379000", date(1937, 1, 1)),
        # 7th digit 5-8: 00-57 -> 2000s, 58-99 -> 1800s
        ("0101575000", date(2057, 1, 1)),
        ("0101585000", date(1858, 1, 1)),
        ("0101578999", date(2057, 1, 1)),
        ("3112998000", date(1899, 12, 31)),
        # leap days: 2000 is a leap year, 1900 is not, 1960 is
        ("2902004000", date(2000, 2, 29)),
        ("2902605000", date(1860, 2, 29)),
        ("2902601234", date(1960, 2, 29)),
        ("2902005555", date(2000, 2, 29)),
    ],
)
def test_valid_cpr_and_century(cpr, born):
    parsed = Cpr(cpr)
    assert parsed.value == cpr
    assert parsed.birth_date == born
    assert is_valid(cpr)


@pytest.mark.parametrize(
    "cpr",
    [
        "2902001000",  # 29 Feb 1900 (7th digit 1 -> 1900, not a leap year)
        "2902379000",  # 29 Feb 1937
        "2902585000",  # 29 Feb 1858
        "2902014000",  # 29 Feb 2001
        "3213991234",  # day 32
        "0013991234",  # month 13 (and day 00)
        "0001991234",  # day 00
        "0100991234",  # month 00
        "3104801234",  # 31 April
        "150780432",  # 9 digits
        "15078043210",  # 11 digits
        "",
        "15O7804321",  # letter O
        "150780+4321",
        "15-07-80-4321",
        "1507804321x",
        "abcdefghij",
    ],
)
def test_invalid_cpr_is_rejected(cpr):
    with pytest.raises(InvalidCpr):
        Cpr(cpr)
    assert not is_valid(cpr)


@pytest.mark.parametrize("cpr", ["１５０７８０４３２１", "١٥٠٧٨٠٤٣٢١"], ids=["fullwidth", "arabic-indic"])
def test_non_ascii_digits_are_not_a_cpr(cpr):
    with pytest.raises(InvalidCpr):
        Cpr(cpr)


def test_number_failing_modulus_11_is_accepted():
    # Numbers failing modulus 11 have been issued since 2007 (cpr.dk), so they must not be rejected.
    for cpr in ("1507804321", "0101074000", "0101071236"):
        assert not passes_modulus_11(cpr), cpr
        assert Cpr(cpr).value == cpr
    assert passes_modulus_11("0707614285")  # a classic one passing it is fine too
    assert Cpr("0707614285").birth_date == date(1961, 7, 7)


def test_hyphenated_form_and_whitespace():
    assert Cpr("150780-4321").value == "1507804321"
    assert Cpr(" 1507804321 ").value == "1507804321"
    assert Cpr("1507804321").formatted == "150780-4321"
    assert Cpr("150780-4321") == Cpr("1507804321")
    assert hash(Cpr("150780-4321")) == hash(Cpr("1507804321"))
    assert Cpr("1507804321") != Cpr("2203651122")
    assert Cpr("1507804321") != "1507804321"


def test_repr_and_str_mask_the_number():
    cpr = Cpr("1507804321")
    for text in (repr(cpr), str(cpr), f"{cpr}", f"{cpr!r}", "%s" % cpr, repr([cpr]), repr({"c": cpr})):  # noqa: UP031
        assert "1507804321" not in text
        assert "150780" not in text
        assert "4321" not in text


def test_invalid_cpr_error_never_echoes_the_value():
    with pytest.raises(InvalidCpr) as info:
        Cpr("3213994321")
    assert "3213994321" not in str(info.value)
    assert "3213994321" not in repr(info.value)


def test_cpr_cannot_be_mutated():
    cpr = Cpr("1507804321")
    with pytest.raises(AttributeError):
        cpr.other = 1  # type: ignore[attr-defined]


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), st.integers(0, 3999))
def test_every_date_of_the_1900s_with_7th_digit_0_to_3_is_valid(born, serial):
    text = f"{born:%d%m%y}{serial:04d}"
    assert Cpr(text).birth_date == born


# --- money ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "oere"),
    [
        ("350", 35000),
        ("350.00", 35000),
        ("350.5", 35050),
        ("350.50", 35050),
        ("350,50", 35050),
        ("0.01", 1),
        ("1234.56", 123456),
        (" 42.10 ", 4210),
        ("0007", 700),
        ("10000000.00", MAX_INPUT_OERE),
    ],
)
def test_parse_oere(text, oere):
    assert parse_oere(text) == oere
    assert isinstance(parse_oere(text), int)


@pytest.mark.parametrize("text", ["350.001", "1234.567", "0.005", "1,999", "350.000"])
def test_three_decimals_are_rejected(text):
    with pytest.raises(InvalidAmount) as info:
        parse_oere(text)
    assert info.value.reason == "TOO_MANY_DECIMALS"


def test_negative_amounts():
    with pytest.raises(InvalidAmount) as info:
        parse_oere("-350.00")
    assert info.value.reason == "NEGATIVE"
    assert parse_oere("-350.00", allow_negative=True) == -35000
    assert parse_oere("-0.5", allow_negative=True) == -50


def test_zero_and_too_large():
    with pytest.raises(InvalidAmount) as info:
        parse_oere("0.00")
    assert info.value.reason == "ZERO"
    assert parse_oere("0", allow_zero=True) == 0
    with pytest.raises(InvalidAmount) as info:
        parse_oere("10000000.01")
    assert info.value.reason == "TOO_LARGE"


@pytest.mark.parametrize(
    "text",
    ["", " ", "abc", "1e3", "350.", ".50", "3 50", "1.000,00", "1,000.00", "+350", "350 kr.", "NaN", "inf", "0x10"],
)
def test_malformed_amounts_are_rejected(text):
    with pytest.raises(InvalidAmount):
        parse_oere(text)


@pytest.mark.parametrize("text", ["٣٥٠", "３５０.００"], ids=["arabic-indic", "fullwidth"])
def test_non_ascii_digits_are_not_an_amount(text):
    with pytest.raises(InvalidAmount):
        parse_oere(text)


@pytest.mark.parametrize(
    ("oere", "decimal", "formatted"),
    [
        (0, "0.00", "0,00 kr."),
        (5, "0.05", "0,05 kr."),
        (99, "0.99", "0,99 kr."),
        (35000, "350.00", "350,00 kr."),
        (123450, "1234.50", "1.234,50 kr."),
        (100000, "1000.00", "1.000,00 kr."),
        (99999, "999.99", "999,99 kr."),
        (2511925, "25119.25", "25.119,25 kr."),
        (100_000_000, "1000000.00", "1.000.000,00 kr."),
        (-150, "-1.50", "-1,50 kr."),
        (-123456789, "-1234567.89", "-1.234.567,89 kr."),
    ],
)
def test_decimal_string_and_danish_formatting(oere, decimal, formatted):
    assert to_decimal_string(oere) == decimal
    assert format_dkk(oere) == formatted


@given(st.integers(min_value=1, max_value=MAX_INPUT_OERE))
def test_parse_is_the_inverse_of_the_decimal_string(oere):
    assert parse_oere(to_decimal_string(oere)) == oere
    assert parse_oere(to_decimal_string(oere).replace(".", ",")) == oere


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_formatted_groups_thousands_with_dots(oere):
    text = format_dkk(oere)
    assert text.endswith(" kr.")
    number = text.removesuffix(" kr.").lstrip("-")
    whole, frac = number.split(",")
    groups = whole.split(".")
    assert all(len(g) == 3 for g in groups[1:])
    assert 1 <= len(groups[0]) <= 3
    assert int("".join(groups)) * 100 + int(frac) == abs(oere)
    assert text.startswith("-") == (oere < 0)
