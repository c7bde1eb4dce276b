"""The caseworker's workplace (issue 12, items 1–3): the portfolio, the work queues and citizen search, through
whole requests on SQLite and PostgreSQL.

The portfolio's figures are checked against sums made another way: the claims' against the seed's own import
document and against the ledger's rows summed here in Python; the installments' against the per-plan view the
citizen sees (``installments { status paid }``, computed by the domain's Python), and against hand-worked
numbers for the world built below. The statement count of the whole portfolio is exact and stays the same when
the ledger grows.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from adapters.gaeldst.simulator import DEMO_COLLECTION_STATES
from adapters.ledger import models as m
from adapters.ledger.seed.demo import demo_document
from adapters.simserver import ThreadedServer
from gateway.domain.clock import today, utcnow
from gateway.trusted_documents import trusted_documents
from gateway.usecases.draws import SweepReport
from resolvers.common import ids
from tests.api.test_overview import codes
from tests.conftest import ANNA, DAVID, Api, build_api

CASEWORKER = "cw-1001"
PENDING_CLAIM = "RK-EJD-2025-1187"  # Anna's, in the plan waiting for approval
LEFT_CLAIM = "RK-REN-2023-0931"  # Anna's, taken by Gældsstyrelsen out of the active plan

PORTFOLIO = """query($from: Date!, $to: Date!) { portfolio {
  claims { asOf count outstanding { amountOere amount }
    byDepartment { count outstanding { amountOere } department { code } }
    byKind { kind count outstanding { amountOere } } }
  plans { asOf byStatus { status count principal { amountOere } } }
  installments(from: $from, to: $to) { asOf from to
    due { count total { amountOere } } drawn { count total { amountOere } }
    invoiced { count total { amountOere } } missed { count total { amountOere } }
    overdue { count total { amountOere } } }
  enrolments { asOf byKindAndStatus { kind status count } }
  payments { asOf byStatus { status count amount { amountOere } } }
} }"""

QUEUE = """query($queue: WorkQueue!, $filter: WorkQueueFilter, $first: Int, $after: String) {
  workQueue(queue: $queue, filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { queue since dueOn amount { amountOere }
      citizen { id name maskedCpr } installmentPlan { id status } installment { number status }
      draw { id status } payment { id status } paymentMethod { id status } claim { reference } } }
  } }"""

SEARCH = """query($by: CitizenSearchBy!, $text: String!, $first: Int, $after: String) {
  searchCitizens(by: $by, text: $text, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id name maskedCpr } } }"""


def oere(text: str) -> int:
    return int(Decimal(text) * 100)


async def rows(api: Api, stmt: Any) -> list[Any]:
    async with api.services.db.read() as conn:
        return list(await conn.execute(stmt))


async def caseworker(api: Api, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    body = await api.gql(query, variables, caseworker=CASEWORKER, **kw)
    assert "errors" not in body, body
    return body["data"]


def period() -> dict[str, str]:
    return {"from": (today() - timedelta(days=90)).isoformat(), "to": (today() + timedelta(days=30)).isoformat()}


# --- the world: plans, installments, draws, enrolments and payments in every state a queue looks for ----------


@dataclass
class World:
    anna: int
    david: int
    active_plan: int
    pending_plan: int
    defaulted_plan: int
    failed_draw: int
    failed_payment: int
    late_enrolment: int


async def build_world(api: Api) -> World:
    """Anna: an active plan of four 350 DKK installments (the first two months past, 500 DKK paid since: the first
    paid, the second 150 DKK paid and its MobilePay charge failed, the third invoiced and five days overdue, the
    fourth ahead with a Betalingsservice draw scheduled), from which her waste claim left for collection two days
    ago, a plan waiting for approval, a Betalingsservice enrolment pending 20 days and a payment that failed.
    David: a lapsed plan with one unpaid installment, a Betalingsservice enrolment pending one day, a captured
    payment."""

    async def pk(stmt: Any) -> int:
        return int((await rows(api, stmt))[0][0])

    anna = await pk(select(m.Citizen.id).where(m.Citizen.cpr == ANNA))
    david = await pk(select(m.Citizen.id).where(m.Citizen.cpr == DAVID))
    claim = {ref: await pk(select(m.Claim.id).where(m.Claim.reference == ref)) for ref in (PENDING_CLAIM, LEFT_CLAIM)}
    department = await pk(select(func.min(m.Department.id)))
    davids_claim = await pk(select(func.min(m.Claim.id)).where(m.Claim.citizen_id == david))
    now, day0 = utcnow(), today()
    async with api.services.db.transaction() as conn:

        async def add(model: Any, **values: Any) -> int:
            return int((await conn.execute(insert(model).values(**values).returning(model.id))).scalar_one())

        async def plan(citizen: int, status: str, claim_id: int, created: timedelta, **extra: Any) -> int:
            plan_id = await add(
                m.InstallmentPlan,
                citizen_id=citizen,
                status=status,
                principal_oere=140_000,
                monthly_amount_oere=35_000,
                months=4,
                day_of_month=1,
                excludes_future_interest=False,
                assessment_requested=status == "PENDING_APPROVAL",
                terms_accepted_at=now - created,
                created_by="citizen:workplace",
                created_at=now - created,
                **extra,
            )
            live = claim_id if status in ("ACTIVE", "PENDING_APPROVAL") else None
            await conn.execute(
                insert(m.PlanClaim).values(
                    plan_id=plan_id, claim_id=claim_id, outstanding_oere=140_000, live_claim_id=live
                )
            )
            return plan_id

        async def installment(plan_id: int, number: int, due_in_days: int) -> int:
            return await add(
                m.Installment,
                plan_id=plan_id,
                number=number,
                due_on=day0 + timedelta(days=due_in_days),
                amount_oere=35_000,
            )

        async def draw(citizen: int, plan_id: int, inst: int, channel: str, status: str, due_in_days: int) -> int:
            return await add(
                m.Draw,
                draw_key=f"installment:{inst}",
                citizen_id=citizen,
                plan_id=plan_id,
                installment_id=inst,
                channel=channel,
                status=status,
                amount_oere=35_000,
                due_on=day0 + timedelta(days=due_in_days),
                created_at=now,
                updated_at=now,
            )

        # A claim of its own, so that only the payment below is paid into the plan (not the seed's payments).
        plan_claim = await add(
            m.Claim,
            reference=f"RK-WP-{uuid.uuid4().hex[:8]}",
            citizen_id=anna,
            department_id=department,
            title="Workplace",
            kind="OTHER",
            issued_on=day0 - timedelta(days=120),
            due_on=day0 - timedelta(days=100),
            original_amount_oere=140_000,
            created_at=now,
            updated_at=now,
        )
        for kind, amount in (("CHARGE", 140_000), ("PAYMENT", -50_000)):
            await conn.execute(
                insert(m.LedgerEntry).values(
                    claim_id=plan_claim, posted_on=day0, kind=kind, text=kind, amount_oere=amount, created_at=now
                )
            )
        active = await plan(anna, "ACTIVE", plan_claim, timedelta(days=100))
        due = [-60, -30, -5, 25]
        insts = [await installment(active, n + 1, d) for n, d in enumerate(due)]
        await draw(anna, active, insts[0], "INVOICE", "INVOICED", due[0])
        failed_draw = await draw(anna, active, insts[1], "MOBILEPAY_SUBSCRIPTION", "FAILED", due[1])
        await draw(anna, active, insts[2], "INVOICE", "INVOICED", due[2])
        await draw(anna, active, insts[3], "BETALINGSSERVICE", "SCHEDULED", due[3])
        await conn.execute(
            insert(m.PlanClaim).values(
                plan_id=active,
                claim_id=claim[LEFT_CLAIM],
                outstanding_oere=45_000,
                left_at=now - timedelta(days=2),
                left_reason="AT_COLLECTION",
            )
        )
        pending = await plan(anna, "PENDING_APPROVAL", claim[PENDING_CLAIM], timedelta(days=10))
        await installment(pending, 1, 20)
        defaulted = await plan(
            david, "DEFAULTED", davids_claim, timedelta(days=70), ended_at=now - timedelta(days=3), end_reason="LAPSED"
        )
        await installment(defaulted, 1, -40)

        async def enrolment(citizen: int, days_ago: int, plan_id: int | None) -> int:
            return await add(
                m.Enrolment,
                citizen_id=citizen,
                kind="BETALINGSSERVICE",
                status="PENDING",
                plan_id=plan_id,
                live_plan_id=plan_id,
                requested_at=now - timedelta(days=days_ago),
            )

        late = await enrolment(anna, 20, active)
        await enrolment(david, 1, None)

        async def payment(citizen: int, status: str, amount: int) -> int:
            return await add(
                m.Payment,
                citizen_id=citizen,
                method="CARD",
                status=status,
                amount_oere=amount,
                provider_ref=f"pay-{uuid.uuid4().hex[:16]}",
                return_url="https://app.example/return",
                created_at=now,
                updated_at=now,
            )

        failed_payment = await payment(anna, "FAILED", 12_345)
        await payment(david, "CAPTURED", 10_000)
    return World(anna, david, active, pending, defaulted, failed_draw, failed_payment, late)


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api)


# --- the portfolio ------------------------------------------------------------------------------------------


async def test_portfolio_claims_equal_the_ledger_summed_independently(api: Api) -> None:
    data = (await caseworker(api, PORTFOLIO, period()))["portfolio"]["claims"]

    # The ledger's rows, summed here in Python.
    kinds = {
        c.id: (c.code, c.kind)
        for c in await rows(
            api,
            select(m.Claim.id, m.Department.code, m.Claim.kind).join(
                m.Department, m.Department.id == m.Claim.department_id
            ),
        )
    }
    balance: dict[int, int] = defaultdict(int)
    for e in await rows(api, select(m.LedgerEntry.claim_id, m.LedgerEntry.amount_oere)):
        balance[e.claim_id] += e.amount_oere
    open_claims = {c: b for c, b in balance.items() if b > 0}
    by_department: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for claim_id, owed in open_claims.items():
        code, kind = kinds[claim_id]
        for bucket in (by_department[code], by_kind[kind]):
            bucket[0] += 1
            bucket[1] += owed
    assert data["count"] == len(open_claims)
    assert data["outstanding"]["amountOere"] == str(sum(open_claims.values()))  # a BigInt: a string of digits
    got_departments = {
        d["department"]["code"]: [d["count"], int(d["outstanding"]["amountOere"])] for d in data["byDepartment"]
    }
    assert got_departments == dict(by_department)
    assert {k["kind"]: [k["count"], int(k["outstanding"]["amountOere"])] for k in data["byKind"]} == dict(by_kind)

    # The demo citizens' part, from the seed's own import document (its decimal strings, not the ledger).
    document = demo_document(today())
    demo_refs = {c["reference"]: c for citizen in document["citizens"] for c in citizen["claims"]}
    demo_open = {
        ref: total for ref, c in demo_refs.items() if (total := sum(oere(e["amount"]) for e in c["entries"])) > 0
    }
    refs = {r.reference: r.id for r in await rows(api, select(m.Claim.reference, m.Claim.id))}
    assert {ref: open_claims.get(refs[ref]) for ref in demo_open} == demo_open
    assert set(demo_open) == {ref for ref in demo_refs if refs[ref] in open_claims}
    # Anna's 4 claims, David's 3 open ones, Camilla's 2 at collection: all open (Bo's is paid).
    assert len(demo_open) == 9


async def test_portfolio_plans_installments_enrolments_payments(api: Api, world: World) -> None:
    data = (await caseworker(api, PORTFOLIO, period()))["portfolio"]

    # Plans, enrolments and payments: the ledger's rows counted here.
    plans: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in await rows(api, select(m.InstallmentPlan.status, m.InstallmentPlan.principal_oere)):
        plans[p.status][0] += 1
        plans[p.status][1] += p.principal_oere
    got = {p["status"]: [p["count"], int(p["principal"]["amountOere"])] for p in data["plans"]["byStatus"]}
    assert got == dict(plans) and got["ACTIVE"] == [1, 140_000]
    enrolments: dict[tuple[str, str], int] = defaultdict(int)
    for e in await rows(api, select(m.Enrolment.kind, m.Enrolment.status)):
        enrolments[(e.kind, e.status)] += 1
    got_enrolments = {(e["kind"], e["status"]): e["count"] for e in data["enrolments"]["byKindAndStatus"]}
    assert got_enrolments == dict(enrolments) and got_enrolments[("BETALINGSSERVICE", "PENDING")] == 2
    payments: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in await rows(api, select(m.Payment.status, m.Payment.amount_oere)):
        payments[p.status][0] += 1
        payments[p.status][1] += p.amount_oere
    got_payments = {p["status"]: [p["count"], int(p["amount"]["amountOere"])] for p in data["payments"]["byStatus"]}
    assert got_payments == dict(payments) and got_payments["FAILED"] == [1, 12_345]

    # Installments: the per-plan view (the domain's Python computes each installment's paid part and status).
    expected = {k: [0, 0] for k in ("due", "drawn", "invoiced", "missed", "overdue")}
    start, end = today() - timedelta(days=90), today() + timedelta(days=30)
    for plan_pk in (world.active_plan, world.pending_plan, world.defaulted_plan):
        view = await caseworker(
            api,
            "query($id: ID!) { node(id: $id) { ... on InstallmentPlan { status installments { dueOn status "
            "amount { amountOere } paid { amountOere } draw { status channel amount { amountOere } } } } } }",
            {"id": ids.encode("InstallmentPlan", plan_pk)},
        )
        plan = view["node"]
        for i in plan["installments"]:
            if not start.isoformat() <= i["dueOn"] <= end.isoformat() or plan["status"] == "PENDING_APPROVAL":
                continue
            amount, unpaid, draw = (
                i["amount"]["amountOere"],
                i["amount"]["amountOere"] - i["paid"]["amountOere"],
                i["draw"],
            )
            measures = [("due", amount)]
            if draw and draw["status"] == "CHARGED" and draw["channel"] != "INVOICE":
                measures.append(("drawn", draw["amount"]["amountOere"]))
            if draw and draw["channel"] == "INVOICE":
                measures.append(("invoiced", draw["amount"]["amountOere"]))
            if i["status"] == "MISSED":
                measures.append(("missed" if draw and draw["status"] == "FAILED" else "overdue", unpaid))
            for name, value in measures:
                expected[name][0] += 1
                expected[name][1] += value
    got_installments = {
        k: [v["count"], int(v["total"]["amountOere"])] for k, v in data["installments"].items() if isinstance(v, dict)
    }
    assert got_installments == expected
    # By hand: five installments due (Anna's four, David's one); 350 DKK invoiced twice; the failed charge
    # missed with 200 DKK unpaid; the third invoice 350 DKK overdue (David's lapsed plan's is not: it ended).
    assert expected == {
        "due": [5, 175_000],
        "drawn": [0, 0],
        "invoiced": [2, 70_000],
        "missed": [1, 20_000],
        "overdue": [1, 35_000],
    }
    assert data["installments"]["from"] == period()["from"]
    for part in ("claims", "plans", "installments", "enrolments", "payments"):
        assert data[part]["asOf"].endswith("+00:00"), data[part]


async def test_portfolio_costs_the_same_statements_however_large_the_ledger(api: Api) -> None:
    api.sql.reset()
    await caseworker(api, PORTFOLIO, period())
    before = api.sql.count
    # One aggregate statement per part, and one for the departments' names.
    assert before == 6, api.sql.statements
    await build_world(api)
    api.sql.reset()
    await caseworker(api, PORTFOLIO, period())
    assert api.sql.count == before


async def test_money_totals_pass_32_bit_int(api: Api, world: World) -> None:
    """A sum above 2^31 øre (21,474,836.47 DKK) comes back whole, as a string of digits."""
    async with api.services.db.transaction() as conn:
        for _ in range(3):
            await conn.execute(
                insert(m.Payment).values(
                    citizen_id=world.david,
                    method="CARD",
                    status="EXPIRED",
                    amount_oere=1_000_000_000,
                    provider_ref=f"pay-{uuid.uuid4().hex[:16]}",
                    return_url="https://app.example/return",
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
    data = await caseworker(
        api, "{ portfolio { payments { byStatus { status amount { amountOere amount formatted } } } } }"
    )
    expired = next(p for p in data["portfolio"]["payments"]["byStatus"] if p["status"] == "EXPIRED")
    assert expired["amount"]["amountOere"] == "3000000000"
    assert expired["amount"]["amount"] == "30000000.00"
    assert expired["amount"]["formatted"] == "30.000.000,00 kr."


@pytest.mark.parametrize(
    ("start", "end"),
    [(10, 9), (0, 366 * 5)],  # from after to; longer than five years
)
async def test_portfolio_refuses_a_bad_period(api: Api, start: int, end: int) -> None:
    day = today()
    body = await api.gql(
        "query($from: Date!, $to: Date!) { portfolio { installments(from: $from, to: $to) { due { count } } } }",
        {"from": (day + timedelta(days=start)).isoformat(), "to": (day + timedelta(days=end)).isoformat()},
        caseworker=CASEWORKER,
    )
    assert codes(body) == ["BAD_USER_INPUT"], body


# --- work queues --------------------------------------------------------------------------------------------


async def queue(api: Api, name: str, **variables: Any) -> dict[str, Any]:
    return (await caseworker(api, QUEUE, {"queue": name, **variables}))["workQueue"]


async def test_each_queue_holds_what_it_says(api: Api, world: World) -> None:
    anna = {"citizenId": ids.encode("Citizen", world.anna)}
    david = {"citizenId": ids.encode("Citizen", world.david)}

    awaiting = await queue(api, "AWAITING_ASSESSMENT", filter=anna)
    assert [e["node"]["installmentPlan"]["id"] for e in awaiting["edges"]] == [
        ids.encode("InstallmentPlan", world.pending_plan)
    ]
    item = awaiting["edges"][0]["node"]
    assert item["citizen"] == {
        "id": ids.encode("Citizen", world.anna),
        "name": "Anna Jensen",
        "maskedCpr": "150780-xxxx",
    }
    assert item["amount"] == {"amountOere": 140_000} and item["since"] is not None and item["dueOn"] is None

    missed = await queue(api, "MISSED_INSTALLMENTS", filter=anna)
    assert [(e["node"]["installment"]["number"], e["node"]["amount"]["amountOere"]) for e in missed["edges"]] == [
        (2, 20_000),  # the failed charge: 150 DKK of 350 paid
        (3, 35_000),  # the invoice five days overdue
    ]
    assert all(e["node"]["installment"]["status"] == "MISSED" for e in missed["edges"])
    assert missed["edges"][0]["node"]["dueOn"] < missed["edges"][1]["node"]["dueOn"]  # oldest first

    pending = await queue(api, "PENDING_ENROLMENTS")
    mine = [e["node"]["paymentMethod"]["id"] for e in pending["edges"]]
    assert ids.encode("PaymentMethod", world.late_enrolment) in mine
    assert not (await queue(api, "PENDING_ENROLMENTS", filter=david))["edges"]  # his is a day old

    left = await queue(api, "CLAIMS_AT_COLLECTION", filter=anna)
    assert [(e["node"]["installmentPlan"]["id"], e["node"]["claim"]["reference"]) for e in left["edges"]] == [
        (ids.encode("InstallmentPlan", world.active_plan), LEFT_CLAIM)
    ]

    defaulted = await queue(api, "DEFAULTED_PLANS", filter=david)
    assert [e["node"]["installmentPlan"]["status"] for e in defaulted["edges"]] == ["DEFAULTED"]

    payments = await queue(api, "FAILED_PAYMENTS", filter=anna)
    assert [(e["node"]["payment"]["id"], e["node"]["payment"]["status"]) for e in payments["edges"]] == [
        (ids.encode("Payment", world.failed_payment), "FAILED")
    ]

    draws = await queue(api, "FAILED_DRAWS", filter=anna)
    assert [e["node"]["draw"]["id"] for e in draws["edges"]] == [ids.encode("Draw", world.failed_draw)]
    assert draws["totalCount"] == 1


async def test_queue_pages_are_stable_and_cursors_belong_to_their_query(api: Api, world: World) -> None:
    anna = {"citizenId": ids.encode("Citizen", world.anna)}
    whole = await queue(api, "MISSED_INSTALLMENTS", filter=anna)
    first = await queue(api, "MISSED_INSTALLMENTS", filter=anna, first=1)
    assert first["totalCount"] == 2 and first["pageInfo"]["hasNextPage"]
    cursor = first["pageInfo"]["endCursor"]
    # An item added before the cursor's position does not shift the next page.
    async with api.services.db.transaction() as conn:
        await conn.execute(
            insert(m.Payment).values(
                citizen_id=world.anna,
                method="CARD",
                status="FAILED",
                amount_oere=100,
                provider_ref=f"pay-{uuid.uuid4().hex[:16]}",
                return_url="https://app.example/return",
                created_at=utcnow() - timedelta(days=400),
                updated_at=utcnow() - timedelta(days=400),
            )
        )
    second = await queue(api, "MISSED_INSTALLMENTS", filter=anna, first=1, after=cursor)
    assert second["edges"][0]["node"] == whole["edges"][1]["node"] and not second["pageInfo"]["hasNextPage"]
    for other in (
        {"queue": "FAILED_DRAWS", "filter": anna},  # another queue
        {"queue": "MISSED_INSTALLMENTS", "filter": {}},  # another filter
    ):
        body = await api.gql(QUEUE, {**other, "first": 1, "after": cursor}, caseworker=CASEWORKER)
        assert codes(body) == ["BAD_USER_INPUT"], body
        assert "another query" in body["errors"][0]["message"] or "anden forespørgsel" in body["errors"][0]["message"]
    search = await caseworker(api, SEARCH, {"by": "NAME", "text": "an", "first": 1})
    body = await api.gql(
        QUEUE,
        {"queue": "MISSED_INSTALLMENTS", "after": search["searchCitizens"]["pageInfo"]["endCursor"]},
        caseworker=CASEWORKER,
        headers={"Accept-Language": "en"},
    )
    assert body["errors"][0]["message"] == "The cursor belongs to another query (another field, queue or filter)."
    offset_cursor = ids.encode_cursor(3)  # another connection's (claims, caseworkerItems)
    body = await api.gql(QUEUE, {"queue": "FAILED_DRAWS", "after": offset_cursor}, caseworker=CASEWORKER)
    assert codes(body) == ["BAD_USER_INPUT"] and "anden forespørgsel" in body["errors"][0]["message"]
    body = await api.gql(QUEUE, {"queue": "FAILED_DRAWS", "after": "not a cursor"}, caseworker=CASEWORKER)
    assert codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["message"] == "Cursoren er ugyldig."


@pytest.mark.parametrize(
    ("variables", "fragment"),
    [
        ({"queue": "EVERYTHING"}, "EVERYTHING"),  # an unknown queue: the enum says which there are
        ({"queue": "FAILED_DRAWS", "filter": {"department": "X"}}, "department"),  # an unknown filter
        ({"queue": "FAILED_DRAWS", "first": -1}, "'first'"),
        ({"queue": "FAILED_DRAWS", "first": 101}, "'first'"),
        ({"queue": "FAILED_DRAWS", "filter": {"citizenId": "bm9wZQ"}}, "ID"),
        ({"queue": "FAILED_DRAWS", "filter": {"from": "2026-02-01", "to": "2026-01-01"}}, "'from'"),
        ({"queue": "FAILED_DRAWS", "after": "not a cursor"}, "cursor"),
    ],
)
async def test_bad_queue_input_is_refused_and_writes_nothing(
    api: Api, variables: dict[str, Any], fragment: str
) -> None:
    logged = select(func.count()).select_from(m.AccessLogEntry)
    before = (await rows(api, logged))[0][0]
    body = await api.gql(QUEUE, variables, caseworker=CASEWORKER, headers={"Accept-Language": "en"})
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert fragment in body["errors"][0]["message"], body
    assert (await rows(api, logged))[0][0] == before


async def test_a_queue_page_logs_the_citizens_it_shows(api: Api, world: World) -> None:
    async def logged(operation: str) -> list[int | None]:
        stmt = select(m.AccessLogEntry.citizen_id).where(m.AccessLogEntry.operation == operation)
        stmt = stmt.order_by(m.AccessLogEntry.id)  # in the order written, not as the database happens to find them
        return [r.citizen_id for r in await rows(api, stmt)]

    before = await logged("workQueue")
    page = await queue(api, "FAILED_PAYMENTS", filter={"citizenId": ids.encode("Citizen", world.anna)})
    assert len(page["edges"]) == 1
    assert (await logged("workQueue"))[len(before) :] == [world.anna]


async def test_a_queue_page_costs_a_constant_number_of_statements(api: Api, world: World) -> None:
    api.sql.reset()
    await queue(api, "MISSED_INSTALLMENTS", first=1)
    one = api.sql.count
    api.sql.reset()
    await queue(api, "MISSED_INSTALLMENTS", first=50)
    assert api.sql.count == one


# --- marking an item resolved -------------------------------------------------------------------------------

RESOLVE = """mutation($input: ResolveWorkQueueItemInput!) { resolveWorkQueueItem(input: $input) {
  item { id queue citizen { id } payment { id } installmentPlan { id } claim { reference }
    resolution { resolvedAt caseworkerId caseworkerName note } }
  userErrors { code field message } } }"""

ITEM_IDS = """query($queue: WorkQueue!, $filter: WorkQueueFilter) {
  workQueue(queue: $queue, filter: $filter) { totalCount nodes { id resolution { note } } } }"""


async def resolve(api: Api, item_id: str, note: str = "Ringede til borgeren.", key: str | None = None) -> Any:
    variables = {"input": {"itemId": item_id, "note": note, "idempotencyKey": key or uuid.uuid4().hex}}
    return (await caseworker(api, RESOLVE, variables, headers={"Accept-Language": "en"}))["resolveWorkQueueItem"]


async def items(api: Api, name: str, citizen: int, *, resolved: bool = False) -> dict[str, Any]:
    f = {"citizenId": ids.encode("Citizen", citizen), "resolved": resolved}
    return dict((await caseworker(api, ITEM_IDS, {"queue": name, "filter": f}))["workQueue"])


async def marks_and_log_rows(api: Api) -> tuple[int, int]:
    marks = (await rows(api, select(func.count()).select_from(m.WorkQueueResolution)))[0][0]
    logged = (await rows(api, select(func.count()).select_from(m.AccessLogEntry)))[0][0]
    return int(marks), int(logged)


async def test_a_resolved_item_leaves_the_open_queue_and_shows_with_its_mark(api: Api, world: World) -> None:
    open_items = await items(api, "FAILED_PAYMENTS", world.anna)
    assert open_items["totalCount"] == 1 and open_items["nodes"][0]["resolution"] is None
    item_id = open_items["nodes"][0]["id"]
    key = uuid.uuid4().hex
    before = await marks_and_log_rows(api)

    done = await resolve(api, item_id, "  Anna betaler selv i næste uge.\n", key=key)
    assert done["userErrors"] == [], done
    item = done["item"]
    assert item["id"] == item_id and item["queue"] == "FAILED_PAYMENTS"
    assert item["payment"]["id"] == ids.encode("Payment", world.failed_payment)
    assert item["citizen"]["id"] == ids.encode("Citizen", world.anna)
    resolution = item["resolution"]
    assert resolution["note"] == "Anna betaler selv i næste uge." and resolution["caseworkerId"] == CASEWORKER
    assert resolution["resolvedAt"] is not None
    assert await marks_and_log_rows(api) == (before[0] + 1, before[1] + 1)  # the mark and one access-log row

    # It has left the open queue, and shows among the resolved ones with its mark.
    assert (await items(api, "FAILED_PAYMENTS", world.anna))["totalCount"] == 0
    resolved = await items(api, "FAILED_PAYMENTS", world.anna, resolved=True)
    assert [(n["id"], n["resolution"]["note"]) for n in resolved["nodes"]] == [(item_id, resolution["note"])]

    # The same key again replays the answer and writes nothing; another key finds it resolved, and writes nothing.
    counted = await marks_and_log_rows(api)
    assert await resolve(api, item_id, "  Anna betaler selv i næste uge.\n", key=key) == done
    again = await resolve(api, item_id, "Igen.")
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [
        ("WORK_QUEUE_ITEM_ALREADY_RESOLVED", ["input", "itemId"])
    ]
    assert again["userErrors"][0]["message"] == "The item has already been marked resolved."
    assert again["item"] is None
    assert await marks_and_log_rows(api) == counted

    # Anna reads who did it in her access log, in words (not the note, which is for colleagues).
    log = (await api.gql("{ me { accessLog { nodes { operation description } } } }", citizen=ANNA))["data"]["me"]
    described = [e["description"] for e in log["accessLog"]["nodes"] if e["operation"] == "resolveWorkQueueItem"]
    assert len(described) == 1 and "som afsluttet" in described[0] and "næste uge" not in described[0]


@pytest.mark.parametrize(
    "name", ["MISSED_INSTALLMENTS", "PENDING_ENROLMENTS", "CLAIMS_AT_COLLECTION", "DEFAULTED_PLANS", "FAILED_DRAWS"]
)
async def test_every_queue_but_the_assessments_can_be_resolved(api: Api, world: World, name: str) -> None:
    citizen = world.david if name == "DEFAULTED_PLANS" else world.anna
    open_items = await items(api, name, citizen)
    assert open_items["totalCount"] >= 1, open_items
    first = open_items["nodes"][0]["id"]
    assert (await resolve(api, first))["userErrors"] == []
    after = await items(api, name, citizen)
    assert after["totalCount"] == open_items["totalCount"] - 1 and first not in [n["id"] for n in after["nodes"]]
    assert [n["id"] for n in (await items(api, name, citizen, resolved=True))["nodes"]] == [first]


async def test_a_claim_that_left_a_plan_is_resolved_alone(api: Api, world: World) -> None:
    """CLAIMS_AT_COLLECTION items are keyed by plan and claim: marking one leaves the plan's other claims."""
    async with api.services.db.transaction() as conn:
        other = (await conn.execute(select(m.Claim.id).where(m.Claim.reference == PENDING_CLAIM))).scalar_one()
        await conn.execute(
            insert(m.PlanClaim).values(
                plan_id=world.active_plan,
                claim_id=other,
                outstanding_oere=10_000,
                left_at=utcnow() - timedelta(days=1),
                left_reason="AT_COLLECTION",
            )
        )
    open_items = await items(api, "CLAIMS_AT_COLLECTION", world.anna)
    assert open_items["totalCount"] == 2
    done = await resolve(api, open_items["nodes"][0]["id"])
    assert done["item"]["claim"]["reference"] == LEFT_CLAIM
    left = await items(api, "CLAIMS_AT_COLLECTION", world.anna)
    assert [n["id"] for n in left["nodes"]] == [open_items["nodes"][1]["id"]]


