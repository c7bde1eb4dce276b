"""``gateway import``: validation with exact locations, all-or-nothing, idempotent upserts, on both databases.

Each test uses its own CPR numbers (7th digit 9 with a year <= 36: born 2000-2036, never a demo or bulk
citizen) and claim references ``IMP-<random>``, because the session's databases are shared with other tests.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.importer import (
    ImportProblem,
    ImportReport,
    import_document,
    parse_json,
    run_import_file,
    validate_document,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TABLES = ("departments", "citizens", "claims", "ledger_entries")


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[Database]:
    database = Database(migrated)
    yield database
    await database.dispose()


def new_cpr() -> str:
    rng = random.SystemRandom()
    return f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(0, 24):02d}9{rng.randint(0, 999):03d}"


def new_ref() -> str:
    # Letters only: hex digits held a CPR-shaped run of ten digits in about one draw in a thousand, and messages
    # mask such a run (``claim reference '**********…' already belongs to another citizen``).
    return "IMP-" + "".join(chr(ord("A") + int(c, 16)) for c in uuid.uuid4().hex[:12])


def entry(id_: str, amount: str, kind: str = "CHARGE", posted: str = "2025-01-10") -> dict[str, Any]:
    return {"id": id_, "postedOn": posted, "kind": kind, "text": f"Post {id_}", "amount": amount}


def claim(reference: str, department: str, entries: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    value = {
        "reference": reference,
        "department": department,
        "title": "Affaldsgebyr 2025",
        "kind": "WASTE_COLLECTION",
        "issuedOn": "2025-01-10",
        "dueOn": "2025-02-10",
        "originalAmount": "1500.00",
        "entries": entries,
    }
    value.update(overrides)
    return value


def document(citizens: list[Any], departments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "format": "betalingsoverblik-import",
        "version": 1,
        "exportedAt": "2025-11-03T06:00:00+01:00",
        "departments": departments or [],
        "citizens": citizens,
    }


def department(code: str, name: str = "Affald og Genbrug") -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "phone": "8915 1760",
        "email": "affald@randers.dk",
        "address": "Laksetorvet 1, 8900 Randers C",
        "web": "https://www.randers.dk/",
        "phoneHours": [{"weekday": "TUESDAY", "opens": "09:00", "closes": "12:00"}],
    }


async def table_counts(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        return {t: (await conn.execute(text(f"SELECT COUNT(*) FROM {t}"))).scalar_one() for t in TABLES}


async def data_versions(conn: AsyncConnection, cprs: list[str]) -> dict[str, int]:
    rows = await conn.execute(select(m.Citizen.cpr, m.Citizen.data_version).where(m.Citizen.cpr.in_(cprs)))
    return {str(cpr): int(version) for cpr, version in rows}


def pairs(report: ImportReport) -> list[tuple[str, str]]:
    return [(p.location, p.message) for p in report.problems]


def assert_no_cpr(report: ImportReport, *cprs: str) -> None:
    rendered = "\n".join(str(p) for p in report.problems) + report.summary()
    for cpr in cprs:
        assert cpr not in rendered
        assert f"{cpr[:6]}-{cpr[6:]}" not in rendered


def two_citizen_document() -> tuple[dict[str, Any], list[str], list[str], str]:
    cprs = [new_cpr(), new_cpr()]
    refs = [new_ref(), new_ref(), new_ref()]
    code = f"IMP-DEP-{uuid.uuid4().hex[:8].upper()}"
    doc = document(
        [
            {
                "cpr": cprs[0],
                "name": "Import Jensen",
                "claims": [
                    claim(
                        refs[0],
                        code,
                        [
                            entry("A-1", "1500.00"),
                            entry("A-2", "100.00", "FEE", "2025-02-20"),
                            {**entry("A-3", "-500.50", "PAYMENT", "2025-03-01"), "component": "FEE"},
                        ],
                    ),
                    claim(refs[1], code, [entry("B-1", "99.95")], kind="DAYCARE", originalAmount="99.95"),
                ],
            },
            {
                # A hyphen in the CPR is accepted; it is stored as ten digits.
                "cpr": f"{cprs[1][:6]}-{cprs[1][6:]}",
                "name": "Import Nielsen",
                "claims": [claim(refs[2], code, [entry("C-1", "2000"), entry("C-2", "-2000", "ADJUSTMENT")])],
            },
        ],
        [department(code)],
    )
    return doc, cprs, refs, code


async def test_valid_import_creates_rows(db: Database) -> None:
    doc, cprs, refs, code = two_citizen_document()

    report = await import_document(db, doc)

    assert report.problems == []
    c = report.counts
    assert (c.departments.created, c.citizens.created, c.claims.created, c.entries.created) == (1, 2, 3, 6)
    assert (c.departments.updated, c.citizens.updated, c.claims.updated, c.entries.updated) == (0, 0, 0, 0)
    assert report.exported_at is not None
    assert "3 created" in report.summary()
    assert_no_cpr(report, *cprs)
    async with db.read() as conn:
        dep = (await conn.execute(select(m.Department).where(m.Department.code == code))).one()
        assert dep.name == "Affald og Genbrug"
        assert dep.phone_hours == [{"weekday": "TUESDAY", "opens": "09:00", "closes": "12:00"}]
        citizens = dict(
            (await conn.execute(select(m.Citizen.cpr, m.Citizen.name).where(m.Citizen.cpr.in_(cprs)))).all()
        )
        assert citizens == {cprs[0]: "Import Jensen", cprs[1]: "Import Nielsen"}
        claims = {
            r.reference: r
            for r in await conn.execute(
                select(m.Claim, m.Citizen.cpr)
                .join(m.Citizen, m.Citizen.id == m.Claim.citizen_id)
                .where(m.Claim.reference.in_(refs))
            )
        }
        first = claims[refs[0]]
        assert (first.cpr, first.kind, first.title) == (cprs[0], "WASTE_COLLECTION", "Affaldsgebyr 2025")
        assert (first.issued_on, first.due_on, first.original_amount_oere) == (
            date(2025, 1, 10),
            date(2025, 2, 10),
            150_000,
        )
        assert first.department_id == dep.id
        assert claims[refs[1]].original_amount_oere == 9_995
        assert claims[refs[2]].cpr == cprs[1]
        entries = (
            await conn.execute(
                select(
                    m.LedgerEntry.external_ref,
                    m.LedgerEntry.kind,
                    m.LedgerEntry.component,
                    m.LedgerEntry.amount_oere,
                    m.LedgerEntry.posted_on,
                    m.LedgerEntry.payment_id,
                )
                .where(m.LedgerEntry.claim_id == first.id)
                .order_by(m.LedgerEntry.external_ref)
            )
        ).all()
        assert [tuple(e) for e in entries] == [
            ("A-1", "CHARGE", None, 150_000, date(2025, 1, 10), None),
            ("A-2", "FEE", None, 10_000, date(2025, 2, 20), None),
            ("A-3", "PAYMENT", "FEE", -50_050, date(2025, 3, 1), None),
        ]
        balance = (
            await conn.execute(
                select(func.sum(m.LedgerEntry.amount_oere)).where(m.LedgerEntry.claim_id == claims[refs[2]].id)
            )
        ).scalar_one()
        assert int(balance) == 0


async def test_reimport_is_idempotent(db: Database) -> None:
    doc, cprs, refs, _ = two_citizen_document()
    assert (await import_document(db, doc)).problems == []
    before = await table_counts(db)
    async with db.read() as conn:
        stamps = (await conn.execute(select(m.Claim.updated_at).where(m.Claim.reference.in_(refs)))).scalars().all()
        versions = await data_versions(conn, cprs)

    again = await import_document(db, copy.deepcopy(doc))

    assert again.problems == []
    c = again.counts
    assert (c.departments.unchanged, c.citizens.unchanged, c.claims.unchanged, c.entries.unchanged) == (1, 2, 3, 6)
    for rc in (c.departments, c.citizens, c.claims, c.entries):
        assert (rc.created, rc.updated, rc.deleted) == (0, 0, 0)
    assert await table_counts(db) == before
    async with db.read() as conn:
        assert (
            await conn.execute(select(m.Claim.updated_at).where(m.Claim.reference.in_(refs)))
        ).scalars().all() == stamps
        assert await data_versions(conn, cprs) == versions  # nothing changed: cached responses stay valid


async def test_changes_update_in_place_and_gateway_entries_are_kept(db: Database) -> None:
    doc, cprs, refs, _ = two_citizen_document()
    assert (await import_document(db, doc)).problems == []
    async with db.read() as conn:
        citizen_id = (await conn.execute(select(m.Citizen.id).where(m.Citizen.cpr == cprs[0]))).scalar_one()
        claim_id = (await conn.execute(select(m.Claim.id).where(m.Claim.reference == refs[0]))).scalar_one()
        versions_before = await data_versions(conn, cprs)
        ids_before = dict(
            (
                await conn.execute(
                    select(m.LedgerEntry.external_ref, m.LedgerEntry.id).where(m.LedgerEntry.claim_id == claim_id)
                )
            ).all()
        )
    now = datetime.now(UTC)
    async with db.transaction() as conn:
        # Entries the gateway wrote itself: one for a payment, one without a source id.
        payment_id = (
            await conn.execute(
                insert(m.Payment)
                .values(
                    citizen_id=citizen_id,
                    method="CARD",
                    status="CAPTURED",
                    amount_oere=1_000,
                    return_url="https://example.test/",
                    created_at=now,
                    updated_at=now,
                )
                .returning(m.Payment.id)
            )
        ).scalar_one()
        gateway_rows: list[dict[str, Any]] = [
            {"external_ref": f"payment-{payment_id}", "payment_id": payment_id},
            {"external_ref": None, "payment_id": None},
        ]
        await conn.execute(
            insert(m.LedgerEntry),
            [
                {
                    "claim_id": claim_id,
                    "posted_on": date(2025, 4, 1),
                    "kind": "PAYMENT",
                    "component": None,
                    "text": "Betaling via Mit betalingsoverblik",
                    "amount_oere": -1_000,
                    "created_at": now,
                    **row,
                }
                for row in gateway_rows
            ],
        )

    changed = copy.deepcopy(doc)
    changed["citizens"][0]["name"] = "Import Jensen-Hansen"
    first_claim = changed["citizens"][0]["claims"][0]
    first_claim["title"] = "Affaldsgebyr 2025 (rettet)"
    first_claim["entries"][0]["amount"] = "1750.25"  # A-1 changed
    del first_claim["entries"][1]  # A-2 gone from the source
    first_claim["entries"].append(entry("A-4", "12.00", "INTEREST", "2025-04-30"))
    report = await import_document(db, changed)

    assert report.problems == []
    assert (report.counts.citizens.updated, report.counts.citizens.unchanged) == (1, 1)
    assert (report.counts.claims.updated, report.counts.claims.unchanged) == (1, 2)
    e = report.counts.entries
    assert (e.created, e.updated, e.deleted, e.unchanged) == (1, 1, 1, 4)
    async with db.read() as conn:
        assert (await conn.execute(select(m.Citizen.name).where(m.Citizen.id == citizen_id))).scalar_one() == (
            "Import Jensen-Hansen"
        )
        assert (
            (await conn.execute(select(m.Claim.title).where(m.Claim.id == claim_id))).scalar_one().endswith("(rettet)")
        )
        rows = (
            await conn.execute(
                select(
                    m.LedgerEntry.id, m.LedgerEntry.external_ref, m.LedgerEntry.amount_oere, m.LedgerEntry.payment_id
                ).where(m.LedgerEntry.claim_id == claim_id)
            )
        ).all()
        versions_after = await data_versions(conn, cprs)
    assert versions_after[cprs[0]] > versions_before[cprs[0]]  # the citizen's cached responses are invalidated
    assert versions_after[cprs[1]] == versions_before[cprs[1]]  # nothing of theirs changed
    by_ref = {r.external_ref: r for r in rows}
    assert by_ref["A-1"].amount_oere == 175_025
    assert by_ref["A-1"].id == ids_before["A-1"]  # updated in place, not re-created
    assert "A-2" not in by_ref
    assert by_ref["A-4"].amount_oere == 1_200
    assert by_ref[f"payment-{payment_id}"].payment_id == payment_id  # the gateway's entries survive
    assert by_ref[None].amount_oere == -1_000
    assert len(rows) == 5

    # A source id that collides with the gateway's payment entry is refused rather than overwritten.
    clash = copy.deepcopy(changed)
    clash["citizens"][0]["claims"][0]["entries"].append(entry(f"payment-{payment_id}", "-10.00", "PAYMENT"))
    refused = await import_document(db, clash)
    assert pairs(refused) == [
        (
            "citizens[0].claims[0].entries[3].id",
            f"entry id 'payment-{payment_id}' is already used by a payment the gateway recorded",
        )
    ]


async def test_file_with_several_problems_reports_all_and_writes_nothing(db: Database, migrated: str) -> None:
    before = await table_counts(db)

    report = await run_import_file(migrated, FIXTURES / "import-invalid.json")

    assert pairs(report) == [
        ("departments[0].phoneHours[0].closes", "closes must be after opens"),
        ("citizens[0].cpr", "invalid CPR number"),
        ("citizens[1].claims[0].dueOn", "dueOn before issuedOn"),
        (
            "citizens[1].claims[0].originalAmount",
            'must be a decimal string such as "1234.50", not a JSON number',
        ),
        ("citizens[1].claims[0].entries[0].amount", "must be a decimal string with at most two decimals"),
        ("citizens[1].claims[0].entries[1].txt", "unknown field (did you mean 'text'?)"),
        ("citizens[1].claims[0].entries[1].text", "required field is missing"),
        ("citizens[1].claims[0].entries[1].postedOn", "'2025-13-01' is not a valid date"),
        (
            "citizens[1].claims[0].entries[1].kind",
            "unknown entry kind 'REFUND' (expected one of CHARGE, INTEREST, FEE, PAYMENT, ADJUSTMENT)",
        ),
        (
            "citizens[1].claims[0].entries[1].id",
            "duplicate entry id 'E1' in this claim (first at citizens[1].claims[0].entries[0])",
        ),
        ("citizens[2].cpr", "duplicate CPR number (same as citizens[1])"),
        (
            "citizens[2].claims[0].reference",
            "duplicate claim reference 'IMP-BAD-0001' (first at citizens[1].claims[0])",
        ),
        ("citizens[1].claims[0].department", "unknown department code 'NO-SUCH-DEPT'"),
    ]
    assert report.summary() == "import refused: 13 problem(s); nothing was written"
    assert_no_cpr(report, "3102039903", "0102039904")
    assert await table_counts(db) == before


async def test_one_bad_claim_among_good_ones_writes_nothing(db: Database) -> None:
    doc, _, refs, _ = two_citizen_document()
    doc["citizens"][1]["claims"][0]["entries"][0]["amount"] = 2000  # a JSON number
    before = await table_counts(db)

    report = await import_document(db, doc)

    assert pairs(report) == [
        ("citizens[1].claims[0].entries[0].amount", 'must be a decimal string such as "-250.00", not a JSON number')
    ]
    assert report.counts.citizens.created == 0
    assert await table_counts(db) == before
    async with db.read() as conn:
        assert (await conn.execute(select(func.count()).where(m.Claim.reference.in_(refs)))).scalar_one() == 0


async def test_claim_reference_of_another_citizen_is_refused(db: Database) -> None:
    doc, cprs, refs, code = two_citizen_document()
    assert (await import_document(db, doc)).problems == []
    stranger = new_cpr()
    takeover = document(
        [
            {"cpr": new_cpr(), "name": "Harmless", "claims": [claim(new_ref(), code, [entry("X-1", "10.00")])]},
            {"cpr": stranger, "name": "Someone Else", "claims": [claim(refs[2], code, [entry("C-1", "2000")])]},
        ]
    )
    before = await table_counts(db)

    report = await import_document(db, takeover)

    assert pairs(report) == [
        ("citizens[1].claims[0].reference", f"claim reference '{refs[2]}' already belongs to another citizen")
    ]
    assert_no_cpr(report, stranger, *cprs)
    assert await table_counts(db) == before
    async with db.read() as conn:
        owner = await conn.execute(
            select(m.Citizen.cpr).join(m.Claim, m.Claim.citizen_id == m.Citizen.id).where(m.Claim.reference == refs[2])
        )
        assert owner.scalar_one() == cprs[1]
        assert (await conn.execute(select(func.count()).where(m.Citizen.cpr == stranger))).scalar_one() == 0


async def test_invalid_json_reports_line_and_column(migrated: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{\n  "format": "betalingsoverblik-import",\n  "version": 1\n  "citizens": []\n}\n', encoding="utf-8"
    )
    report = await run_import_file(migrated, bad)
    assert pairs(report) == [("line 4, column 3", "invalid JSON: Expecting ',' delimiter")]

    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{\n "title": "Æbler", "name": "Søren"\n}'.encode("latin-1"))
    assert pairs(await run_import_file(migrated, latin1)) == [("line 2, column 12", "the file is not valid UTF-8")]
    mixed = tmp_path / "mixed.json"
    mixed.write_bytes('{\n "title": "Æbler", '.encode() + '"name": "Søren"\n}'.encode("latin-1"))
    assert pairs(await run_import_file(migrated, mixed)) == [("line 2, column 30", "the file is not valid UTF-8")]

    missing = await run_import_file(migrated, tmp_path / "missing.json")
    assert pairs(missing) == [("file", "cannot read the file: No such file or directory")]


def test_shape_problems_are_specific() -> None:
    code = "DEP"
    doc = document(
        [
            {
                "cpr": "0102039955",
                "name": "",
                "claims": [
                    {
                        "reference": " IMP-PADDED",
                        "department": code,
                        "kind": "PARKING",
                        "issuedOn": "10-01-2025",
                        "dueOn": "2025-02-10",
                        "originalAmount": "-5.00",
                        "entries": [
                            {**entry("1", "-1.00", "CHARGE"), "component": "FEE"},
                            entry("2", "5.00", "PAYMENT"),
                            entry("3", "0.00", "ADJUSTMENT"),
                            entry("4", "12,50", "FEE"),
                            {**entry("5", "1.00"), "component": "TIP"},
                            "not an entry",
                        ],
                    }
                ],
                "email": "x@example.test",
            },
            [],
        ],
        [
            department(code),
            {**department(code), "phoneHours": [{"weekday": "TIRSDAG", "opens": "9", "closes": "12:00"}]},
        ],
    )
    doc["exportedAt"] = "yesterday"
    assert [(p.location, p.message) for p in validate_document(doc)] == [
        ("exportedAt", 'must be a date-time with a time zone, e.g. "2025-11-03T06:00:00+01:00"'),
        ("departments[1].code", "duplicate department code 'DEP' (first at departments[0])"),
        (
            "departments[1].phoneHours[0].weekday",
            "unknown weekday 'TIRSDAG' (expected one of MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, "
            "SUNDAY)",
        ),
        ("departments[1].phoneHours[0].opens", 'must be a time "HH:MM" (24-hour clock)'),
        ("citizens[0].email", "unknown field"),
        ("citizens[0].name", "must not be empty"),
        ("citizens[0].claims[0].title", "required field is missing"),
        ("citizens[0].claims[0].reference", "must not start or end with whitespace"),
        (
            "citizens[0].claims[0].kind",
            "unknown claim kind 'PARKING' (expected one of DAYCARE, PROPERTY_TAX, BEBOERINDSKUDSLAAN, "
            "WASTE_COLLECTION, BENEFIT_REPAYMENT, RENT, OTHER)",
        ),
        ("citizens[0].claims[0].issuedOn", 'must be a date "YYYY-MM-DD"'),
        ("citizens[0].claims[0].originalAmount", "must not be negative"),
        ("citizens[0].claims[0].entries[0].amount", "a CHARGE must be positive (use an ADJUSTMENT to reduce a claim)"),
        ("citizens[0].claims[0].entries[0].component", "component is only allowed on PAYMENT and ADJUSTMENT entries"),
        ("citizens[0].claims[0].entries[1].amount", "a PAYMENT must be negative"),
        ("citizens[0].claims[0].entries[2].amount", "must not be zero"),
        ("citizens[0].claims[0].entries[3].amount", "must be a decimal string with at most two decimals"),
        (
            "citizens[0].claims[0].entries[4].component",
            "unknown component 'TIP' (expected one of FEE, INTEREST, PRINCIPAL)",
        ),
        ("citizens[0].claims[0].entries[5]", "must be an object, not a string"),
        ("citizens[1]", "must be an object, not an array"),
    ]


def test_document_level_problems() -> None:
    assert [(p.location, p.message) for p in validate_document([])] == [("$", "must be an object, not an array")]
    assert [(p.location, p.message) for p in validate_document({"format": "something-else", "version": 1})] == [
        ("exportedAt", "required field is missing"),
        ("departments", "required field is missing"),
        ("citizens", "required field is missing"),
        ("format", 'must be "betalingsoverblik-import"'),
    ]
    future = document([])
    future["version"] = 2
    assert [(p.location, p.message) for p in validate_document(future)] == [
        ("version", "unsupported version (this gateway reads version 1)")
    ]
    typo = document([])
    typo["citizen"] = typo.pop("citizens")
    assert [(p.location, p.message) for p in validate_document(typo)] == [
        ("citizen", "unknown field (did you mean 'citizens'?)"),
        ("citizens", "required field is missing"),
    ]
    # A key given twice in the JSON text is a problem too (json keeps the last one silently).
    parsed, problems = parse_json(b'{"format": "betalingsoverblik-import", "version": 1, "version": 1}')
    assert problems == []
    assert ImportProblem("version", "field appears more than once") in validate_document(parsed)
    # A CPR-like value in an echoed field is masked.
    masked = validate_document(
        document([], [{"code": "0102039955", "name": "x", "colour": "red"}, {"code": "0102039955", "name": "y"}])
    )
    assert all("0102039955" not in str(p) for p in masked)
    assert (
        ImportProblem("departments[1].code", "duplicate department code '**********' (first at departments[0])")
        in masked
    )


def _gateway_cli(database_url: str, file: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "import", str(file)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_cli_import(migrated: str, db: Database, tmp_path: Path) -> None:
    example_cprs = ["0102039901", "1504859902"]
    invalid_cprs = ["3102039903", "0102039904"]

    bad = await asyncio.to_thread(_gateway_cli, migrated, FIXTURES / "import-invalid.json", tmp_path)
    assert bad.returncode == 1, bad.stderr
    assert "import refused: 13 problem(s); nothing was written" in bad.stderr
    assert "  citizens[0].cpr: invalid CPR number" in bad.stderr
    assert "  citizens[1].claims[0].department: unknown department code 'NO-SUCH-DEPT'" in bad.stderr

    good = await asyncio.to_thread(_gateway_cli, migrated, FIXTURES / "import-example.json", tmp_path)
    assert good.returncode == 0, good.stderr
    assert "citizens: 2 created" in good.stderr or "citizens: 0 created, 0 updated, 2 unchanged" in good.stderr
    again = await asyncio.to_thread(_gateway_cli, migrated, FIXTURES / "import-example.json", tmp_path)
    assert again.returncode == 0, again.stderr
    assert "entries: 0 created, 0 updated, 6 unchanged, 0 deleted" in again.stderr

    for run in (bad, good, again):
        output = run.stdout + run.stderr
        for cpr in example_cprs + invalid_cprs:
            assert cpr not in output
            assert f"{cpr[:6]}-{cpr[6:]}" not in output
    async with db.read() as conn:
        stored = (await conn.execute(select(m.Citizen.cpr).where(m.Citizen.cpr.in_(example_cprs)))).scalars().all()
        assert sorted(stored) == sorted(example_cprs)
    # The example file is valid JSON for this module's own parser too.
    assert parse_json((FIXTURES / "import-example.json").read_bytes())[1] == []
    assert json.loads((FIXTURES / "import-example.json").read_text(encoding="utf-8"))["version"] == 1
