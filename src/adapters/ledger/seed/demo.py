"""``gateway seed``: (re)create the demo citizens through the importer's write path.

The demo data (demo_data.py) becomes an import document (docs/import-format.md), validated and written by
the same code as ``gateway import``. The demo citizens' old rows, including what the gateway wrote for them
(payments, plans, enrolments, the access log), are deleted first, in the same transaction.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.importer import FORMAT_NAME, FORMAT_VERSION, ImportReport, apply, validate
from adapters.ledger.seed.demo_data import DEMO_MOBILEPAY_ACCOUNTS, DEPARTMENTS, _demo_citizens
from gateway.domain.clock import today as danish_today
from gateway.domain.clock import utcnow
from gateway.domain.money import to_decimal_string


def department_records() -> list[dict[str, Any]]:
    """Departments as the import format has them."""
    return [
        {
            "code": d["code"],
            "name": d["name"],
            "phone": d.get("phone"),
            "email": d.get("email"),
            "address": d.get("address"),
            "web": d.get("web"),
            "phoneHours": d.get("phone_hours"),
        }
        for d in DEPARTMENTS
    ]


def document(departments: list[dict[str, Any]], citizens: list[dict[str, Any]]) -> dict[str, Any]:
    """An import document (docs/import-format.md) with these records."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exportedAt": utcnow().isoformat(timespec="seconds"),
        "departments": departments,
        "citizens": citizens,
    }


def demo_document(today: date) -> dict[str, Any]:
    """The demo citizens as an import document, dated relative to ``today``."""
    citizens = []
    for cpr, name, claims in _demo_citizens():
        records = []
        for c in claims:
            issued = today - timedelta(days=c.issued_days_ago)
            records.append(
                {
                    "reference": c.reference,
                    "department": c.department,
                    "title": c.title,
                    "kind": c.kind,
                    "issuedOn": issued.isoformat(),
                    "dueOn": (issued + timedelta(days=c.due_in_days)).isoformat(),
                    "originalAmount": to_decimal_string(sum(a for _, k, _, a in c.entries if k == "CHARGE")),
                    "entries": [
                        {
                            "id": f"demo-{i}",
                            "postedOn": (today - timedelta(days=days)).isoformat(),
                            "kind": kind,
                            "text": text,
                            "amount": to_decimal_string(amount),
                        }
                        for i, (days, kind, text, amount) in enumerate(c.entries)
                    ],
                }
            )
        accounts = [
            {"providerRef": ref, "name": account, "maskedNumber": masked, "isDefault": default}
            for account, masked, default, ref in DEMO_MOBILEPAY_ACCOUNTS.get(cpr, [])
        ]
        citizens.append({"cpr": cpr, "name": name, "claims": records, "mobilePayAccounts": accounts})
    return document(department_records(), citizens)


async def seed_demo(db: Database, *, today: date | None = None) -> None:
    """(Re)create the demo citizens. Idempotent: their old data is replaced."""
    validation = validate(demo_document(today or danish_today()))
    async with db.transaction() as conn:
        await delete_citizens(conn, [cpr for cpr, _, _ in _demo_citizens()])
        check(await apply(conn, validation, analyze=False))


def check(report: ImportReport) -> None:
    """Seed data the importer refuses is a bug in the seed: roll back and say what (never a CPR number)."""
    if report.problems:
        shown = "; ".join(str(p) for p in report.problems[:5])
        raise RuntimeError(f"the seed data was refused ({len(report.problems)} problem(s)): {shown}")


async def delete_citizens(conn: AsyncConnection, cprs: list[str]) -> None:
    """Delete citizens with everything that refers to them."""
    citizen_ids = list((await conn.execute(select(m.Citizen.id).where(m.Citizen.cpr.in_(cprs)))).scalars())
    if not citizen_ids:
        return
    claim_ids = select(m.Claim.id).where(m.Claim.citizen_id.in_(citizen_ids)).scalar_subquery()
    plan_ids = select(m.InstallmentPlan.id).where(m.InstallmentPlan.citizen_id.in_(citizen_ids)).scalar_subquery()
    enrolment_ids = select(m.Enrolment.id).where(m.Enrolment.citizen_id.in_(citizen_ids)).scalar_subquery()
    payment_ids = select(m.Payment.id).where(m.Payment.citizen_id.in_(citizen_ids)).scalar_subquery()
    request_ids = select(m.PaymentRequest.id).where(m.PaymentRequest.citizen_id.in_(citizen_ids)).scalar_subquery()
    for stmt in (
        # What the worker made over time: items, notices, draws (and the entries' links to them).
        delete(m.CaseworkerItem).where(m.CaseworkerItem.citizen_id.in_(citizen_ids)),
        delete(m.WorkQueueResolution).where(m.WorkQueueResolution.citizen_id.in_(citizen_ids)),
        delete(m.CitizenNotice).where(m.CitizenNotice.citizen_id.in_(citizen_ids)),
        # Caseworkers' requests that the citizen pay ticked claims (their notices are gone above).
        delete(m.PaymentRequestClaim).where(m.PaymentRequestClaim.request_id.in_(request_ids)),
        delete(m.PaymentRequest).where(m.PaymentRequest.citizen_id.in_(citizen_ids)),
        update(m.LedgerEntry).where(m.LedgerEntry.claim_id.in_(claim_ids)).values(draw_id=None),
        delete(m.Draw).where(m.Draw.citizen_id.in_(citizen_ids)),
        delete(m.EnrolmentClaim).where(m.EnrolmentClaim.enrolment_id.in_(enrolment_ids)),
        delete(m.Enrolment).where(m.Enrolment.citizen_id.in_(citizen_ids)),
        delete(m.Installment).where(m.Installment.plan_id.in_(plan_ids)),
        delete(m.PlanClaim).where(m.PlanClaim.plan_id.in_(plan_ids)),
        delete(m.InstallmentPlan).where(m.InstallmentPlan.citizen_id.in_(citizen_ids)),
        delete(m.LedgerEntry).where(m.LedgerEntry.claim_id.in_(claim_ids)),
        delete(m.ClaimCollectionStatus).where(m.ClaimCollectionStatus.claim_id.in_(claim_ids)),
        delete(m.PaymentClaim).where(m.PaymentClaim.payment_id.in_(payment_ids)),
        delete(m.Payment).where(m.Payment.citizen_id.in_(citizen_ids)),
        delete(m.Claim).where(m.Claim.citizen_id.in_(citizen_ids)),
        delete(m.MobilePayAccount).where(m.MobilePayAccount.citizen_id.in_(citizen_ids)),
        delete(m.AccessLogEntry).where(m.AccessLogEntry.citizen_id.in_(citizen_ids)),
        delete(m.Citizen).where(m.Citizen.id.in_(citizen_ids)),
    ):
        await conn.execute(stmt)
