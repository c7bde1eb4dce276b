"""The demo data (``gateway seed``), documented in the README; tests, docs and external checks rely on it.

- 1507804321 Anna Jensen: open claims from several departments, a beboerindskudslån with interest, a claim
  Gældsstyrelsen reports as at collection, two years of statements with payments, interest and a fee.
- 2203651122 Bo Nielsen: no debt (one fully paid claim).
- 0311922345 Camilla Hansen: only claims at collection.
- 1010005678 David Larsen: about 12,000 DKK over three open claims (one returned from collection), so
  350 DKK a month would take more than 18 months.
Dates are days before the day of seeding, so the demo always looks current (demo.py makes the import document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ANNA, BO, CAMILLA, DAVID = "1507804321", "2203651122", "0311922345", "1010005678"
DEMO_CASEWORKER = "cw-1001"

WEEKDAYS_MON_FRI = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")


def _hours(days: tuple[str, ...], opens: str, closes: str) -> list[dict[str, str]]:
    return [{"weekday": d, "opens": opens, "closes": closes} for d in days]


DEPARTMENTS: list[dict[str, Any]] = [
    {
        "code": "DAGTILBUD",
        "name": "Pladsanvisningen, Dagtilbud",
        "phone": "8915 1920",
        "email": "pladsanvisning@randers.dk",
        "address": "Laksetorvet 1, 8900 Randers C",
        "web": "https://www.randers.dk/borger/boern-og-familie/",
        "phone_hours": _hours(WEEKDAYS_MON_FRI, "09:00", "13:00"),
    },
    {
        "code": "EJENDOMSSKAT",
        "name": "Ejendomsskat, Økonomi",
        "phone": "8915 1520",
        "email": "ejendomsskat@randers.dk",
        "address": "Laksetorvet 1, 8900 Randers C",
        "web": "https://www.randers.dk/borger/personligt/betaling-gaeld-og-skat/",
        "phone_hours": _hours(("MONDAY", "WEDNESDAY", "THURSDAY"), "10:00", "13:00"),
    },
    {
        "code": "BOLIG",
        "name": "Boligadministrationen, Beboerindskudslån",
        "phone": "8915 1340",
        "email": "beboerindskud@randers.dk",
        "address": "Laksetorvet 1, 8900 Randers C",
        "web": "https://www.randers.dk/borger/bolig-og-byggeri/",
        "phone_hours": _hours(("TUESDAY", "THURSDAY"), "10:00", "12:00"),
    },
    {
        "code": "AFFALD",
        "name": "Affald og Genbrug",
        "phone": "8915 1760",
        "email": "affald@randers.dk",
        "address": "Laksetorvet 1, 8900 Randers C",
        "web": "https://www.randers.dk/borger/affald-og-genbrug/",
        "phone_hours": _hours(WEEKDAYS_MON_FRI, "09:00", "14:00"),
    },
    {
        "code": "YDELSER",
        "name": "Borgerservice, Ydelser",
        "phone": "8915 1500",
        "email": "ydelser@randers.dk",
        "address": "Laksetorvet 1, 8900 Randers C",
        "web": "https://www.randers.dk/borger/",
        "phone_hours": _hours(WEEKDAYS_MON_FRI, "10:00", "14:00"),
    },
]


@dataclass
class DemoClaim:
    reference: str
    department: str
    title: str
    kind: str
    issued_days_ago: int
    due_in_days: int  # from issue date
    # (days ago, kind, text, amount øre)
    entries: list[tuple[int, str, str, int]] = field(default_factory=list)


def _demo_citizens() -> list[tuple[str, str, list[DemoClaim]]]:
    anna = [
        DemoClaim(
            "RK-DAG-2025-0412",
            "DAGTILBUD",
            "Forældrebetaling, vuggestue",
            "DAYCARE",
            120,
            14,
            [
                (120, "CHARGE", "Forældrebetaling, august", 295_000),
                (90, "CHARGE", "Forældrebetaling, september", 295_000),
                (75, "PAYMENT", "Indbetaling, tak", -295_000),
                (60, "CHARGE", "Forældrebetaling, oktober", 295_000),
                (40, "FEE", "Rykkergebyr", 10_000),
            ],
        ),
        DemoClaim(
            "RK-EJD-2025-1187",
            "EJENDOMSSKAT",
            "Ejendomsskat, 2. rate",
            "PROPERTY_TAX",
            200,
            30,
            [
                (200, "CHARGE", "Ejendomsskat, 2. rate", 841_250),
                (150, "PAYMENT", "Indbetaling via netbank", -400_000),
                (100, "INTEREST", "Morarenter", 6_175),
            ],
        ),
        DemoClaim(
            "RK-BIL-2024-0077",
            "BOLIG",
            "Beboerindskudslån, Vestergade 12, 2. th.",
            "BEBOERINDSKUDSLAAN",
            730,
            30,
            [
                (730, "CHARGE", "Beboerindskudslån udbetalt", 1_500_000),
                (640, "INTEREST", "Rente, 1. kvartal", 18_750),
                (600, "PAYMENT", "Indbetaling, tak", -150_000),
                (550, "INTEREST", "Rente, 2. kvartal", 16_875),
                (460, "INTEREST", "Rente, 3. kvartal", 16_875),
                (420, "PAYMENT", "Indbetaling, tak", -150_000),
                (370, "INTEREST", "Rente, 4. kvartal", 15_000),
                (280, "INTEREST", "Rente, 1. kvartal", 15_000),
                (240, "PAYMENT", "Indbetaling, tak", -150_000),
                (190, "INTEREST", "Rente, 2. kvartal", 13_125),
                (100, "INTEREST", "Rente, 3. kvartal", 13_125),
                (10, "INTEREST", "Rente, 4. kvartal", 11_250),
            ],
        ),
        DemoClaim(
            "RK-REN-2023-0931",
            "AFFALD",
            "Affaldsgebyr 2023",
            "WASTE_COLLECTION",
            700,
            30,
            [
                (700, "CHARGE", "Affaldsgebyr 2023", 284_500),
                (640, "FEE", "Rykkergebyr", 10_000),
            ],
        ),
    ]
    bo = [
        DemoClaim(
            "RK-EJD-2024-0555",
            "EJENDOMSSKAT",
            "Ejendomsskat, 1. rate",
            "PROPERTY_TAX",
            300,
            30,
            [
                (300, "CHARGE", "Ejendomsskat, 1. rate", 520_000),
                (275, "PAYMENT", "Betalingsservice", -520_000),
            ],
        ),
    ]
    camilla = [
        DemoClaim(
            "RK-DAG-2022-0101",
            "DAGTILBUD",
            "Forældrebetaling, børnehave",
            "DAYCARE",
            1000,
            14,
            [
                (1000, "CHARGE", "Forældrebetaling, marts", 217_500),
                (970, "CHARGE", "Forældrebetaling, april", 217_500),
                (940, "FEE", "Rykkergebyr", 10_000),
            ],
        ),
        DemoClaim(
            "RK-KTN-2022-0202",
            "YDELSER",
            "Tilbagebetaling af kontanthjælp",
            "BENEFIT_REPAYMENT",
            900,
            30,
            [(900, "CHARGE", "Tilbagebetaling af kontanthjælp", 980_000)],
        ),
    ]
    david = [
        DemoClaim(
            "RK-DAG-2025-0888",
            "DAGTILBUD",
            "Forældrebetaling, dagpleje",
            "DAYCARE",
            80,
            14,
            [
                (80, "CHARGE", "Forældrebetaling, september", 205_000),
                (50, "CHARGE", "Forældrebetaling, oktober", 205_000),
            ],
        ),
        DemoClaim(
            "RK-EJD-2025-0999",
            "EJENDOMSSKAT",
            "Ejendomsskat, 2. rate",
            "PROPERTY_TAX",
            150,
            30,
            [(150, "CHARGE", "Ejendomsskat, 2. rate", 535_000)],
        ),
        DemoClaim(
            "RK-FOR-2023-0311",
            "YDELSER",
            "Tilbagebetaling af boligstøtte",
            "BENEFIT_REPAYMENT",
            800,
            30,
            [
                (800, "CHARGE", "Tilbagebetaling af boligstøtte", 310_000),
                (500, "PAYMENT", "Indbetaling, tak", -50_000),
            ],
        ),
    ]
    return [
        (ANNA, "Anna Jensen", anna),
        (BO, "Bo Nielsen", bo),
        (CAMILLA, "Camilla Hansen", camilla),
        (DAVID, "David Larsen", david),
    ]


# (name, masked number, default, the provider's reference: opaque, never digits of the CPR number)
DEMO_MOBILEPAY_ACCOUNTS: dict[str, list[tuple[str, str, bool, str]]] = {
    ANNA: [("Lønkonto", "**** 4821", True, "mp-demo-anna-0"), ("Budgetkonto", "**** 7710", False, "mp-demo-anna-1")],
    DAVID: [("Privat", "**** 1290", True, "mp-demo-david-0")],
}
