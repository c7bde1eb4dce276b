"""The seeds write through the importer: the demo ledger is exactly its import document, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.importer import import_document, validate_document
from adapters.ledger.seed import (
    DEMO_MOBILEPAY_ACCOUNTS,
    DEPARTMENTS,
    _demo_citizens,
    bulk_cpr,
    demo_document,
    seed_bulk,
    seed_demo,
)

TODAY = date(2025, 11, 3)


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[Database]:
    database = Database(migrated)
    yield database
    await database.dispose()


def test_demo_document_is_valid_and_never_derives_a_reference_from_a_cpr() -> None:
    doc = demo_document(TODAY)
    assert validate_document(doc) == []
    for citizen in doc["citizens"]:
        cpr = citizen["cpr"]
        for account in citizen["mobilePayAccounts"]:
            assert not any(cpr[i : i + 4] in account["providerRef"] for i in range(7))


async def test_seed_demo_writes_its_import_document(db: Database) -> None:
    await seed_demo(db, today=TODAY)

    # Importing the same document afterwards finds every row as the seed wrote it.
    report = await import_document(db, demo_document(TODAY))

    assert report.problems == []
    c = report.counts
    demo = _demo_citizens()
    n_claims = sum(len(claims) for _, _, claims in demo)
    n_entries = sum(len(claim.entries) for _, _, claims in demo for claim in claims)
    n_accounts = sum(len(accounts) for accounts in DEMO_MOBILEPAY_ACCOUNTS.values())
    assert (c.departments.unchanged, c.citizens.unchanged, c.claims.unchanged) == (len(DEPARTMENTS), 4, n_claims)
    assert (c.entries.unchanged, c.mobilepay_accounts.unchanged) == (n_entries, n_accounts)
    for rc in (c.departments, c.citizens, c.claims, c.entries, c.mobilepay_accounts):
        assert (rc.created, rc.updated, rc.deleted) == (0, 0, 0)


async def test_seed_demo_content_and_reseed(db: Database) -> None:
    await seed_demo(db, today=TODAY)
    async with db.transaction() as conn:  # something the gateway wrote for Anna: gone after a re-seed
        anna = (await conn.execute(select(m.Citizen.id).where(m.Citizen.cpr == "1507804321"))).scalar_one()
        await conn.execute(
            m.table(m.MobilePayAccount)
            .insert()
            .values(citizen_id=anna, name="Ekstra", masked_number="**** 0000", provider_ref="mp-test-extra")
        )
    await seed_demo(db, today=TODAY)

    async with db.read() as conn:
        for cpr, name, claims in _demo_citizens():
            citizen = (await conn.execute(select(m.Citizen).where(m.Citizen.cpr == cpr))).one()
            assert citizen.name == name
            stored = {
                row.reference: row
                for row in await conn.execute(
                    select(m.Claim, m.Department.code)
                    .join(m.Department, m.Department.id == m.Claim.department_id)
                    .where(m.Claim.citizen_id == citizen.id)
                    .order_by(m.Claim.id)
                )
            }
            assert list(stored) == [c.reference for c in claims]  # inserted in the seed's order
            for c in claims:
                row = stored[c.reference]
                issued = TODAY - timedelta(days=c.issued_days_ago)
                assert (row.code, row.title, row.kind) == (c.department, c.title, c.kind)
                assert (row.issued_on, row.due_on) == (issued, issued + timedelta(days=c.due_in_days))
                assert row.original_amount_oere == sum(a for _, k, _, a in c.entries if k == "CHARGE")
                entries = (
                    await conn.execute(
                        select(
                            m.LedgerEntry.posted_on,
                            m.LedgerEntry.kind,
                            m.LedgerEntry.text,
                            m.LedgerEntry.amount_oere,
                            m.LedgerEntry.external_ref,
                            m.LedgerEntry.component,
                        )
                        .where(m.LedgerEntry.claim_id == row.id)
                        .order_by(m.LedgerEntry.id)
                    )
                ).all()
                assert [tuple(e) for e in entries] == [
                    (TODAY - timedelta(days=days), kind, text, amount, f"demo-{i}", None)
                    for i, (days, kind, text, amount) in enumerate(c.entries)
                ]
            accounts = (
                await conn.execute(
                    select(
                        m.MobilePayAccount.name,
                        m.MobilePayAccount.masked_number,
                        m.MobilePayAccount.is_default,
                        m.MobilePayAccount.provider_ref,
                    )
                    .where(m.MobilePayAccount.citizen_id == citizen.id)
                    .order_by(m.MobilePayAccount.id)
                )
            ).all()
            assert [(a[0], a[1], bool(a[2]), a[3]) for a in accounts] == DEMO_MOBILEPAY_ACCOUNTS.get(cpr, [])


async def test_seed_bulk_goes_through_the_importer(db: Database) -> None:
    async with db.read() as conn:
        before = set((await conn.execute(select(m.Citizen.cpr))).scalars())

    added = await seed_bulk(db, 3, claims_per_citizen=2, lines_per_claim=4, today=TODAY)

    assert added == 3
    async with db.read() as conn:
        new = set((await conn.execute(select(m.Citizen.cpr))).scalars()) - before
        assert len(new) == 3
        assert new <= {bulk_cpr(n) for n in range(len(before) + 3)}
        claims = (
            await conn.execute(
                select(m.Claim.id, m.Claim.reference)
                .join(m.Citizen, m.Citizen.id == m.Claim.citizen_id)
                .where(m.Citizen.cpr.in_(new))
            )
        ).all()
        assert len(claims) == 6 and all(ref.startswith("BULK-") for _, ref in claims)
        refs = (
            await conn.execute(
                select(m.LedgerEntry.external_ref, func.count())
                .where(m.LedgerEntry.claim_id.in_([id_ for id_, _ in claims]))
                .group_by(m.LedgerEntry.external_ref)
                .order_by(m.LedgerEntry.external_ref)
            )
        ).all()
        assert [tuple(r) for r in refs] == [("bulk-0", 6), ("bulk-1", 6), ("bulk-2", 6), ("bulk-3", 6)]
