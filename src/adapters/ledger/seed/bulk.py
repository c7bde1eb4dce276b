"""``gateway seed --citizens N``: generated citizens with claims and statements, for benchmarks.

Written through the importer's write path (adapters/ledger/importer), in documents of 500 citizens within
one transaction. The data is the same for the same ``seed`` and day.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.importer import apply, validate
from adapters.ledger.seed.demo import check, department_records, document
from gateway.domain.clock import today as danish_today
from gateway.domain.money import to_decimal_string

FIRST_NAMES = [
    "Mette",
    "Lars",
    "Sofie",
    "Jens",
    "Ida",
    "Peter",
    "Freja",
    "Niels",
    "Emma",
    "Søren",
    "Karen",
    "Mads",
]
LAST_NAMES = [
    "Jensen",
    "Nielsen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Møller",
]
BULK_TITLES = [
    ("DAGTILBUD", "DAYCARE", "Forældrebetaling"),
    ("EJENDOMSSKAT", "PROPERTY_TAX", "Ejendomsskat"),
    ("AFFALD", "WASTE_COLLECTION", "Affaldsgebyr"),
    ("YDELSER", "BENEFIT_REPAYMENT", "Tilbagebetaling af ydelse"),
    ("BOLIG", "BEBOERINDSKUDSLAAN", "Beboerindskudslån"),
]


_BATCH = 500  # citizens per document: bounds the memory a large N needs

# The same few hundred days and amounts over and over: format each once.
_day = functools.lru_cache(maxsize=4096)(date.isoformat)
_money = functools.lru_cache(maxsize=16384)(to_decimal_string)


def bulk_cpr(n: int) -> str:
    """A valid, unique CPR for bulk citizen n (born 1940–1999, 7th digit 0–3)."""
    day = 1 + n % 28
    month = 1 + (n // 28) % 12
    year = 40 + (n // 336) % 60
    serial = 1000 + (n // 20160) % 4000 if n >= 20160 else 1000 + n % 3000
    return f"{day:02d}{month:02d}{year:02d}{serial:04d}"


async def seed_bulk(
    db: Database,
    citizens: int,
    *,
    claims_per_citizen: int = 20,
    lines_per_claim: int = 10,
    today: date | None = None,
    seed: int = 42,
) -> int:
    """Add ``citizens`` generated citizens with claims and statements. Returns the number of citizens added
    (existing bulk CPRs are skipped, so it can be re-run)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic benchmark data, not security
    today = today or danish_today()
    async with db.transaction() as conn:
        existing = set((await conn.execute(select(m.Citizen.cpr))).scalars())
        next_ref = ((await conn.execute(select(func.count()).select_from(m.Claim))).scalar_one() or 0) + 1
        people = _people(rng, existing)
        departments = department_records()  # in the first document only
        added = 0
        while added < citizens:
            batch = list(itertools.islice(people, min(_BATCH, citizens - added)))
            records = _records(rng, batch, today, next_ref, claims_per_citizen, lines_per_claim)
            # analyze: on PostgreSQL the importer refreshes the planner statistics after each large document, or
            # the next document's look-ups run against the statistics of an empty table (seconds each).
            check(await apply(conn, validate(document(departments, records)), analyze=not db.sqlite))
            departments = []
            next_ref += len(batch) * claims_per_citizen
            added += len(batch)
    return added


def _people(rng: random.Random, existing: set[str]) -> Iterator[tuple[str, str]]:
    """New bulk citizens: CPR and name."""
    for n in itertools.count():
        cpr = bulk_cpr(n)
        if cpr not in existing:
            existing.add(cpr)
            yield cpr, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _records(
    rng: random.Random,
    people: list[tuple[str, str]],
    today: date,
    first_ref: int,
    claims_per_citizen: int,
    lines_per_claim: int,
) -> list[dict[str, Any]]:
    """The citizens' records of an import document. (Random numbers are drawn in the same order as before
    the seed went through the importer, so the data is the same.)"""
    claims: list[dict[str, Any]] = []
    for _ in range(len(people) * claims_per_citizen):
        department, kind, title = rng.choice(BULK_TITLES)
        issued = today - timedelta(days=rng.randint(10, 900))
        claims.append(
            {
                "reference": f"BULK-{first_ref + len(claims):08d}",
                "department": department,
                "title": title,
                "kind": kind,
                "issuedOn": _day(issued),
                "dueOn": _day(issued + timedelta(days=30)),
                "originalAmount": _money(rng.randint(200, 8000) * 100),
                "entries": [],
            }
        )
    for claim in claims:
        posted = date.fromisoformat(claim["issuedOn"])
        entries = claim["entries"]
        entries.append(_entry(0, posted, "CHARGE", claim["title"], claim["originalAmount"]))
        for i in range(1, lines_per_claim):
            posted = posted + timedelta(days=rng.randint(5, 40))
            kind, text, amount = rng.choice(
                [
                    ("PAYMENT", "Indbetaling, tak", -rng.randint(50, 500) * 100),
                    ("INTEREST", "Morarenter", rng.randint(5, 90) * 100),
                    ("FEE", "Rykkergebyr", 10_000),
                ]
            )
            entries.append(_entry(i, posted, kind, text, _money(amount)))
    return [
        {"cpr": cpr, "name": name, "claims": claims[i * claims_per_citizen : (i + 1) * claims_per_citizen]}
        for i, (cpr, name) in enumerate(people)
    ]


def _entry(i: int, posted: date, kind: str, text: str, amount: str) -> dict[str, str]:
    return {"id": f"bulk-{i}", "postedOn": _day(posted), "kind": kind, "text": text, "amount": amount}
