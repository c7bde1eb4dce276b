"""Demo data (``gateway seed``) and bulk data for benchmarks (``gateway seed --citizens N``).

The demo citizens are documented in the README; tests, docs and external checks rely on them:
- 1507804321 Anna Jensen: open claims from several departments, a beboerindskudslån with interest, a claim
  Gældsstyrelsen reports as at collection, two years of statements with payments, interest and a fee.
- 2203651122 Bo Nielsen: no debt (one fully paid claim).
- 0311922345 Camilla Hansen: only claims at collection.
- 1010005678 David Larsen: about 12,000 DKK over three open claims (one returned from collection), so
  350 DKK a month would take more than 18 months.
Dates are relative to the day of seeding, so the demo always looks current.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.versions import bump_all
from gateway.domain.clock import today as danish_today
from gateway.domain.clock import utcnow

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


DEMO_MOBILEPAY_ACCOUNTS = {
    ANNA: [("Lønkonto", "**** 4821", True), ("Budgetkonto", "**** 7710", False)],
    DAVID: [("Privat", "**** 1290", True)],
}


async def upsert_departments(conn: AsyncConnection, departments: list[dict[str, Any]]) -> dict[str, int]:
    existing = {r.code: r.id for r in await conn.execute(select(m.Department.code, m.Department.id))}
    for d in departments:
        if d["code"] in existing:
            await conn.execute(update(m.Department).where(m.Department.code == d["code"]).values(**d))
        else:
            result = await conn.execute(insert(m.Department).values(**d).returning(m.Department.id))
            existing[d["code"]] = result.scalar_one()
    await bump_all(conn)  # every citizen's claims show their sender's details
    return existing


async def seed_demo(db: Database, *, today: date | None = None) -> None:
    """(Re)create the demo citizens. Idempotent: their old data is replaced."""
    today = today or danish_today()
    now = utcnow()
    async with db.transaction() as conn:
        departments = await upsert_departments(conn, DEPARTMENTS)
        for cpr, name, claims in _demo_citizens():
            await _delete_citizen(conn, cpr)
            citizen_id = (
                await conn.execute(
                    insert(m.Citizen).values(cpr=cpr, name=name, created_at=now, updated_at=now).returning(m.Citizen.id)
                )
            ).scalar_one()
            for c in claims:
                issued = today - timedelta(days=c.issued_days_ago)
                original = sum(a for _, k, _, a in c.entries if k == "CHARGE")
                claim_id = (
                    await conn.execute(
                        insert(m.Claim)
                        .values(
                            reference=c.reference,
                            citizen_id=citizen_id,
                            department_id=departments[c.department],
                            title=c.title,
                            kind=c.kind,
                            issued_on=issued,
                            due_on=issued + timedelta(days=c.due_in_days),
                            original_amount_oere=original,
                            created_at=now,
                            updated_at=now,
                        )
                        .returning(m.Claim.id)
                    )
                ).scalar_one()
                await conn.execute(
                    insert(m.LedgerEntry),
                    [
                        {
                            "claim_id": claim_id,
                            "posted_on": today - timedelta(days=days),
                            "kind": kind,
                            "component": None,
                            "text": text,
                            "amount_oere": amount,
                            "external_ref": f"demo-{i}",
                            "payment_id": None,
                            "created_at": now,
                        }
                        for i, (days, kind, text, amount) in enumerate(c.entries)
                    ],
                )
            for i, (acc_name, masked, default) in enumerate(DEMO_MOBILEPAY_ACCOUNTS.get(cpr, [])):
                await conn.execute(
                    insert(m.MobilePayAccount).values(
                        citizen_id=citizen_id,
                        name=acc_name,
                        masked_number=masked,
                        provider_ref=f"mp-demo-{cpr[-4:]}-{i}",
                        is_default=default,
                    )
                )


async def _delete_citizen(conn: AsyncConnection, cpr: str) -> None:
    citizen_id = (await conn.execute(select(m.Citizen.id).where(m.Citizen.cpr == cpr))).scalar_one_or_none()
    if citizen_id is None:
        return
    claim_ids = select(m.Claim.id).where(m.Claim.citizen_id == citizen_id).scalar_subquery()
    plan_ids = select(m.InstallmentPlan.id).where(m.InstallmentPlan.citizen_id == citizen_id).scalar_subquery()
    enrolment_ids = select(m.Enrolment.id).where(m.Enrolment.citizen_id == citizen_id).scalar_subquery()
    payment_ids = select(m.Payment.id).where(m.Payment.citizen_id == citizen_id).scalar_subquery()
    for stmt in (
        delete(m.EnrolmentClaim).where(m.EnrolmentClaim.enrolment_id.in_(enrolment_ids)),
        delete(m.Enrolment).where(m.Enrolment.citizen_id == citizen_id),
        delete(m.Installment).where(m.Installment.plan_id.in_(plan_ids)),
        delete(m.PlanClaim).where(m.PlanClaim.plan_id.in_(plan_ids)),
        delete(m.InstallmentPlan).where(m.InstallmentPlan.citizen_id == citizen_id),
        delete(m.LedgerEntry).where(m.LedgerEntry.claim_id.in_(claim_ids)),
        delete(m.PaymentClaim).where(m.PaymentClaim.payment_id.in_(payment_ids)),
        delete(m.Payment).where(m.Payment.citizen_id == citizen_id),
        delete(m.Claim).where(m.Claim.citizen_id == citizen_id),
        delete(m.MobilePayAccount).where(m.MobilePayAccount.citizen_id == citizen_id),
        delete(m.AccessLogEntry).where(m.AccessLogEntry.citizen_id == citizen_id),
        delete(m.Citizen).where(m.Citizen.id == citizen_id),
    ):
        await conn.execute(stmt)


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
    """Insert ``citizens`` generated citizens with claims and statements, in large batches. Returns the
    number of citizens added (existing bulk CPRs are skipped, so it can be re-run)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic benchmark data, not security
    today = today or danish_today()
    now = utcnow()
    async with db.transaction() as conn:
        departments = await upsert_departments(conn, DEPARTMENTS)
        existing = set((await conn.execute(select(m.Citizen.cpr))).scalars())
        next_ref = ((await conn.execute(select(func.count()).select_from(m.Claim))).scalar_one() or 0) + 1
        added = 0
        batch = 500
        seen: set[str] = set()
        n = 0
        while added < citizens:
            rows: list[dict[str, Any]] = []
            while len(rows) < batch and added + len(rows) < citizens:
                cpr = bulk_cpr(n)
                n += 1
                if cpr in existing or cpr in seen:
                    continue
                seen.add(cpr)
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                rows.append({"cpr": cpr, "name": name, "created_at": now, "updated_at": now})
            ids = (await conn.execute(insert(m.Citizen).returning(m.Citizen.id), rows)).scalars().all()
            claim_rows: list[dict[str, Any]] = []
            for citizen_id in ids:
                for _ in range(claims_per_citizen):
                    dep, kind, title = rng.choice(BULK_TITLES)
                    issued = today - timedelta(days=rng.randint(10, 900))
                    claim_rows.append(
                        {
                            "reference": f"BULK-{next_ref:08d}",
                            "citizen_id": citizen_id,
                            "department_id": departments[dep],
                            "title": title,
                            "kind": kind,
                            "issued_on": issued,
                            "due_on": issued + timedelta(days=30),
                            "original_amount_oere": rng.randint(200, 8000) * 100,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    next_ref += 1
            claim_ids = (await conn.execute(insert(m.Claim).returning(m.Claim.id), claim_rows)).scalars().all()
            entry_rows = []
            for claim_id, claim in zip(claim_ids, claim_rows, strict=True):
                posted: date = claim["issued_on"]
                entry_rows.append(
                    _entry(claim_id, posted, "CHARGE", claim["title"], claim["original_amount_oere"], 0, now)
                )
                for i in range(1, lines_per_claim):
                    posted = posted + timedelta(days=rng.randint(5, 40))
                    kind, text, amount = rng.choice(
                        [
                            ("PAYMENT", "Indbetaling, tak", -rng.randint(50, 500) * 100),
                            ("INTEREST", "Morarenter", rng.randint(5, 90) * 100),
                            ("FEE", "Rykkergebyr", 10_000),
                        ]
                    )
                    entry_rows.append(_entry(claim_id, posted, kind, text, amount, i, now))
            for chunk in range(0, len(entry_rows), 5000):
                await conn.execute(insert(m.LedgerEntry), entry_rows[chunk : chunk + 5000])
            added += len(ids)
    if not db.sqlite:
        # Fresh statistics, or PostgreSQL plans the next queries as if the tables were still empty.
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("ANALYZE citizens, claims, ledger_entries")
    return added


def _entry(claim_id: int, posted: date, kind: str, text: str, amount: int, i: int, now: Any) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "posted_on": posted,
        "kind": kind,
        "component": None,
        "text": text,
        "amount_oere": amount,
        "external_ref": f"bulk-{i}",
        "payment_id": None,
        "created_at": now,
    }
