"""The citizen's overview (R1), statements (R2) and senders (R7), paging, and the SQL statement budget.

Expected amounts are derived from the demo seed (``adapters.ledger.seed``): a claim's outstanding amount is
the sum of its ledger entries (charges, interest and fees positive, payments negative).
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from adapters.ledger import models as m
from adapters.ledger.seed import DEPARTMENTS, _demo_citizens
from gateway.domain.clock import today, utcnow
from tests.conftest import ANNA, BO, DAVID

# --- helpers shared with the other API test files ----------------------------------------------------

SEED = {cpr: (name, claims) for cpr, name, claims in _demo_citizens()}


def seed_claims(cpr: str) -> dict[str, Any]:
    """reference -> DemoClaim for a demo citizen."""
    return {c.reference: c for c in SEED[cpr][1]}


def seed_outstanding(cpr: str) -> dict[str, int]:
    return {ref: sum(amount for *_, amount in c.entries) for ref, c in seed_claims(cpr).items()}


def errors_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body.get("errors") or [])


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in errors_of(body)]


def _random_cpr(rng: random.Random) -> str:
    # 7th digit 0-3: born 1900-1999 (cpr.dk), so any real date with day <= 28 is valid.
    return f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(0, 99):02d}{rng.randint(0, 3999):04d}"


async def make_citizen(
    api: Any, claims: list[list[int]], *, name: str = "Test Borger", department: str = "AFFALD"
) -> tuple[str, list[str]]:
    """Insert a citizen with the given claims directly in the ledger; each claim is a list of entry amounts
    (øre, in posting order). Returns the CPR and the claim references (in due-date order)."""
    rng = random.Random(uuid.uuid4().int)  # test data, not security
    now = utcnow()
    day0 = today()
    async with api.services.db.transaction() as conn:
        existing = set((await conn.execute(select(m.Citizen.cpr))).scalars())
        cpr = _random_cpr(rng)
        while cpr in existing:
            cpr = _random_cpr(rng)
        dep_id = (await conn.execute(select(m.Department.id).where(m.Department.code == department))).scalar_one()
        citizen_id = (
            await conn.execute(
                insert(m.Citizen).values(cpr=cpr, name=name, created_at=now, updated_at=now).returning(m.Citizen.id)
            )
        ).scalar_one()
        tag = uuid.uuid4().hex[:10].upper()
        refs = [f"TST-{tag}-{i:04d}" for i in range(len(claims))]
        claim_rows = [
            {
                "reference": ref,
                "citizen_id": citizen_id,
                "department_id": dep_id,
                "title": f"Testkrav {i}",
                "kind": "OTHER",
                "issued_on": day0 - timedelta(days=1000 - i),
                "due_on": day0 - timedelta(days=970 - i),  # strictly increasing: refs are in due-date order
                "original_amount_oere": max(sum(a for a in amounts if a > 0), 0),
                "created_at": now,
                "updated_at": now,
            }
            for i, (ref, amounts) in enumerate(zip(refs, claims, strict=True))
        ]
        claim_ids = (await conn.execute(insert(m.Claim).returning(m.Claim.id), claim_rows)).scalars().all()
        entries = [
            {
                "claim_id": claim_id,
                "posted_on": day0 - timedelta(days=900 - j),
                "kind": "CHARGE" if amount > 0 else "PAYMENT",
                "component": None,
                "text": "Opkrævning" if amount > 0 else "Indbetaling",
                "amount_oere": amount,
                "external_ref": f"t-{j}",
                "payment_id": None,
                "created_at": now,
            }
            for claim_id, amounts in zip(claim_ids, claims, strict=True)
            for j, amount in enumerate(amounts)
        ]
        if entries:
            await conn.execute(insert(m.LedgerEntry), entries)
    return cpr, refs


MONEY = "{ amountOere amount currency formatted }"

OVERVIEW = f"""
query {{ me {{ id cpr name totalOutstanding {MONEY}
  claims {{ totalCount nodes {{ id reference title kind status outstanding {MONEY} originalAmount {MONEY}
    sender {{ id code name contact {{ name phone email address web phoneHours {{ weekday opens closes }} }} }}
    collection {{ status marker since }}
    eligibility {{ canPay canCreateInstallmentPlan reasons }}
    statement {{ balance {MONEY} lines {{ postedOn kind text amount {MONEY} balanceAfter {MONEY} }} }} }} }}
  notices {{ code message }} }} }}
