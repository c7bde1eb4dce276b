"""Writing a validated document into the ledger: the one write path for the source system's data.

``gateway import`` and the seeds (adapters/ledger/seed) all go through ``apply``, in their own transaction:
first the checks against the database (department codes, claim references and provider references owned by
another citizen, entry ids used by the gateway), then, only if there is no problem at all, batched upserts
keyed by the source's identities. Only changed rows are written, so re-importing the same data writes
nothing. Database error texts (which may quote key values, a CPR) are never passed on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger import versions
from adapters.ledger.importer.report import ImportCounts, ImportProblem, ImportReport, RowCounts, location, shown
from adapters.ledger.importer.schema import Citizen, Claim, ImportDocument
from adapters.ledger.importer.validation import Validation
from gateway.domain.clock import utcnow

_IN_CHUNK = 1000  # keys per IN (...) list
_ROW_BATCH = 5000  # rows per executemany
_CLAIM_CHUNK = 1000  # claims whose entries are reconciled together
_ANALYZE_AFTER_ROWS = 10_000  # PostgreSQL: refresh planner statistics after creating this many rows

_departments = m.table(m.Department)
_citizens = m.table(m.Citizen)
_claims = m.table(m.Claim)
_entries = m.table(m.LedgerEntry)
_accounts = m.table(m.MobilePayAccount)

T = TypeVar("T")


async def apply(conn: AsyncConnection, validation: Validation, *, analyze: bool) -> ImportReport:
    """Check a validated document against the database and, if nothing at all is wrong, write it.

    With problems nothing is written (the caller rolls its transaction back if it wrote anything else).
    ``analyze``: on PostgreSQL, refresh the planner statistics after a bulk load (False on SQLite, or when the
    caller does it once after several calls)."""
    report = ImportReport(problems=list(validation.problems), exported_at=validation.exported_at)
    report.problems.extend(await check_against_database(conn, validation))
    if report.problems or validation.document is None:
        return report
    report.counts = await write_document(conn, validation.document, analyze=analyze)
    return report


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _all_claims(doc: ImportDocument) -> Iterator[tuple[Citizen, Claim]]:
    for citizen in doc.citizens:
        for claim in citizen.claims:
            yield citizen, claim


# ------------------------------------------------------------------------------ checks against the database


async def check_against_database(conn: AsyncConnection, v: Validation) -> list[ImportProblem]:
    """Problems only the database can show, in document order. Works on a document with problems too."""
    problems: list[ImportProblem] = []
    known_departments = set(v.department_codes)
    known_departments.update((await conn.execute(select(_departments.c.code))).scalars())
    for claim in v.claims:
        if claim.department and claim.department not in known_departments:
            problems.append(
                ImportProblem(
                    location((*claim.path, "department")), f"unknown department code {shown(claim.department)}"
                )
            )

    owners = {claim.reference: claim.owner for claim in v.claims if claim.reference}
    by_reference = {claim.reference: claim for claim in v.claims if claim.reference}
    foreign: set[str] = set()
    gateway_refs: set[tuple[str, str]] = set()
    references = list(owners)
    for chunk in _chunks(references, _IN_CHUNK):
        stored: dict[int, str] = {}
        owned = await conn.execute(
            select(_claims.c.id, _claims.c.reference, _citizens.c.cpr)
            .join(_citizens, _citizens.c.id == _claims.c.citizen_id)
            .where(_claims.c.reference.in_(chunk))
        )
        for claim_id, reference, cpr in owned:
            stored[claim_id] = reference
            owner = owners[reference]
            if owner and owner != cpr:
                foreign.add(reference)
        if not stored:
            continue
        # By claim id, so PostgreSQL uses the (claim_id, ...) index instead of scanning all entries.
        used = await conn.execute(
            select(_entries.c.claim_id, _entries.c.external_ref).where(
                _entries.c.claim_id.in_(list(stored)),
                _entries.c.payment_id.is_not(None),
                _entries.c.external_ref.is_not(None),
            )
        )
        gateway_refs.update((stored[claim_id], external_ref) for claim_id, external_ref in used)
    for reference in references:  # in document order
        claim = by_reference[reference]
        if reference in foreign:
            problems.append(
                ImportProblem(
                    location((*claim.path, "reference")),
                    f"claim reference {shown(reference)} already belongs to another citizen",
                )
            )
        for i, entry_id in enumerate(claim.entry_ids):
            if entry_id and (reference, entry_id) in gateway_refs:
                problems.append(
                    ImportProblem(
                        location((*claim.path, "entries", i, "id")),
                        f"entry id {shown(entry_id)} is already used by a payment the gateway recorded",
                    )
                )

    account_owners = {account.provider_ref: account.owner for account in v.accounts}
    taken: set[str] = set()
    for chunk in _chunks(list(account_owners), _IN_CHUNK):
        rows = await conn.execute(
            select(_accounts.c.provider_ref, _citizens.c.cpr)
            .join(_citizens, _citizens.c.id == _accounts.c.citizen_id)
            .where(_accounts.c.provider_ref.in_(chunk))
        )
        taken.update(ref for ref, cpr in rows if account_owners[ref] and account_owners[ref] != cpr)
    for account in v.accounts:
        if account.provider_ref in taken:
            problems.append(
                ImportProblem(
                    location((*account.path, "providerRef")),
                    f"provider reference {shown(account.provider_ref)} already belongs to another citizen",
                )
            )
    return problems


# ------------------------------------------------------------------------------------------------ writes


async def write_document(conn: AsyncConnection, doc: ImportDocument, *, analyze: bool) -> ImportCounts:
    """Upsert a valid document (already checked against the database) in the caller's transaction."""
    counts = ImportCounts()
    now = utcnow()
    department_ids = await _upsert_departments(conn, doc, counts.departments)
    changed_citizens: set[int] = set()
    changed_claims: set[int] = set()
    citizen_ids = await _upsert_citizens(conn, doc, counts.citizens, now, changed_citizens)
    claim_ids, existing_claims = await _upsert_claims(
        conn, doc, citizen_ids, department_ids, counts.claims, now, changed_claims
    )
    await _sync_entries(conn, doc, claim_ids, existing_claims, counts.entries, now, changed_claims)
    await _upsert_accounts(conn, doc, citizen_ids, counts.mobilepay_accounts, changed_citizens)
    # Invalidate the citizens' cached responses (adapters.ledger.versions), in this transaction.
    if counts.departments.updated:
        await versions.bump_all(conn)  # contact details every citizen can see
    else:
        for citizen_chunk in _chunks(sorted(changed_citizens), _IN_CHUNK):
            await versions.bump(conn, citizens=citizen_chunk)
        for claim_chunk in _chunks(sorted(changed_claims), _IN_CHUNK):
            await versions.bump(conn, claims=claim_chunk)
    created = counts.citizens.created + counts.claims.created + counts.entries.created
    if analyze and created >= _ANALYZE_AFTER_ROWS:
        # After a bulk load PostgreSQL's planner statistics are stale until autovacuum analyzes the
        # tables; meanwhile it seq-scans claims for `reference IN (...)` (minutes for the next import). The
        # claims' balances grew with the entries (their triggers): the caseworkers' portfolio reads them.
        await conn.execute(sql_text("ANALYZE citizens, claims, ledger_entries, claim_balances"))
    return counts


