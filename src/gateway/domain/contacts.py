"""Fixed contact details from the seed document (R8 Betalingskontoret, R15 Gældsstyrelsen)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PhoneHours:
    weekday: str  # MONDAY … SUNDAY
    opens: str  # "09:00"
    closes: str  # "12:00"


@dataclass(frozen=True, slots=True)
class ContactInfo:
    key: str
    name: str
    phone: str | None
    email: str | None = None
    address: str | None = None
    web: str | None = None
    phone_hours: tuple[PhoneHours, ...] = field(default_factory=tuple)


def hours(weekdays: tuple[str, ...], opens: str, closes: str) -> tuple[PhoneHours, ...]:
    return tuple(PhoneHours(d, opens, closes) for d in weekdays)


# R8
PAYMENTS_OFFICE = ContactInfo(
    key="betalingskontoret",
    name="Betalingskontoret, Randers Kommune",
    phone="8915 1188",
    email="Betalingskontoret@randers.dk",
    address="Laksetorvet 1, 8900 Randers C",
    web="https://www.randers.dk/borger/personligt/betaling-gaeld-og-skat/betaling-og-gaeld/",
    phone_hours=hours(("TUESDAY", "THURSDAY"), "09:00", "12:00"),
)

# R15
COLLECTION_AGENCY = ContactInfo(
    key="gaeldsstyrelsen",
    name="Gældsstyrelsen",
    phone="7015 7304",
    web="https://gaeldst.dk/borger",
    phone_hours=(
        PhoneHours("MONDAY", "09:00", "17:00"),
        *hours(("TUESDAY", "WEDNESDAY", "THURSDAY"), "09:00", "16:00"),
        PhoneHours("FRIDAY", "09:00", "14:00"),
    ),
)
WAGE_GARNISHMENT_INFO_URL = (
    "https://gaeldst.dk/borger/hvis-du-ikke-betaler-din-gaeld/vi-kan-traekke-en-del-af-din-indkomst"
)