def _item_id(queue: str, key1: int | str, key2: int | str = 0) -> str:
    return base64.urlsafe_b64encode(f"WorkQueueItem:{queue}:{key1}:{key2}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("item", "note", "code", "field"),
    [
        ("awaiting", "ok", "WORK_QUEUE_ITEM_DECIDED_ELSEWHERE", "itemId"),  # decided by approve, reject, counter-offer
        ("bm9wZQ", "ok", "WORK_QUEUE_ITEM_NOT_FOUND", "itemId"),  # no item's id
        ("payment-node", "ok", "WORK_QUEUE_ITEM_NOT_FOUND", "itemId"),  # a Payment's node id
        ("captured", "ok", "WORK_QUEUE_ITEM_NOT_FOUND", "itemId"),  # a payment that did not fail
        (_item_id("EVERYTHING", 1), "ok", "WORK_QUEUE_ITEM_NOT_FOUND", "itemId"),  # no such queue
        (_item_id("FAILED_PAYMENTS", "-1"), "ok", "WORK_QUEUE_ITEM_NOT_FOUND", "itemId"),  # no ledger key
        ("failed", "   ", "INVALID_INPUT", "note"),  # the note is required
        ("failed", "x" * 2001, "INVALID_INPUT", "note"),
        ("failed", "ok\x00", "INVALID_INPUT", "note"),  # a NUL: PostgreSQL cannot store it
    ],
)
async def test_a_bad_resolution_is_refused_and_writes_nothing(
    api: Api, world: World, item: str, note: str, code: str, field: str
) -> None:
    named = {
        "awaiting": _item_id("AWAITING_ASSESSMENT", world.pending_plan),
        "payment-node": ids.encode("Payment", world.failed_payment),
        "failed": _item_id("FAILED_PAYMENTS", world.failed_payment),
        "captured": _item_id(
            "FAILED_PAYMENTS",
            (await rows(api, select(m.Payment.id).where(m.Payment.status == "CAPTURED")))[0][0],
        ),
    }.get(item, item)
    before = await marks_and_log_rows(api)
    refused = await resolve(api, named, note)
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [(code, ["input", field])], refused
    assert refused["item"] is None
    assert await marks_and_log_rows(api) == before
    assert (await items(api, "FAILED_PAYMENTS", world.anna))["totalCount"] == 1