async def _upsert_departments(conn: AsyncConnection, doc: ImportDocument, counts: RowCounts) -> dict[str, int]:
    columns = ("name", "phone", "email", "address", "web", "phone_hours")
    existing = {
        row.code: row
        for row in await conn.execute(
            select(_departments.c.id, _departments.c.code, *(_departments.c[c] for c in columns))
        )
    }
    ids = {code: row.id for code, row in existing.items()}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for d in doc.departments:
        values = {
            "name": d.name,
            "phone": d.phone,
            "email": d.email,
            "address": d.address,
            "web": d.web,
            "phone_hours": [dataclasses.asdict(h) for h in d.phone_hours or ()],
        }
        row: Any = existing.get(d.code)
        if row is None:
            inserts.append({"code": d.code, **values})
        elif any(getattr(row, c) != values[c] for c in columns):
            updates.append({"b_id": row.id, **values})
        else:
            counts.unchanged += 1
    if inserts:
        result = await conn.execute(insert(_departments).returning(_departments.c.id, _departments.c.code), inserts)
        ids.update({code: id_ for id_, code in result})
    if updates:
        await conn.execute(update(_departments).where(_departments.c.id == bindparam("b_id")), updates)
    counts.created += len(inserts)
    counts.updated += len(updates)
    return ids


