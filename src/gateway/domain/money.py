"""Money: integer øre, always. No float ever touches an amount.

Inputs are decimal strings ("350.00", "350", "350.5"); more than two decimals is an error.
Outputs follow api.md: ``amount`` "1234.50" and ``formatted`` "1.234,50 kr." (Danish grouping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CURRENCY = "DKK"
# The largest amount the API accepts in one input: 10,000,000.00 DKK. GraphQL's Int is 32-bit, so
# amountOere of a single value can never exceed 2,147,483,647 øre (about 21.4 million DKK).
MAX_INPUT_OERE = 1_000_000_000

_DECIMAL = re.compile(r"^(?P<sign>-?)(?P<whole>[0-9]{1,12})(?:[.,](?P<frac>[0-9]{1,2}))?$")  # ASCII only


class InvalidAmount(ValueError):
    """A money string that is not a plain decimal with at most two decimals."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "FORMAT", "TOO_MANY_DECIMALS", "NEGATIVE", "ZERO", "TOO_LARGE"


def parse_oere(text: str, *, allow_zero: bool = False, allow_negative: bool = False) -> int:
    """Parse a decimal string into øre exactly ("350.00" -> 35000)."""
    s = text.strip()
    if re.fullmatch(r"-?[0-9]+[.,][0-9]{3,}", s):
        raise InvalidAmount("TOO_MANY_DECIMALS")
    m = _DECIMAL.match(s)
    if not m:
        raise InvalidAmount("FORMAT")
    frac = (m.group("frac") or "").ljust(2, "0")
    oere = int(m.group("whole")) * 100 + int(frac or "0")
    if m.group("sign"):
        oere = -oere
    if oere < 0 and not allow_negative:
        raise InvalidAmount("NEGATIVE")
    if oere == 0 and not allow_zero:
        raise InvalidAmount("ZERO")
    if abs(oere) > MAX_INPUT_OERE:
        raise InvalidAmount("TOO_LARGE")
    return oere


def to_decimal_string(oere: int) -> str:
    """35000 -> "350.00"; -150 -> "-1.50"."""
    sign = "-" if oere < 0 else ""
    whole, frac = divmod(abs(oere), 100)
    return f"{sign}{whole}.{frac:02d}"


def format_dkk(oere: int) -> str:
    """Danish display form: 123450 -> "1.234,50 kr."."""
    sign = "-" if oere < 0 else ""
    whole, frac = divmod(abs(oere), 100)
    grouped = f"{whole:,}".replace(",", ".")
    return f"{sign}{grouped},{frac:02d} kr."


@dataclass(frozen=True, slots=True)
class Amount:
    """A DKK amount in øre."""

    oere: int

    @property
    def decimal(self) -> str:
        return to_decimal_string(self.oere)

    @property
    def formatted(self) -> str:
        return format_dkk(self.oere)