async def test_two_caseworkers_resolving_at_once_mark_it_once(api: Api, world: World) -> None:
    item_id = (await items(api, "FAILED_DRAWS", world.anna))["nodes"][0]["id"]
    answers = await asyncio.gather(*(resolve(api, item_id, f"Kollega {i}") for i in range(6)))
    assert sorted(a["userErrors"][0]["code"] if a["userErrors"] else "OK" for a in answers) == [
        "OK",
        *["WORK_QUEUE_ITEM_ALREADY_RESOLVED"] * 5,
    ]
    marks = await rows(api, select(m.WorkQueueResolution.note))
    assert len(marks) == 1


async def test_resolved_and_open_pages_have_cursors_of_their_own(api: Api, world: World) -> None:
    f = {"citizenId": ids.encode("Citizen", world.anna)}
    page = await queue(api, "MISSED_INSTALLMENTS", filter=f, first=1)
    cursor = page["pageInfo"]["endCursor"]
    body = await api.gql(
        QUEUE,
        {"queue": "MISSED_INSTALLMENTS", "filter": {**f, "resolved": True}, "first": 1, "after": cursor},
        caseworker=CASEWORKER,
    )
    assert codes(body) == ["BAD_USER_INPUT"] and "anden forespørgsel" in body["errors"][0]["message"]