async def _upsert_citizens(
    conn: AsyncConnection, doc: ImportDocument, counts: RowCounts, now: datetime, changed: set[int]
) -> dict[str, int]:
    ids: dict[str, int] = {}
    names: dict[str, str] = {}
    cprs = [c.cpr for c in doc.citizens]
    for chunk in _chunks(cprs, _IN_CHUNK):
        for id_, cpr, name in await conn.execute(
            select(_citizens.c.id, _citizens.c.cpr, _citizens.c.name).where(_citizens.c.cpr.in_(chunk))
        ):
            ids[cpr] = id_
            names[cpr] = name
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for c in doc.citizens:
        if c.cpr not in ids:
            inserts.append({"cpr": c.cpr, "name": c.name, "created_at": now, "updated_at": now})
        elif names[c.cpr] != c.name:
            updates.append({"b_id": ids[c.cpr], "name": c.name, "updated_at": now})
            changed.add(ids[c.cpr])
        else:
            counts.unchanged += 1
    for batch in _chunks(inserts, _ROW_BATCH):
        result = await conn.execute(insert(_citizens).returning(_citizens.c.id, _citizens.c.cpr), list(batch))
        ids.update({cpr: id_ for id_, cpr in result})
    for batch in _chunks(updates, _ROW_BATCH):
        await conn.execute(update(_citizens).where(_citizens.c.id == bindparam("b_id")), list(batch))
    counts.created += len(inserts)
    counts.updated += len(updates)
    return ids


async def _upsert_claims(
    conn: AsyncConnection,
    doc: ImportDocument,
    citizen_ids: dict[str, int],
    department_ids: dict[str, int],
    counts: RowCounts,
    now: datetime,
    changed: set[int],
) -> tuple[dict[str, int], set[int]]:
    """Returns claim ids by reference and the ids of claims that existed before (they may have entries)."""
    columns = ("department_id", "title", "kind", "issued_on", "due_on", "original_amount_oere")
    existing: dict[str, Any] = {}
    references = [claim.reference for _, claim in _all_claims(doc)]
    for chunk in _chunks(references, _IN_CHUNK):
        for found in await conn.execute(
            select(_claims.c.id, _claims.c.reference, *(_claims.c[c] for c in columns)).where(
                _claims.c.reference.in_(chunk)
            )
        ):
            existing[found.reference] = found
    ids = {reference: row.id for reference, row in existing.items()}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for citizen, claim in _all_claims(doc):
        values = {
            "department_id": department_ids[claim.department],
            "title": claim.title,
            "kind": claim.kind,
            "issued_on": claim.issued_on,
            "due_on": claim.due_on,
            "original_amount_oere": claim.original_amount,
        }
        row: Any = existing.get(claim.reference)
        if row is None:
            inserts.append(
                {
                    "reference": claim.reference,
                    "citizen_id": citizen_ids[citizen.cpr],
                    "created_at": now,
                    "updated_at": now,
                    **values,
                }
            )
        elif any(getattr(row, c) != values[c] for c in columns):
            updates.append({"b_id": row.id, "updated_at": now, **values})
            changed.add(row.id)
        else:
            counts.unchanged += 1
    for batch in _chunks(inserts, _ROW_BATCH):
        result = await conn.execute(insert(_claims).returning(_claims.c.id, _claims.c.reference), list(batch))
        created = {reference: id_ for id_, reference in result}
        ids.update(created)
        changed.update(created.values())
    for batch in _chunks(updates, _ROW_BATCH):
        await conn.execute(update(_claims).where(_claims.c.id == bindparam("b_id")), list(batch))
    counts.created += len(inserts)
    counts.updated += len(updates)
    return ids, {row.id for row in existing.values()}


