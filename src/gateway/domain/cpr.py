"""CPR numbers (Danish personal identification numbers), DDMMYY-SSSS.

Validated by length and date, with the 7th digit and the year giving the century (cpr.dk, "Personnummeret
i CPR-systemet"). Never rejected on the old modulus-11 check: numbers failing it have been issued since 2007.
A CPR is sensitive: ``str()`` and ``repr()`` mask it so it cannot leak into a log line by accident.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import unquote, unquote_plus, urlsplit

from gateway.domain.text import has_any_control_character

_PATTERN = re.compile(r"^([0-9]{2})([0-9]{2})([0-9]{2})-?([0-9]{4})$")  # ASCII digits only


class InvalidCpr(ValueError):
    def __init__(self) -> None:
        super().__init__("invalid CPR number")  # never echo the value


def _century(yy: int, seventh: int) -> int:
    # cpr.dk: the 7th digit together with the birth year gives the century.
    if seventh in (0, 1, 2, 3):
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    # 5, 6, 7, 8
    return 2000 if yy <= 57 else 1800


class Cpr:
    __slots__ = ("_value",)

    def __init__(self, text: str) -> None:
        m = _PATTERN.match(text.strip())
        if not m:
            raise InvalidCpr()
        dd, mm, yy, serial = int(m[1]), int(m[2]), int(m[3]), m[4]
        year = _century(yy, int(serial[0])) + yy
        try:
            date(year, mm, dd)
        except ValueError:
            raise InvalidCpr() from None
        self._value = f"{m[1]}{m[2]}{m[3]}{serial}"

    @classmethod
    def parse(cls, text: str) -> Cpr:
        return cls(text)

    @property
    def value(self) -> str:
        """The ten digits, no hyphen. Only for storage and for showing a citizen their own number."""
        return self._value

    @property
    def formatted(self) -> str:
        return f"{self._value[:6]}-{self._value[6:]}"

    @property
    def masked(self) -> str:
        """How lists show a citizen (issue 12): the birth date and ``-xxxx`` (DDMMYY-xxxx); the full number only
        on the single-citizen view."""
        return f"{self._value[:6]}-xxxx"

    @property
    def birth_date(self) -> date:
        v = self._value
        yy = int(v[4:6])
        return date(_century(yy, int(v[6])) + yy, int(v[2:4]), int(v[0:2]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cpr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Cpr(******-****)"

    __str__ = __repr__


def is_valid(text: str) -> bool:
    try:
        Cpr(text)
    except InvalidCpr:
        return False
    return True


# A plausible CPR: a day 01-31 and a month 01-12, the year, and four digits; with a hyphen, a space or nothing
# between the date and the serial. Digits on either side make it part of a longer number, not a CPR.
_DATE = r"(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d{2}"
_CPR_SEPARATED_RE: re.Pattern[str] = re.compile(rf"(?<!\d){_DATE}[- ]\d{{4}}(?!\d)")
_CPR_BARE_RE: re.Pattern[str] = re.compile(rf"(?<!\d){_DATE}\d{{4}}(?!\d)")
_CPR_ANY_RE: re.Pattern[str] = re.compile(rf"(?<!\d){_DATE}[- ]?\d{{4}}(?!\d)")

# Identifiers that may contain a CPR-shaped digit run by chance: a canonical UUID, and a long run of hex digits
# with at least one letter (provider ids such as ``pay_6cf119329f…``, digests). Sixteen hex characters are well
# beyond a CPR glued to a word ("ab1507804321" is still masked) and below the shortest random id we meet (20).
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_HEX_ID_RE = re.compile(r"(?<![0-9a-z])[0-9a-f]{16,}(?![0-9a-z])", re.IGNORECASE)
MASK = "******-****"


def _identifier_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _UUID_RE.finditer(text)]
    spans += [m.span() for m in _HEX_ID_RE.finditer(text) if not m.group().isdigit()]
    return spans


def redact(text: str) -> str:
    """Mask every plausible CPR number (DDMMYY-SSSS, DDMMYY SSSS or ten digits): logs' and error messages' last
    line of defence. A CPR glued to words or punctuation is masked; digits that are part of a provider id or a
    UUID (see ``_identifier_spans``) are not, so ids stay readable in the logs."""
    if not _CPR_ANY_RE.search(text):
        return text
    spans = _identifier_spans(text)

    def mask(m: re.Match[str]) -> str:
        start, end = m.span()
        if any(s <= start and end <= e for s, e in spans):
            return m.group()
        return MASK

    return _CPR_ANY_RE.sub(mask, text)


def looks_like_cpr(text: str, *, bare_digits: bool = True) -> bool:
    """True if ``text`` contains something shaped like a CPR number.

    ``bare_digits=False`` only flags the separated form ``DDMMYY-SSSS`` so that ten-digit invoice or claim
    numbers in references and descriptions are not mistaken for one. Percent-encoding is undone first (see
    ``_decodings``), so ``10%31%30005678`` is a CPR as much as ``1010005678`` is.
    """
    forms = _decodings(text)
    if forms is None:
        return True  # encoded deeper than anyone legitimately does: treat it as hiding something
    if any(_CPR_SEPARATED_RE.search(f) for f in forms):
        return True
    return bare_digits and any(_CPR_BARE_RE.search(f) for f in forms)


MAX_DECODING_ROUNDS = 4


def _decodings(text: str) -> list[str] | None:
    """``text`` and what percent-decoding makes of it, round after round (``+`` read both as itself and as a
    space, as form-encoded query strings do), until nothing changes; None if it still changes after
    MAX_DECODING_ROUNDS rounds."""
    forms = [text]
    current = text
    for _ in range(MAX_DECODING_ROUNDS):
        decoded = unquote(current)
        forms.append(unquote_plus(current))
        if decoded == current:
            return forms
        forms.append(decoded)
        current = decoded
    return forms if unquote(current) == current else None


def percent_decoded(text: str, rounds: int = MAX_DECODING_ROUNDS + 1) -> str:
    """``text`` percent-decoded as a form-encoded query string is (``+`` a space), round after round until nothing
    changes, at most ``rounds`` rounds: what a reader of a logged URL would make of it."""
    for _ in range(rounds):
        decoded = unquote_plus(text)
        if decoded == text:
            break
        text = decoded
    return text


def valid_return_url(url: str) -> bool:
    """An http(s) URL of sane length with no CPR-shaped number in it, however it is percent-encoded (it would
    reach the provider and its logs, and the citizen's browser history). No whitespace or control character: a
    URL has none, and ``urlsplit`` would quietly drop a line break that the provider's redirect might carry."""
    if any(c.isspace() for c in url) or has_any_control_character(url):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(url) <= 500 and not looks_like_cpr(url)