async def test_a_read_only_caseworker_cannot_resolve(api: Api, world: World) -> None:
    item_id = (await items(api, "FAILED_PAYMENTS", world.anna))["nodes"][0]["id"]
    variables = {"input": {"itemId": item_id, "note": "x", "idempotencyKey": "ro"}}
    body = await api.post(RESOLVE, variables, token=api.token(caseworker=CASEWORKER, read_only=True))
    assert codes(body.json()) == ["FORBIDDEN"]
    assert (await items(api, "FAILED_PAYMENTS", world.anna))["totalCount"] == 1


# --- search -------------------------------------------------------------------------------------------------


async def search(api: Api, by: str, text: str, **variables: Any) -> dict[str, Any]:
    return (await caseworker(api, SEARCH, {"by": by, "text": text, **variables}))["searchCitizens"]


async def test_search_by_cpr_name_and_claim_reference_masks_the_cpr(api: Api) -> None:
    anna = {"name": "Anna Jensen", "maskedCpr": "150780-xxxx"}
    for by, text in (
        ("CPR", ANNA),
        ("CPR", "150780-4321"),
        ("NAME", "anna j"),
        ("NAME", "NNA JEN"),
        ("CLAIM_REFERENCE", "rk-ren-2023-0931"),
    ):
        found = await search(api, by, text)
        assert [{k: n[k] for k in anna} for n in found["nodes"]] == [anna], (by, text)
        assert ANNA not in str(found)
    # The list links to the single-citizen view, which shows the full CPR (and is logged).
    citizen_id = (await search(api, "CPR", ANNA))["nodes"][0]["id"]
    full = await caseworker(api, "query($id: ID!) { node(id: $id) { ... on Citizen { cpr } } }", {"id": citizen_id})
    assert full["node"]["cpr"] == ANNA
    assert (await search(api, "CPR", "0101011234"))["nodes"] == []
    assert (await search(api, "NAME", "%%"))["nodes"] == []  # LIKE's wildcards are plain characters
    assert (await search(api, "CLAIM_REFERENCE", "RK-REN"))["nodes"] == []  # references match exactly


