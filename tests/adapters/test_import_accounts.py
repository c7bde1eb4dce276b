"""``gateway import``: MobilePay accounts per citizen, and the hygiene of the problems pydantic finds (paths,
the format's own messages, never an input value such as a CPR number).

Same conventions as test_import.py: own CPR numbers (born 2000-2036, 7th digit 9), references ``IMP-…``.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.importer import ImportReport, import_document, parse_json, validate_document
from tests.adapters.test_import import claim, department, document, entry, new_cpr, new_ref, pairs, table_counts


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[Database]:
    database = Database(migrated)
    yield database
    await database.dispose()


def new_account_ref() -> str:
    return "mp-imp-" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:8])  # letters only


def account(ref: str, name: str = "Lønkonto", masked: str = "**** 4821", default: bool = False) -> dict[str, Any]:
    return {"providerRef": ref, "name": name, "maskedNumber": masked, "isDefault": default}


def citizen_with_accounts(accounts: list[dict[str, Any]], cpr: str | None = None) -> dict[str, Any]:
    code = f"IMP-DEP-{uuid.uuid4().hex[:8].upper()}"
    return document(
        [
            {
                "cpr": cpr or new_cpr(),
                "name": "Konto Jensen",
                "claims": [claim(new_ref(), code, [entry("A-1", "1500.00")])],
                "mobilePayAccounts": accounts,
            }
        ],
        [department(code)],
    )


async def stored_accounts(db: Database, cpr: str) -> list[tuple[str, str, str, bool]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(
                m.MobilePayAccount.provider_ref,
                m.MobilePayAccount.name,
                m.MobilePayAccount.masked_number,
                m.MobilePayAccount.is_default,
            )
            .join(m.Citizen, m.Citizen.id == m.MobilePayAccount.citizen_id)
            .where(m.Citizen.cpr == cpr)
            .order_by(m.MobilePayAccount.id)
        )
        return [(r[0], r[1], r[2], bool(r[3])) for r in rows]


def rendered(report: ImportReport) -> str:
    return "\n".join(str(p) for p in report.problems) + report.summary()


async def test_accounts_are_created_updated_and_kept(db: Database) -> None:
    refs = [new_account_ref(), new_account_ref()]
    doc = citizen_with_accounts([account(refs[0], default=True), account(refs[1], "Budgetkonto", "**** 7710")])
    cpr = doc["citizens"][0]["cpr"]

    report = await import_document(db, doc)

    assert report.problems == []
    assert report.counts.mobilepay_accounts.created == 2
    assert "MobilePay accounts: 2 created, 0 updated, 0 unchanged" in report.summary()
    assert await stored_accounts(db, cpr) == [
        (refs[0], "Lønkonto", "**** 4821", True),
        (refs[1], "Budgetkonto", "**** 7710", False),
    ]

    again = await import_document(db, copy.deepcopy(doc))
    assert again.problems == []
    a = again.counts.mobilepay_accounts
    assert (a.created, a.updated, a.unchanged) == (0, 0, 2)

    # The default moves and one account is renamed; an account missing from the file is kept.
    changed = copy.deepcopy(doc)
    changed["citizens"][0]["mobilePayAccounts"] = [account(refs[1], "Budget", "**** 7710", default=True)]
    report = await import_document(db, changed)
    assert report.problems == []
    a = report.counts.mobilepay_accounts
    assert (a.created, a.updated, a.unchanged) == (0, 1, 0)
    assert await stored_accounts(db, cpr) == [
        (refs[0], "Lønkonto", "**** 4821", True),
        (refs[1], "Budget", "**** 7710", True),
    ]

    # Without the field the stored accounts are left alone.
    absent = copy.deepcopy(doc)
    del absent["citizens"][0]["mobilePayAccounts"]
    assert (await import_document(db, absent)).problems == []
    assert len(await stored_accounts(db, cpr)) == 2


async def test_account_of_another_citizen_is_refused(db: Database) -> None:
    ref = new_account_ref()
    first = citizen_with_accounts([account(ref)])
    assert (await import_document(db, first)).problems == []
    stranger = new_cpr()
    before = await table_counts(db)

    report = await import_document(db, citizen_with_accounts([account(ref)], cpr=stranger))

    assert pairs(report) == [
        (
            "citizens[0].mobilePayAccounts[0].providerRef",
            f"provider reference '{ref}' already belongs to another citizen",
        )
    ]
    assert stranger not in rendered(report)
    assert await table_counts(db) == before
    assert await stored_accounts(db, stranger) == []


def test_account_rules() -> None:
    cpr = "0102039955"
    ref = new_account_ref()
    doc = citizen_with_accounts(
        [
            account(ref, default=True),
            {**account(f"mp-{cpr[6:]}"), "isDefault": "yes"},  # the CPR's last four digits
            account("mp-0102039955", masked="4571 1234 5678 9012"),  # a whole CPR number, and too many digits
            account(ref, default=True),
            {"providerRef": "mp konto", "name": " ", "maskedNumber": "**** 1", "colour": "blue"},
        ],
        cpr=cpr,
    )
    problems = [(p.location, p.message) for p in validate_document(doc)]
    assert problems == [
        ("citizens[0].mobilePayAccounts[1].providerRef", "must not contain digits of the citizen's CPR number"),
        ("citizens[0].mobilePayAccounts[1].isDefault", "must be true or false, not a string"),
        ("citizens[0].mobilePayAccounts[2].providerRef", "must not contain a CPR number"),
        (
            "citizens[0].mobilePayAccounts[2].maskedNumber",
            'must be masked: at most the last four digits, e.g. "**** 4821"',
        ),
        (
            "citizens[0].mobilePayAccounts[3].providerRef",
            f"duplicate provider reference '{ref}' (first at citizens[0].mobilePayAccounts[0])",
        ),
        ("citizens[0].mobilePayAccounts[4].colour", "unknown field"),
        ("citizens[0].mobilePayAccounts[4].providerRef", "must be 1 to 64 letters, digits, '-' or '_'"),
        ("citizens[0].mobilePayAccounts[4].name", "must not be empty"),
    ]
    assert all(cpr not in message and cpr[6:] not in message for _, message in problems)

    two_defaults = citizen_with_accounts([account(new_account_ref(), default=True) for _ in range(2)])
    assert [(p.location, p.message) for p in validate_document(two_defaults)] == [
        ("citizens[0].mobilePayAccounts", "at most one account can be the default")
    ]


@pytest.mark.parametrize(
    "bad_cpr",
    ["3102039903", "310203-9903", " 0102039904x", "01020399", "0102039904 4", "１２３４５６７８９０"],
)
def test_a_cpr_is_never_quoted(bad_cpr: str) -> None:
    doc = document([{"cpr": bad_cpr, "name": "x", "claims": [], "nickname": bad_cpr}])
    problems = validate_document(doc)
    assert [(p.location, p.message) for p in problems] == [
        ("citizens[0].nickname", "unknown field (did you mean 'name'?)"),
        ("citizens[0].cpr", "invalid CPR number"),
    ]
    for p in problems:
        assert bad_cpr.strip() not in str(p)


def test_pydantic_texts_and_inputs_never_surface() -> None:
    secret = "1507804321"
    code = "DEP"
    doc = document(
        [
            {
                "cpr": 1507804321,  # a JSON number: refused without quoting it
                "name": ["Anna", secret],
                "claims": {"reference": secret},
            },
            {"cpr": secret, "name": "Anna", "claims": [claim(f"REF-{secret}", code, [entry(secret, secret)])]},
        ],
        [{"code": code, "name": "n", "phone": 8915, "phoneHours": {"weekday": secret}}],
    )
    problems = validate_document(doc)
    assert [(p.location, p.message) for p in problems] == [
        ("departments[0].phone", "must be a string or null, not a number"),
        ("departments[0].phoneHours", "must be an array, not an object"),
        ("citizens[0].cpr", "must be a string, not a number"),
        ("citizens[0].name", "must be a string, not an array"),
        ("citizens[0].claims", "must be an array, not an object"),
        ("citizens[1].claims[0].entries[0].amount", "must be at most 10000000.00"),
    ]
    text = "\n".join(str(p) for p in problems)
    assert secret not in text
    assert "Input should" not in text and "input_value" not in text


def test_duplicate_keys_are_reported_at_every_level() -> None:
    raw = (
        b'{"format": "betalingsoverblik-import", "version": 1, "exportedAt": "2025-11-03T06:00:00Z",'
        b' "departments": [{"code": "D", "name": "n", "name": "m"}],'
        b' "citizens": [{"cpr": "0102039955", "name": "x", "claims": [{"reference": "IMP-DUP", "department": "D",'
        b' "title": "t", "kind": "OTHER", "issuedOn": "2025-01-01", "dueOn": "2025-01-01", "originalAmount": "1",'
        b' "entries": [{"id": "1", "id": "1", "postedOn": "2025-01-01", "kind": "CHARGE", "text": "t",'
        b' "amount": "1"}]}]}]}'
    )
    parsed, problems = parse_json(raw)
    assert problems == []
    assert [(p.location, p.message) for p in validate_document(parsed)] == [
        ("departments[0].name", "field appears more than once"),
        ("citizens[0].claims[0].entries[0].id", "field appears more than once"),
    ]
