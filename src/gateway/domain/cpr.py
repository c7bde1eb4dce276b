"""CPR numbers (Danish personal identification numbers), DDMMYY-SSSS.

Validated by length and date, with the 7th digit and the year giving the century (cpr.dk, "Personnummeret
i CPR-systemet"). Never rejected on the old modulus-11 check: numbers failing it have been issued since 2007.
A CPR is sensitive: ``str()`` and ``repr()`` mask it so it cannot leak into a log line by accident.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

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


_CPR_LIKE = re.compile(r"(?<!\d)(\d{6})-?(\d{4})(?!\d)")


def redact(text: str) -> str:
    """Mask every CPR-shaped number (DDMMYY-SSSS or ten digits): logs' and error messages' last line of defence."""
    return _CPR_LIKE.sub("******-****", text)


# DDMMYY-SSSS with a plausible day and month (cpr.dk); with or without the hyphen/space.
_CPR_SEPARATED_RE: re.Pattern[str] = re.compile(r"(?<!\d)(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])\d{2}[- ]\d{4}(?!\d)")
_CPR_BARE_RE: re.Pattern[str] = re.compile(r"(?<!\d)(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])\d{6}(?!\d)")


def looks_like_cpr(text: str, *, bare_digits: bool = True) -> bool:
    """True if ``text`` contains something shaped like a CPR number.

    ``bare_digits=False`` only flags the separated form ``DDMMYY-SSSS`` so that ten-digit invoice or claim
    numbers in references and descriptions are not mistaken for one.
    """
    if _CPR_SEPARATED_RE.search(text):
        return True
    return bare_digits and bool(_CPR_BARE_RE.search(text))


def valid_return_url(url: str) -> bool:
    """An http(s) URL of sane length with no CPR-shaped number in it (it would reach the provider and its logs)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(url) <= 500 and not looks_like_cpr(url)