async def test_a_name_search_ignores_the_case_of_every_letter(api: Api) -> None:
    """Danish names have Æ, Ø and Å: both databases fold them (SQLite's own lower() folds A–Z only)."""
    async with api.services.db.transaction() as conn:
        await conn.execute(update(m.Citizen).where(m.Citizen.cpr == DAVID).values(name="Dåvid Ærø Østergård"))
    for text in ("ærø øst", "ÆRØ ØSTERGÅRD", "dÅvid", "Østergård"):
        found = await search(api, "NAME", text)
        assert [n["name"] for n in found["nodes"]] == ["Dåvid Ærø Østergård"], text
    assert (await search(api, "NAME", "aero"))["nodes"] == []  # folded, not transliterated


async def test_search_pages_and_logs_every_citizen_found(api: Api) -> None:
    stmt = (
        select(m.AccessLogEntry.citizen_id)
        .where(m.AccessLogEntry.operation == "searchCitizens")
        .order_by(m.AccessLogEntry.id)  # in the order written: the last one is the last look-up
    )
    before = len(await rows(api, stmt))
    first = await search(api, "NAME", "en", first=2)  # Anna Jensen, Bo Nielsen, Camilla Hansen, David Larsen
    assert first["totalCount"] >= 4 and first["pageInfo"]["hasNextPage"]
    rest = await search(api, "NAME", "en", after=first["pageInfo"]["endCursor"])
    names = [n["name"] for n in first["nodes"] + rest["nodes"]]
    assert len(names) == len(set(names)) == first["totalCount"]
    assert len(await rows(api, stmt)) - before == len(names)
    await search(api, "CPR", "0101011234")  # found nobody: logged as a look-up of nobody
    assert [r.citizen_id for r in await rows(api, stmt)][-1] is None
    body = await api.gql(
        SEARCH, {"by": "NAME", "text": "an", "after": first["pageInfo"]["endCursor"]}, caseworker=CASEWORKER
    )  # "an", not "en"
    assert codes(body) == ["BAD_USER_INPUT"]  # a cursor of another search


