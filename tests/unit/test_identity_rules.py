"""Pure rules of issue 11: log masking of CPR-shaped values (not provider ids), return URLs checked after
percent-decoding, the preview's ready-made options one per duration, citizens' pseudonyms, the token policy."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.auth import AuthError, TokenVerifier
from gateway.domain.cpr import Cpr, looks_like_cpr, redact, valid_return_url
from gateway.domain.plans import MAX_MONTHS, MIN_MONTHLY_OERE, plan_range
from gateway.domain.viewers import CaseworkerViewer, CitizenViewer, citizen_pseudonym
from gateway.settings import Settings

ANNA, DAVID = "1507804321", "1010005678"
MASK = "******-****"

# --- defect 15: redact masks CPR-shaped values, not digits inside identifiers ---------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "pay_6cf119329f1507804321",  # the report's shape: prefix, hex, then ten digits
        "pay_1507804321ab6cf11932",
        "agr_a1b2c31010005678d4e5",
        "chg_00000000001507804321",  # hex of a provider id that happens to start with zeros
        "provider ref pay_6cf119329f1507804321 captured",
        str(uuid.UUID("a8150780-4321-4c3b-9a6d-1f2e3d4c5b6a")),  # DDMMYY-SSSS across a UUID's first dash
        "e2b7c1d0-5b3a-4c8e-9f1a-ab1507804321",  # ten digits in a UUID's last group
        "sha256 " + "f" * 22 + "1507804321" + "e" * 32,  # a digest
    ],
)
def test_identifiers_are_not_masked(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ANNA, MASK),
        ("150780-4321", MASK),
        ("150780 4321", MASK),
        (f"cpr={ANNA}", f"cpr={MASK}"),
        (f"cpr{ANNA}", f"cpr{MASK}"),  # glued to letters that are no hex
        (f"https://x.dk/back?c={DAVID}&x=1", f"https://x.dk/back?c={MASK}&x=1"),
        (f"user_{ANNA}_x", f"user_{MASK}_x"),
        (f"Borger {ANNA[:6]}-{ANNA[6:]} ringede", f"Borger {MASK} ringede"),
        (f"ab{ANNA}", f"ab{MASK}"),  # a short hex-looking prefix is not an identifier
        (f"{ANNA}ff", f"{MASK}ff"),
        (f"two: {ANNA}, {DAVID}.", f"two: {MASK}, {MASK}."),
    ],
)
def test_cpr_shaped_values_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 4000123456",  # month 01 day 40: no date
        "amount 1234567890123",  # a longer number
        "9912345678",  # day 99
        "1513801234",  # month 15
    ],
)
def test_numbers_that_are_no_cpr_are_left_alone(text: str) -> None:
    assert redact(text) == text


@given(cpr=st.dates().map(lambda d: d.strftime("%d%m%y")), serial=st.integers(0, 9999), hyphen=st.booleans())
def test_every_plausible_cpr_is_masked_wherever_it_stands(cpr: str, serial: int, hyphen: bool) -> None:
    value = f"{cpr}{'-' if hyphen else ''}{serial:04d}"
    for text in (value, f"x {value} y", f"c={value}&", f"/{value}/", f"cpr:{value}", f"Zz{value}"):
        masked = redact(text)
        assert value not in masked and MASK in masked, text


@given(data=st.binary(min_size=10, max_size=10))
def test_random_provider_ids_are_never_masked(data: bytes) -> None:
    provider_id = "pay_" + data.hex()
    if any(c in "abcdef" for c in provider_id[4:]):  # an id of only digits is indistinguishable from a number
        assert redact(f"captured {provider_id}") == f"captured {provider_id}"


def test_random_token_hex_ids_keep_their_shape() -> None:
    for _ in range(2000):
        provider_id = f"pay_{secrets.token_hex(10)}"
        assert redact(provider_id) == provider_id or provider_id[4:].isdigit()


# --- defect 10: return URLs are checked after percent-decoding --------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"https://app.example/done?c={DAVID}",
        "https://app.example/done?c=10%31%30005678",
        "https://app.example/done?c=%31%30%31%30%30%30%35%36%37%38",
        "https://app.example/done?c=%2531%2530%2531%2530%2530%2530%2535%2536%2537%2538",  # twice
        "https://app.example/done?c=%252531%2530%2531%2530%2530%2530%2535%2536%2537%2538",  # three times
        "https://app.example/done?c=101000%2D5678",
        "https://app.example/done?c=101000+5678",
        "https://app.example/1010%30%305678/back",
        # An input check stays strict where log masking is lenient: a CPR hidden among hex digits is refused.
        "https://app.example/done?ref=pay_6cf119329f1010005678",
        # Encoded more often than the check is willing to unwrap: refused, not let through.
        "https://app.example/done?c=%25252525252531",
    ],
)
def test_return_urls_with_a_cpr_however_encoded_are_refused(url: str) -> None:
    assert not valid_return_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example/done",
        "https://app.example/done?paymentId=UGF5bWVudDox&lang=da",
        "https://app.example/done?q=100%25",
        "http://localhost:3000/back",
    ],
)
def test_ordinary_return_urls_are_accepted(url: str) -> None:
    assert valid_return_url(url)


def test_looks_like_cpr_decodes_too() -> None:
    assert looks_like_cpr("c=10%31%30005678")
    assert not looks_like_cpr("c=10%31%30005678", bare_digits=False)
    assert looks_like_cpr("c=101000%2D5678", bare_digits=False)


# --- the preview's ready-made options: one per duration --------------------------------------------------------


def test_options_never_repeat_a_duration_example() -> None:
    r = plan_range(1_000_000)  # 10,000.00 DKK: 555.56 exactly and 556 in whole kroner both take 18 months
    assert [o.months for o in r.options] == [18, 12, 6, 3]
    assert r.options[0].monthly_oere == r.min_monthly_oere == 55_556


@given(total=st.integers(min_value=MIN_MONTHLY_OERE, max_value=100_000_000))
def test_options_have_distinct_durations(total: int) -> None:
    r = plan_range(total)
    months = [o.months for o in r.options]
    assert len(set(months)) == len(months)
    assert months == sorted(months, reverse=True) and all(m <= MAX_MONTHS for m in months)
    # For each duration the option is the cheapest monthly amount offered for it.
    assert r.options[0].monthly_oere == r.min_monthly_oere
    amounts = [o.monthly_oere for o in r.options]
    assert amounts == sorted(amounts)


# --- citizens' pseudonyms ------------------------------------------------------------------------------------


def test_pseudonym_is_stable_keyed_and_carries_no_cpr() -> None:
    anna = Cpr(ANNA)
    p = citizen_pseudonym(anna, b"key-1")
    assert p == citizen_pseudonym(Cpr(f"{ANNA[:6]}-{ANNA[6:]}"), b"key-1")
    assert p != citizen_pseudonym(anna, b"key-2")
    assert p != citizen_pseudonym(Cpr(DAVID), b"key-1")
    assert ANNA not in p and len(p) == 32


# --- defect 9: the token policy -------------------------------------------------------------------------------


def sign(settings: Settings, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": settings.auth_issuer, "aud": settings.auth_audience, "iat": now, "exp": now + 600, "sub": "s"}
    payload |= claims
    assert settings.signing_secret is not None
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, settings.signing_secret, algorithm="HS256")


async def test_one_identity_per_token() -> None:
    settings = Settings()
    verifier = TokenVerifier(settings)
    with pytest.raises(AuthError):
        await verifier.verify("Bearer " + sign(settings, cpr=ANNA, role="caseworker"))
    with pytest.raises(AuthError):
        await verifier.verify("Bearer " + sign(settings, cpr=ANNA, roles=["x", "caseworker"]))
    assert isinstance(await verifier.verify("Bearer " + sign(settings, cpr=ANNA)), CitizenViewer)
    assert isinstance(await verifier.verify("Bearer " + sign(settings, role="caseworker")), CaseworkerViewer)


async def test_lifetime_cap_counts_from_iat_or_nbf() -> None:
    settings = Settings(auth_max_token_lifetime_seconds=3600, auth_leeway_seconds=0)
    verifier = TokenVerifier(settings)
    now = int(time.time())
    ok = [{"iat": now, "exp": now + 3600}, {"iat": now - 1800, "exp": now + 1800}]
    bad = [
        {"iat": now, "exp": now + 3601},
        {"iat": now - 3000, "exp": now + 1000},
        {"iat": now, "nbf": now, "exp": now + 7200},
    ]
    for times in ok:
        assert isinstance(await verifier.verify("Bearer " + sign(settings, cpr=ANNA, **times)), CitizenViewer)
    for times in bad:
        with pytest.raises(AuthError):
            await verifier.verify("Bearer " + sign(settings, cpr=ANNA, **times))


async def test_citizen_viewer_is_scoped_by_cpr_not_subject() -> None:
    settings = Settings()
    verifier = TokenVerifier(settings)
    anna = await verifier.verify("Bearer " + sign(settings, cpr=ANNA, sub="same"))
    david = await verifier.verify("Bearer " + sign(settings, cpr=DAVID, sub="same"))
    anna_again = await verifier.verify("Bearer " + sign(settings, cpr=ANNA, sub="other"))
    assert isinstance(anna, CitizenViewer) and isinstance(david, CitizenViewer)
    assert anna.actor_key != david.actor_key
    assert anna.actor_key == anna_again.actor_key
    assert ANNA not in anna.actor_key and len(anna.actor_key) <= 100