async def _sync_entries(
    conn: AsyncConnection,
    doc: ImportDocument,
    claim_ids: dict[str, int],
    existing_claims: set[int],
    counts: RowCounts,
    now: datetime,
    changed: set[int],
) -> None:
    """Make each imported claim's source entries mirror the file. Entries the gateway created itself
    (``payment_id`` set or ``external_ref`` NULL) are never touched."""
    columns = ("posted_on", "kind", "component", "text", "amount_oere")
    claims = [claim for _, claim in _all_claims(doc)]
    for chunk in _chunks(claims, _CLAIM_CHUNK):
        old_ids = [claim_ids[c.reference] for c in chunk if claim_ids[c.reference] in existing_claims]
        stored: dict[tuple[int, str], Any] = {}
        if old_ids:
            for found in await conn.execute(
                select(_entries.c.id, _entries.c.claim_id, _entries.c.external_ref, *(_entries.c[c] for c in columns))
                .where(_entries.c.claim_id.in_(old_ids))
                .where(_entries.c.external_ref.is_not(None), _entries.c.payment_id.is_(None))
            ):
                stored[(found.claim_id, found.external_ref)] = found
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        seen: set[tuple[int, str]] = set()
        for claim in chunk:
            claim_id = claim_ids[claim.reference]
            for entry in claim.entries:
                key = (claim_id, entry.id)
                seen.add(key)
                values = {
                    "posted_on": entry.posted_on,
                    "kind": entry.kind,
                    "component": entry.component,
                    "text": entry.text,
                    "amount_oere": entry.amount,
                }
                row: Any = stored.get(key)
                if row is None:
                    changed.add(claim_id)
                    inserts.append(
                        {
                            "claim_id": claim_id,
                            "external_ref": entry.id,
                            "payment_id": None,
                            "created_at": now,
                            **values,
                        }
                    )
                elif any(getattr(row, c) != values[c] for c in columns):
                    updates.append({"b_id": row.id, **values})
                    changed.add(claim_id)
                else:
                    counts.unchanged += 1
        stale = [row.id for key, row in stored.items() if key not in seen]
        changed.update(claim_id for claim_id, external_ref in stored if (claim_id, external_ref) not in seen)
        for id_chunk in _chunks(stale, _IN_CHUNK):
            await conn.execute(delete(_entries).where(_entries.c.id.in_(id_chunk)))
        for batch in _chunks(updates, _ROW_BATCH):
            await conn.execute(update(_entries).where(_entries.c.id == bindparam("b_id")), list(batch))
        for batch in _chunks(inserts, _ROW_BATCH):
            await conn.execute(insert(_entries), list(batch))
        counts.created += len(inserts)
        counts.updated += len(updates)
        counts.deleted += len(stale)


async def _upsert_accounts(
    conn: AsyncConnection, doc: ImportDocument, citizen_ids: dict[str, int], counts: RowCounts, changed: set[int]
) -> None:
    """The MobilePay accounts a file lists, keyed by provider reference. Accounts it does not list are kept
    (a payment agreement may refer to one)."""
    wanted = [(citizen_ids[c.cpr], a) for c in doc.citizens for a in c.mobile_pay_accounts or ()]
    if not wanted:
        return
    columns = ("name", "masked_number", "is_default")
    existing: dict[str, Any] = {}
    for chunk in _chunks([a.provider_ref for _, a in wanted], _IN_CHUNK):
        for found in await conn.execute(
            select(_accounts.c.id, _accounts.c.provider_ref, *(_accounts.c[c] for c in columns)).where(
                _accounts.c.provider_ref.in_(chunk)
            )
        ):
            existing[found.provider_ref] = found
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for citizen_id, account in wanted:
        values = {"name": account.name, "masked_number": account.masked_number, "is_default": account.is_default}
        row: Any = existing.get(account.provider_ref)
        if row is None:
            inserts.append({"citizen_id": citizen_id, "provider_ref": account.provider_ref, **values})
            changed.add(citizen_id)
        elif any(getattr(row, c) != values[c] for c in columns):
            updates.append({"b_id": row.id, **values})
            changed.add(citizen_id)
        else:
            counts.unchanged += 1
    for batch in _chunks(inserts, _ROW_BATCH):
        await conn.execute(insert(_accounts), list(batch))
    for batch in _chunks(updates, _ROW_BATCH):
        await conn.execute(update(_accounts).where(_accounts.c.id == bindparam("b_id")), list(batch))
    counts.created += len(inserts)
    counts.updated += len(updates)