@pytest.mark.parametrize(
    ("by", "text", "code_or_message"),
    [
        ("CPR", "3213801234", "CPR"),
        ("NAME", "a", "2–100"),
        ("NAME", "x" * 101, "2–100"),
        ("NAME", "An\x00na", "2–100"),
        ("CLAIM_REFERENCE", "RK\n1", "1–40"),
        ("WHO", "x", "WHO"),
    ],
)
async def test_bad_search_input(api: Api, by: str, text: str, code_or_message: str) -> None:
    body = await api.gql(SEARCH, {"by": by, "text": text}, caseworker=CASEWORKER, headers={"Accept-Language": "en"})
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert code_or_message in body["errors"][0]["message"], body


async def test_an_edited_cursor_is_refused_not_an_internal_error(api: Api, world: World) -> None:
    """The cursor's scope is keyed, its position is not: a caseworker who edits the position gets INVALID_CURSOR."""
    anna = {"citizenId": ids.encode("Citizen", world.anna)}
    cursor = (await queue(api, "FAILED_PAYMENTS", filter=anna, first=1))["pageInfo"]["endCursor"]
    _, scope, since, _, _ = base64.urlsafe_b64decode(cursor + "==").decode().split("|")
    for position in ((since, "99999999999999999999", "0"), (since[:19], "1", "0"), ("yesterday", "1", "0")):
        edited = ids.encode_keyset_cursor(scope, position)
        body = await api.gql(
            QUEUE, {"queue": "FAILED_PAYMENTS", "filter": anna, "after": edited}, caseworker=CASEWORKER
        )
        assert codes(body) == ["BAD_USER_INPUT"], (position, body)
    for far in ({"to": "9999-12-31"}, {"from": "0001-01-01"}):
        body = await api.gql(QUEUE, {"queue": "FAILED_PAYMENTS", "filter": far}, caseworker=CASEWORKER)
        assert codes(body) == ["BAD_USER_INPUT"], body