"""


def money(oere: int) -> dict[str, Any]:
    """The Money object expected for an amount, written out independently of gateway.domain.money."""
    sign = "-" if oere < 0 else ""
    kroner, oere_part = divmod(abs(oere), 100)
    grouped = ""
    digits = str(kroner)
    while len(digits) > 3:
        grouped = "." + digits[-3:] + grouped
        digits = digits[:-3]
    grouped = digits + grouped
    return {
        "amountOere": oere,
        "amount": f"{sign}{kroner}.{oere_part:02d}",
        "currency": "DKK",
        "formatted": f"{sign}{grouped},{oere_part:02d} kr.",
    }


# --- R1: the overview ------------------------------------------------------------------------------


async def test_anna_sees_her_cpr_name_and_claims_with_outstanding_amounts(api):
    body = await api.gql(OVERVIEW, citizen=ANNA)
    assert "errors" not in body, body
    me = body["data"]["me"]
    assert me["cpr"] == ANNA
    assert me["name"] == "Anna Jensen"
    claims = me["claims"]["nodes"]
    expected = seed_outstanding(ANNA)
    assert me["claims"]["totalCount"] == 4
    assert {c["reference"] for c in claims} == set(expected)
    for c in claims:
        assert c["outstanding"] == money(expected[c["reference"]]), c["reference"]
        assert c["status"] == "OPEN"
    # Hand check of two claims from the seed:
    by_ref = {c["reference"]: c for c in claims}
    # daycare: 2950 + 2950 - 2950 + 2950 + 100 (fee) = 6000.00
    assert by_ref["RK-DAG-2025-0412"]["outstanding"]["amount"] == "6000.00"
    # property tax: 8412.50 - 4000.00 + 61.75 = 4474.25
    assert by_ref["RK-EJD-2025-1187"]["outstanding"]["formatted"] == "4.474,25 kr."
    assert by_ref["RK-BIL-2024-0077"]["kind"] == "BEBOERINDSKUDSLAAN"
    # the original amount is the sum of the charges
    for ref, c in seed_claims(ANNA).items():
        charges = sum(a for _, k, _, a in c.entries if k == "CHARGE")
        assert by_ref[ref]["originalAmount"]["amountOere"] == charges
        assert by_ref[ref]["title"] == c.title


async def test_total_outstanding_is_the_sum_of_the_open_claims(api):
    body = await api.gql(OVERVIEW, citizen=ANNA)
    total = sum(seed_outstanding(ANNA).values())
    assert total == 2_511_925  # 6000.00 + 4474.25 + 11700.00 + 2945.00
    assert body["data"]["me"]["totalOutstanding"] == money(total)
    assert body["data"]["me"]["totalOutstanding"]["formatted"] == "25.119,25 kr."


async def test_claims_are_listed_oldest_due_date_first(api):
    body = await api.gql(OVERVIEW, citizen=ANNA)
    refs = [c["reference"] for c in body["data"]["me"]["claims"]["nodes"]]
    # due = issued_days_ago - due_in_days days ago
    due_days_ago = {ref: c.issued_days_ago - c.due_in_days for ref, c in seed_claims(ANNA).items()}
    assert refs == sorted(due_days_ago, key=lambda r: -due_days_ago[r])


async def test_money_fields_have_the_contract_shape(api):
    cpr, _ = await make_citizen(api, [[123_450]])
    body = await api.gql(OVERVIEW, citizen=cpr)
    me = body["data"]["me"]
    assert me["totalOutstanding"] == {
        "amountOere": 123450,
        "amount": "1234.50",
        "currency": "DKK",
        "formatted": "1.234,50 kr.",
    }
    assert isinstance(me["totalOutstanding"]["amountOere"], int)


async def test_large_amounts_and_negative_statement_amounts_format(api):
    cpr, _ = await make_citizen(api, [[123_456_789, -23_456_789]])
    body = await api.gql(OVERVIEW, citizen=cpr)
    claim = body["data"]["me"]["claims"]["nodes"][0]
    assert claim["outstanding"] == money(100_000_000)
    assert claim["outstanding"]["formatted"] == "1.000.000,00 kr."
    lines = claim["statement"]["lines"]
    assert lines[0]["amount"]["formatted"] == "1.234.567,89 kr."
    assert lines[1]["amount"] == {
        "amountOere": -23_456_789,
        "amount": "-234567.89",
        "currency": "DKK",
        "formatted": "-234.567,89 kr.",
    }


async def test_bo_has_one_paid_claim_and_owes_nothing(api):
    body = await api.gql(OVERVIEW, citizen=BO)
    assert "errors" not in body, body
    me = body["data"]["me"]
    assert me["name"] == "Bo Nielsen"
    assert me["claims"]["totalCount"] == 1
    claim = me["claims"]["nodes"][0]
    assert claim["reference"] == "RK-EJD-2024-0555"
    assert seed_outstanding(BO)["RK-EJD-2024-0555"] == 0
    assert claim["status"] == "PAID"
    assert claim["outstanding"] == money(0)
    assert claim["eligibility"]["canPay"] is False
    assert "CLAIM_NOT_OPEN" in claim["eligibility"]["reasons"]
    assert me["totalOutstanding"] == money(0)
    assert me["totalOutstanding"]["formatted"] == "0,00 kr."


async def test_overpaid_claim_is_not_open_and_not_counted(api):
    cpr, refs = await make_citizen(api, [[50_000, -55_000], [10_000], [20_000, -20_000]])
    body = await api.gql(OVERVIEW, citizen=cpr)
    me = body["data"]["me"]
    status = {c["reference"]: c["status"] for c in me["claims"]["nodes"]}
    assert status == {refs[0]: "PAID", refs[1]: "OPEN", refs[2]: "PAID"}
    assert me["totalOutstanding"]["amountOere"] == 10_000


FILTERED = """
query($status: ClaimStatus) { me { claims(filter: {status: $status}) { totalCount nodes { reference status } } } }
"""


async def test_claims_filter_by_status(api):
    cpr, refs = await make_citizen(api, [[30_000], [40_000, -40_000], [50_000]])
    open_ = await api.gql(FILTERED, {"status": "OPEN"}, citizen=cpr)
    assert [c["reference"] for c in open_["data"]["me"]["claims"]["nodes"]] == [refs[0], refs[2]]
    assert open_["data"]["me"]["claims"]["totalCount"] == 2
    paid = await api.gql(FILTERED, {"status": "PAID"}, citizen=cpr)
    assert [c["reference"] for c in paid["data"]["me"]["claims"]["nodes"]] == [refs[1]]
    everything = await api.gql(FILTERED, {"status": None}, citizen=cpr)
    assert everything["data"]["me"]["claims"]["totalCount"] == 3
    bo_open = await api.gql(FILTERED, {"status": "OPEN"}, citizen=BO)
    assert bo_open["data"]["me"]["claims"] == {"totalCount": 0, "nodes": []}


# --- R2: statements -------------------------------------------------------------------------------------


async def test_statements_have_a_running_balance_ending_at_the_outstanding_amount(api):
    body = await api.gql(OVERVIEW, citizen=ANNA)
    day0 = today()
    for claim in body["data"]["me"]["claims"]["nodes"]:
        seeded = seed_claims(ANNA)[claim["reference"]]
        lines = claim["statement"]["lines"]
        assert len(lines) == len(seeded.entries)
        balance = 0
        for line, (days_ago, kind, text, amount) in zip(lines, seeded.entries, strict=True):
            balance += amount
            assert line["kind"] == kind
            assert line["text"] == text
            assert line["postedOn"] == (day0 - timedelta(days=days_ago)).isoformat()
            assert line["amount"] == money(amount)
            assert line["balanceAfter"] == money(balance)
        assert lines[-1]["balanceAfter"] == claim["outstanding"]
        assert claim["statement"]["balance"] == claim["outstanding"]
        assert [ln["postedOn"] for ln in lines] == sorted(ln["postedOn"] for ln in lines)


async def test_statement_shows_payments_interest_and_fees(api):
    body = await api.gql(OVERVIEW, citizen=ANNA)
    by_ref = {c["reference"]: c for c in body["data"]["me"]["claims"]["nodes"]}
    kinds = [ln["kind"] for ln in by_ref["RK-BIL-2024-0077"]["statement"]["lines"]]
    assert kinds.count("PAYMENT") == 3
    assert kinds.count("INTEREST") == 8
    assert kinds[0] == "CHARGE"
    dag = by_ref["RK-DAG-2025-0412"]["statement"]["lines"]
    assert dag[-1]["kind"] == "FEE"
    assert dag[-1]["amount"]["amount"] == "100.00"


# --- R7: the sending department -------------------------------------------------------------------------


async def test_each_claim_names_its_sender_with_contact_details(api):
    body = await api.gql(OVERVIEW, citizen=ANNA)
    departments = {d["code"]: d for d in DEPARTMENTS}
    for claim in body["data"]["me"]["claims"]["nodes"]:
        dep = departments[seed_claims(ANNA)[claim["reference"]].department]
        sender = claim["sender"]
        assert sender["code"] == dep["code"]
        assert sender["name"] == dep["name"]
        contact = sender["contact"]
        assert contact["phone"] == dep["phone"]
        assert contact["email"] == dep["email"]
        assert contact["address"] == dep["address"]
        assert contact["phoneHours"] == dep["phone_hours"]
    by_ref = {c["reference"]: c for c in body["data"]["me"]["claims"]["nodes"]}
    assert by_ref["RK-BIL-2024-0077"]["sender"]["contact"]["phone"] == "8915 1340"
    assert by_ref["RK-BIL-2024-0077"]["sender"]["contact"]["phoneHours"] == [
        {"weekday": "TUESDAY", "opens": "10:00", "closes": "12:00"},
        {"weekday": "THURSDAY", "opens": "10:00", "closes": "12:00"},
    ]


async def test_david_owes_about_twelve_thousand_over_three_claims(api):
    body = await api.gql(OVERVIEW, citizen=DAVID)
    me = body["data"]["me"]
    assert me["claims"]["totalCount"] == 3
    # 2050 + 2050 + 5350 + 3100 - 500 = 12050.00
    assert me["totalOutstanding"]["amount"] == "12050.00"
    assert me["totalOutstanding"]["amountOere"] == sum(seed_outstanding(DAVID).values())


# --- connections ----------------------------------------------------------------------------------------

PAGE = """
query($first: Int, $after: String) { me { claims(first: $first, after: $after) {
  totalCount edges { cursor node { reference } } nodes { reference }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }
"""


async def test_claims_page_forward_with_cursors(api):
    full = await api.gql(PAGE, {"first": 100}, citizen=ANNA)
    all_refs = [n["reference"] for n in full["data"]["me"]["claims"]["nodes"]]
    assert len(all_refs) == 4

    first = (await api.gql(PAGE, {"first": 2}, citizen=ANNA))["data"]["me"]["claims"]
    assert first["totalCount"] == 4
    assert [e["node"]["reference"] for e in first["edges"]] == all_refs[:2]
    assert [n["reference"] for n in first["nodes"]] == all_refs[:2]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][1]["cursor"],
    }
    assert first["edges"][0]["cursor"] != first["edges"][1]["cursor"]

    second = (await api.gql(PAGE, {"first": 2, "after": first["pageInfo"]["endCursor"]}, citizen=ANNA))["data"]
    second = second["me"]["claims"]
    assert [n["reference"] for n in second["nodes"]] == all_refs[2:]
    assert second["totalCount"] == 4
    assert second["pageInfo"]["hasNextPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True

    # after the first edge's cursor: starts at the second claim
    mid = (await api.gql(PAGE, {"first": 1, "after": first["edges"][0]["cursor"]}, citizen=ANNA))["data"]
    assert [n["reference"] for n in mid["me"]["claims"]["nodes"]] == all_refs[1:2]

    end = (await api.gql(PAGE, {"first": 2, "after": second["pageInfo"]["endCursor"]}, citizen=ANNA))["data"]
    end = end["me"]["claims"]
    assert end["nodes"] == []
    assert end["pageInfo"]["hasNextPage"] is False
    assert end["pageInfo"]["startCursor"] is None
    assert end["pageInfo"]["endCursor"] is None


async def test_first_zero_returns_no_nodes_but_the_total(api):
    page = (await api.gql(PAGE, {"first": 0}, citizen=ANNA))["data"]["me"]["claims"]
    assert page["nodes"] == []
    assert page["edges"] == []
    assert page["totalCount"] == 4


async def test_walking_all_pages_of_a_large_citizen_sees_every_claim_once(api):
    cpr, refs = await make_citizen(api, [[10_000 + i] for i in range(130)])
    default = (await api.gql(PAGE, {}, citizen=cpr))["data"]["me"]["claims"]
    assert default["totalCount"] == 130
    assert len(default["nodes"]) == 100  # the default page is the cap
    assert default["pageInfo"]["hasNextPage"] is True
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = (await api.gql(PAGE, {"first": 40, "after": after}, citizen=cpr))["data"]["me"]["claims"]
        seen += [n["reference"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == refs


@pytest.mark.parametrize("first", [101, 1000, -1])
async def test_first_out_of_range_is_bad_user_input(api, first):
    body = await api.gql(PAGE, {"first": first}, citizen=ANNA)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "100" in body["errors"][0]["message"]
    assert body["data"]["me"] is None


async def test_first_exactly_100_is_allowed(api):
    body = await api.gql(PAGE, {"first": 100}, citizen=ANNA)
    assert "errors" not in body
    assert body["data"]["me"]["claims"]["totalCount"] == 4


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["garbage!!", "", "%%%", _b64("o:-1"), _b64("x:1"), _b64("o:abc"), _b64("Claim:1"), "ÆØÅ"],
)
async def test_garbage_cursor_is_bad_user_input(api, cursor):
    body = await api.gql(PAGE, {"first": 2, "after": cursor}, citizen=ANNA)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "Traceback" not in str(body)


@pytest.mark.parametrize("field", ["installmentPlans", "paymentMethods", "payments", "accessLog"])
async def test_every_connection_caps_first(api, field):
    body = await api.gql(f"{{ me {{ {field}(first: 101) {{ totalCount }} }} }}", citizen=ANNA)
    assert codes(body) == ["BAD_USER_INPUT"]
    ok = await api.gql(f"{{ me {{ {field}(first: 100) {{ totalCount pageInfo {{ hasNextPage }} }} }} }}", citizen=ANNA)
    assert "errors" not in ok
    assert ok["data"]["me"][field]["totalCount"] == 0


# --- SQL statements: constant, however many claims and lines -------------------------------------------


async def _count(api, query: str, cpr: str) -> int:
    api.sql.reset()
    body = await api.gql(query, citizen=cpr)
    assert "errors" not in body, body
    return api.sql.count


async def test_overview_sql_statement_count_is_constant(api):
    small, _ = await make_citizen(api, [[10_000]])
    large, _ = await make_citizen(api, [[50_000] + [-1_000] * 14 for _ in range(60)], department="BOLIG")
    await api.gql(OVERVIEW, citizen=ANNA)  # warm up connections (dialect initialisation)
    n_small = await _count(api, OVERVIEW, small)
    n_large = await _count(api, OVERVIEW, large)
    n_anna = await _count(api, OVERVIEW, ANNA)
    n_bo = await _count(api, OVERVIEW, BO)
    print(f"overview SQL statements: small={n_small} large={n_large} anna={n_anna} bo={n_bo}")
    assert n_small == n_large == n_anna == n_bo
    # 8 since notices include what happened to plans and draws (one batched query; issue "Installments over time").
    assert n_large == 8


async def test_overview_sql_count_with_seed_bulk_sizes(api):
    from adapters.ledger.seed import seed_bulk

    async with api.services.db.read() as conn:
        before = set((await conn.execute(select(m.Citizen.cpr))).scalars())
    await seed_bulk(api.services.db, 1, claims_per_citizen=1, lines_per_claim=1)
    async with api.services.db.read() as conn:
        mid = set((await conn.execute(select(m.Citizen.cpr))).scalars())
    await seed_bulk(api.services.db, 1, claims_per_citizen=80, lines_per_claim=25)
    async with api.services.db.read() as conn:
        after = set((await conn.execute(select(m.Citizen.cpr))).scalars())
        lines = (
            await conn.execute(
                select(func.count())
                .select_from(m.LedgerEntry)
                .join(m.Claim, m.Claim.id == m.LedgerEntry.claim_id)
                .join(m.Citizen, m.Citizen.id == m.Claim.citizen_id)
                .where(m.Citizen.cpr.in_(list(after - mid)))
            )
        ).scalar_one()
    (one,) = mid - before
    (many,) = after - mid
    assert lines == 80 * 25
    await api.gql(OVERVIEW, citizen=ANNA)
    n_one = await _count(api, OVERVIEW, one)
    n_many = await _count(api, OVERVIEW, many)
    assert n_one == n_many == 8  # + the notices of what happened (one batched query)


RICH = f"""
query {{ me {{ id cpr totalOutstanding {MONEY}
  claims(first: 100) {{ totalCount edges {{ cursor node {{ id reference outstanding {MONEY}
    sender {{ name contact {{ phone phoneHours {{ weekday }} }} }}
    collection {{ status marker }} eligibility {{ canPay reasons }}
    installmentPlan {{ id status }} automaticPayment {{ id status }}
    statement {{ balance {MONEY} lines {{ kind amount {MONEY} balanceAfter {MONEY} }} }} }} }} }}
  installmentPlans {{ totalCount }} paymentMethods {{ totalCount }} payments {{ totalCount }}
  mobilePayAccounts {{ id name }} accessLog {{ totalCount }}
  notices {{ code message contact {{ phone }} }} }} }}
"""


async def test_rich_overview_sql_statement_count_is_constant(api):
    small, _ = await make_citizen(api, [[10_000]])
    large, _ = await make_citizen(api, [[50_000] + [-100] * 20 for _ in range(90)])
    await api.gql(RICH, citizen=ANNA)
    n_small = await _count(api, RICH, small)
    n_large = await _count(api, RICH, large)
    n_anna = await _count(api, RICH, ANNA)
    print(f"rich overview SQL statements: small={n_small} large={n_large} anna={n_anna}")
    assert n_small == n_large == n_anna