async def test_the_trusted_documents_of_the_workplace_run_by_id(api: Api, world: World) -> None:
    """The caseworker dashboard's documents (src/gateway/trusted_documents/caseworker_*.graphql), named by id."""
    token = api.token(caseworker=CASEWORKER, read_only=True)
    anna = {"citizenId": ids.encode("Citizen", world.anna)}
    for name, variables, check in (
        ("CaseworkerPortfolio", period(), lambda d: d["portfolio"]["installments"]["missed"]["count"] == 1),
        (
            "CaseworkerWorkQueue",
            {"queue": "MISSED_INSTALLMENTS", "filter": anna},
            lambda d: d["workQueue"]["totalCount"] == 2,
        ),
        (
            "CaseworkerSearchCitizens",
            {"by": "CPR", "text": ANNA},
            lambda d: d["searchCitizens"]["nodes"][0]["maskedCpr"] == "150780-xxxx",
        ),
    ):
        document = trusted_documents().by_operation_name(name)
        assert document is not None, name
        response = await api.client.post(
            "/graphql",
            json={"documentId": document.document_id, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        assert "errors" not in body and check(body["data"]), body


# --- collection status: the ledger's last known -------------------------------------------------------------

# Gældsstyrelsen's states as docs/api.md lists them (written out here, not taken from the code under test).
AT_COLLECTION_STATES = {"RECEIVED", "UNDER_COLLECTION", "PAID", "WRITTEN_OFF"}


async def test_the_portfolio_counts_claims_by_their_last_known_collection_status(api: Api) -> None:
    query = (
        "{ portfolio { claims { count collectionStatusAsOf "
        "byCollectionStatus { status count outstanding { amountOere } } } } }"
    )
    async with api.services.db.transaction() as conn:  # what other tests' sweeps heard is forgotten
        await conn.execute(delete(m.ClaimCollectionStatus))
    before = (await caseworker(api, query))["portfolio"]["claims"]
    # Nothing asked yet: every open claim is UNKNOWN.
    assert [(s["status"], s["count"]) for s in before["byCollectionStatus"]] == [("UNKNOWN", before["count"])]
    assert before["collectionStatusAsOf"] is None

    asked = utcnow()
    report = SweepReport()
    await api.services.draws.check_collection_statuses(report)
    assert report.statuses_recorded > 0 and not report.errors

    # Independently: every open claim's status from the simulator's states, mapped by docs/api.md's table.
    claims = {r.id: r.reference for r in await rows(api, select(m.Claim.id, m.Claim.reference))}
    balance: dict[int, int] = defaultdict(int)
    for e in await rows(api, select(m.LedgerEntry.claim_id, m.LedgerEntry.amount_oere)):
        balance[e.claim_id] += e.amount_oere
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for claim_id, owed in balance.items():
        if owed <= 0:
            continue
        state = DEMO_COLLECTION_STATES.get(claims[claim_id])
        name = state.state.value if state is not None else "NOT_RECEIVED"
        status = (
            "AT_COLLECTION"
            if name in AT_COLLECTION_STATES
            else "RETURNED"
            if name == "RETURNED"
            else "NOT_AT_COLLECTION"
        )
        expected[status][0] += 1
        expected[status][1] += owed
    after = (await caseworker(api, query))["portfolio"]["claims"]
    got = {s["status"]: [s["count"], int(s["outstanding"]["amountOere"])] for s in after["byCollectionStatus"]}
    assert got == dict(expected)
    # By hand, the demo's open claims: Anna's waste claim and Camilla's two at collection, David's returned one.
    assert got["AT_COLLECTION"][0] == 3 and got["RETURNED"][0] == 1
    assert after["collectionStatusAsOf"] >= asked.isoformat()[:19]


async def test_a_status_check_asks_the_least_recently_checked_first(migrated: str, gaeldst_sim: ThreadedServer) -> None:
    """Batches of two: the first sweeps reach every claim once before any is asked about again."""
    async with build_api(migrated, gaeldst_sim, collection_check_batch_size=2) as api:
        total = (await rows(api, select(func.count()).select_from(m.Claim)))[0][0]
        for _ in range(-(-total // 2)):
            await api.services.draws.check_collection_statuses(SweepReport())
        checked = (await rows(api, select(func.count()).select_from(m.ClaimCollectionStatus)))[0][0]
        assert checked == total
