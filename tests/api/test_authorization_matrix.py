"""The authorization matrix: every root field, every Node type through ``node`` and ``nodes``, and every mutation,
each as six viewers, with the outcome each viewer must get. One row per operation, one cell per viewer.

The objects asked about are Anna's (the *owner*): a plan waiting for approval, an active plan with installments, a
draw and a Betalingsservice enrolment, a payment, a caseworker item, access-log entries, her claims, MobilePay
accounts and departments (``build_world``). The *other* citizen is David, who has claims and a MobilePay account of
his own. The *caseworker* is cw-1001 with the acting role (reads and acts); the *reader* is cw-1001 with the
read-only role (issue 12: dashboards read, never act); *anonymous* sends no token; *expired* sends Anna's token an
hour after it expired. Read cells share one world per database; each write cell gets a fresh one.

Outcomes (see ``check``): ``DATA`` (the field answers with the object), ``LOGGED`` (``DATA``, and the caseworker's
request writes a row in Anna's access log), ``NULL`` (no error and nothing: someone else's object looks exactly
like one that does not exist), ``FORBIDDEN`` / ``UNAUTHENTICATED`` (that error and no data), and
``user_error(CODE)`` (the payload's ``userErrors`` or the preview's ``violations`` carry CODE, and no object).
``NOT_FOUND`` is reserved in the API and never produced: absent and foreign objects are ``null``. In every cell,
for every viewer but the owner and the caseworker, nothing of Anna's (her name, CPR, claim references, account
name) may be in the answer; and only ``LOGGED`` cells may add caseworkers' rows to her access log.

Subscriptions run over a real WebSocket (graphql-transport-ws, the app served by uvicorn in the test's loop): the
first event is judged like a query's answer; anonymous and expired tokens are refused at ``connection_init``
(close 4403), which is their ``UNAUTHENTICATED``.

Adding an operation (``test_the_matrix_covers_the_schema`` fails until it is done):
- a root query field, a subscription or a mutation: add a ``Row`` to ``ROWS`` with its document, the root field
  judged, one outcome per viewer (``expect``: anonymous and expired default to ``UNAUTHENTICATED``; the reader
  defaults to the caseworker's outcome for a read and ``FORBIDDEN`` for a mutation, and is written out for
  caseworkers' rows) and its variables (a function of the ``World`` and the viewer, for inputs that mix the
  viewer's own objects with Anna's; ``prepare`` runs before a write cell). If it needs an object Anna does not have
  yet, add it in ``build_world``.
- a new Node type: give Anna one in ``build_world``, put it in ``World.ids``, its revealing fields in
  ``NODE_FIELDS`` and its outcomes in ``NODE_ROWS``; the ``node`` and ``nodes`` rows follow.
A cell found wrong is written ``bug(EXPECTED, "BUG: …")``: a strict xfail, which fails once the bug is fixed, so
that the cell is then written as plain ``EXPECTED``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import func, insert, select, update
from websockets.exceptions import ConnectionClosed

from adapters.ledger import models as m
from adapters.simserver import ThreadedServer
from gateway.domain.clock import today, utcnow
from gateway.domain.terms import CURRENT_TERMS_VERSION
from resolvers.common import ids
from resolvers.schema import build_schema
from tests.api.test_auth import claims_for, sign
from tests.api.test_overview import codes
from tests.conftest import ANNA, DAVID, Api, build_api
from tests.wsclient import served, subscriptions

CASEWORKER = "cw-1001"
NOBODY = "0101011234"  # a valid CPR that no citizen has
SECRET = "test-webhook-secret"

OWNER, OTHER, STAFF, READER, ANONYMOUS, EXPIRED = "owner", "other", "caseworker", "reader", "anonymous", "expired"
VIEWERS = (OWNER, OTHER, STAFF, READER, ANONYMOUS, EXPIRED)

# Anna's claims, each with one part in the world (so that the mutations' cells do not trip over each other).
FREE_CLAIM = "RK-DAG-2025-0412"  # in nothing: the mutations' rows plan, pay and enrol it
PENDING_PLAN_CLAIM = "RK-EJD-2025-1187"  # in the plan waiting for approval
ACTIVE_PLAN_CLAIM = "RK-BIL-2024-0077"  # in the active plan (drawn, enrolled in Betalingsservice, paid on)
ANNAS_SECRETS = (
    *("Anna Jensen", ANNA, f"{ANNA[:6]}-{ANNA[6:]}", "Lønkonto"),
    *(FREE_CLAIM, PENDING_PLAN_CLAIM, ACTIVE_PLAN_CLAIM),
)


# --- outcomes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    logged: bool = False  # a caseworker's answer adds a row to Anna's access log

    def __str__(self) -> str:
        return "LOGGED" if self.logged else "DATA"


@dataclass(frozen=True)
class Null:
    def __str__(self) -> str:
        return "NULL"


@dataclass(frozen=True)
class Refused:
    code: str

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class UserError:
    code: str

    def __str__(self) -> str:
        return f"userError {self.code}"


@dataclass(frozen=True)
class Bug:
    """A cell that is wrong today: ``expected`` is what it must be (a strict xfail until it is)."""

    expected: Outcome
    reason: str


Outcome = Data | Null | Refused | UserError
DATA, LOGGED, NULL = Data(), Data(logged=True), Null()
FORBIDDEN, UNAUTHENTICATED = Refused("FORBIDDEN"), Refused("UNAUTHENTICATED")


def user_error(code: str) -> UserError:
    return UserError(code)


def bug(expected: Outcome, reason: str) -> Bug:
    assert reason.startswith("BUG: ")
    return Bug(expected, reason)


def expect(
    *,
    owner: Outcome | Bug,
    other: Outcome | Bug,
    caseworker: Outcome | Bug,
    reader: Outcome | Bug | None = None,
    anonymous: Outcome | Bug = UNAUTHENTICATED,
    expired: Outcome | Bug = UNAUTHENTICATED,
) -> dict[str, Outcome | Bug]:
    """The cells of one row; ``reader`` None: as the caseworker (``Row`` makes it FORBIDDEN for a mutation)."""
    cells = {OWNER: owner, OTHER: other, STAFF: caseworker, ANONYMOUS: anonymous, EXPIRED: expired}
    return cells | ({READER: reader} if reader is not None else {})


# --- the world: Anna's objects of every kind --------------------------------------------------------------


def key() -> str:
    return f"matrix-{uuid.uuid4().hex}"


@dataclass
class World:
    ids: dict[str, str]  # Anna's objects: Node type (or "AccessLogEntry about nobody") -> global ID
    claims: dict[str, str]  # reference -> global ID
    mobilepay_account: str  # Anna's "Lønkonto"
    own_claim: dict[str, str] = field(default_factory=dict)  # viewer -> a claim of the viewer's own (citizens)
    anna_pk: int = 0
    pending_plan_pk: int = 0
    replayed_key: str = field(default_factory=key)  # the idempotency key of Anna's payment in the replay row


@pytest.fixture
async def api(migrated: str, gaeldst_sim: ThreadedServer, payments_sim: ThreadedServer) -> AsyncIterator[Api]:
    """The ``api`` of conftest, with the payment provider's simulator (the owner's payments and enrolments)."""
    async with build_api(migrated, gaeldst_sim, payments_url=payments_sim.url, payments_webhook_secret=SECRET) as a:
        yield a


async def _pk(api: Api, stmt: Any) -> int:
    async with api.services.db.read() as conn:
        value: int = (await conn.execute(stmt)).scalar_one()
        return value


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api)


@pytest.fixture(scope="module")
async def reads(migrated: str, gaeldst_sim: ThreadedServer) -> AsyncIterator[tuple[Api, list[World]]]:
    """One gateway and one world for every read cell: reads change nothing but the access log, which each cell
    counts before and after. Rate limits off: the cells are many requests, and the limits have their own tests."""
    async with build_api(migrated, gaeldst_sim, rate_limit_enabled=False) as shared:
        yield shared, [await build_world(shared)]


async def build_world(api: Api) -> World:
    """Anna's objects of every kind, written to the ledger as the workflows leave them."""
    anna = await _pk(api, select(m.Citizen.id).where(m.Citizen.cpr == ANNA))
    pending_claim = await _pk(api, select(m.Claim.id).where(m.Claim.reference == PENDING_PLAN_CLAIM))
    active_claim = await _pk(api, select(m.Claim.id).where(m.Claim.reference == ACTIVE_PLAN_CLAIM))
    now, day0 = utcnow(), today()
    async with api.services.db.transaction() as conn:

        async def add(model: Any, **values: Any) -> int:
            pk: int = (await conn.execute(insert(model).values(**values).returning(model.id))).scalar_one()
            return pk

        async def plan(status: str, claim: int) -> tuple[int, list[int]]:
            plan_id = await add(
                m.InstallmentPlan,
                citizen_id=anna,
                status=status,
                principal_oere=105_000,
                monthly_amount_oere=35_000,
                months=3,
                day_of_month=1,
                excludes_future_interest=False,
                assessment_requested=status == "PENDING_APPROVAL",
                terms_accepted_at=now,
                created_by="citizen:matrix",
                created_at=now,
            )
            outstanding = await conn.scalar(select(m.Claim.original_amount_oere).where(m.Claim.id == claim))
            await conn.execute(
                insert(m.PlanClaim).values(
                    plan_id=plan_id, claim_id=claim, outstanding_oere=outstanding, live_claim_id=claim
                )
            )
            installments = [
                await add(
                    m.Installment, plan_id=plan_id, number=n, due_on=day0 + timedelta(days=30 * n), amount_oere=35_000
                )
                for n in (1, 2, 3)
            ]
            return plan_id, installments

        pending, _ = await plan("PENDING_APPROVAL", pending_claim)
        active, installments = await plan("ACTIVE", active_claim)
        draw = await add(
            m.Draw,
            draw_key=f"installment:{installments[0]}",
            citizen_id=anna,
            plan_id=active,
            installment_id=installments[0],
            channel="INVOICE",
            status="INVOICED",
            amount_oere=35_000,
            due_on=day0 + timedelta(days=30),
            created_at=now,
            updated_at=now,
        )
        # No provider reference yet (the provider was not reached): stopping it needs no call to the provider.
        # Pending for 20 days, so it is also an item of the PENDING_ENROLMENTS work queue (resolveWorkQueueItem).
        enrolment = await add(
            m.Enrolment,
            citizen_id=anna,
            kind="BETALINGSSERVICE",
            status="PENDING",
            plan_id=active,
            live_plan_id=active,
            requested_at=now - timedelta(days=20),
        )
        payment = await add(
            m.Payment,
            citizen_id=anna,
            method="CARD",
            status="CAPTURED",
            amount_oere=10_000,
            provider_ref=f"pay-{uuid.uuid4().hex[:16]}",
            return_url="https://app.example/return",
            created_at=now,
            updated_at=now,
            captured_at=now,
        )
        await conn.execute(insert(m.PaymentClaim).values(payment_id=payment, claim_id=active_claim))
        item = await add(
            m.CaseworkerItem,
            kind="DRAW_FAILED",
            dedupe_key=f"matrix:{uuid.uuid4().hex}",
            citizen_id=anna,
            plan_id=active,
            draw_id=draw,
            created_at=now,
        )
    # Access-log entries: one about Anna, one about a look-up that found nobody (caseworkers only).
    for cpr in (ANNA, NOBODY):
        body = await api.gql("query($c: String!) { citizen(cpr: $c) { id } }", {"c": cpr}, caseworker=CASEWORKER)
        assert "errors" not in body, body
    logged = await _pk(api, select(func.max(m.AccessLogEntry.id)).where(m.AccessLogEntry.citizen_id == anna))
    about_nobody = await _pk(api, select(func.max(m.AccessLogEntry.id)).where(m.AccessLogEntry.citizen_id.is_(None)))

    mine = (
        await api.gql(
            "{ me { id claims { nodes { id reference sender { id } } } mobilePayAccounts { id name } } }", citizen=ANNA
        )
    )["data"]["me"]
    davids = (await api.gql("{ me { claims { nodes { id } } } }", citizen=DAVID))["data"]["me"]
    claims = {c["reference"]: c["id"] for c in mine["claims"]["nodes"]}
    return World(
        ids={
            "Citizen": mine["id"],
            "Claim": claims[FREE_CLAIM],
            "Department": mine["claims"]["nodes"][0]["sender"]["id"],
            "InstallmentPlan": ids.encode("InstallmentPlan", pending),
            "Installment": ids.encode("Installment", installments[0]),
            "Draw": ids.encode("Draw", draw),
            "PaymentMethod": ids.encode("PaymentMethod", enrolment),
            "Payment": ids.encode("Payment", payment),
            "MobilePayAccount": next(a["id"] for a in mine["mobilePayAccounts"] if a["name"] == "Lønkonto"),
            "AccessLogEntry": ids.encode("AccessLogEntry", logged),
            "CaseworkerItem": ids.encode("CaseworkerItem", item),
            "AccessLogEntry about nobody": ids.encode("AccessLogEntry", about_nobody),
            "WorkQueueItem": ids.encode_compound("WorkQueueItem", "PENDING_ENROLMENTS", enrolment, 0),
        },
        claims=claims,
        mobilepay_account=next(a["id"] for a in mine["mobilePayAccounts"] if a["name"] == "Lønkonto"),
        own_claim={OWNER: claims[FREE_CLAIM], OTHER: davids["claims"]["nodes"][0]["id"]},
        anna_pk=anna,
        pending_plan_pk=pending,
    )


# --- the rows ---------------------------------------------------------------------------------------------

Variables = Callable[[World, str], dict[str, Any]]
Prepare = Callable[[Api, World], Awaitable[None]]


@dataclass(frozen=True)
class Row:
    name: str
    document: str
    field: str  # the root field whose value is judged
    cells: dict[str, Outcome | Bug]
    variables: Variables = lambda w, v: {}
    prepare: Prepare | None = None  # run before the cell's request (write rows only)

    def __post_init__(self) -> None:
        if READER not in self.cells:  # a read-only caseworker reads what a caseworker reads, and never writes
            self.cells[READER] = FORBIDDEN if self.writes else self.cells[STAFF]

    @property
    def writes(self) -> bool:
        return self.document.lstrip().startswith("mutation")

    @property
    def subscribes(self) -> bool:
        return self.document.lstrip().startswith("subscription")


# What each Node type reveals about its citizen (kept cheap: anonymous requests have a small cost budget, and the
# cost limit is checked before authentication is).
NODE_FIELDS = {
    "Citizen": "name cpr totalOutstanding { amountOere } claims(first: 5) { nodes { reference } } "
    "installmentPlans(first: 5) { nodes { id } } paymentMethods(first: 5) { nodes { id } } "
    "payments(first: 5) { nodes { id } } mobilePayAccounts { name } accessLog(first: 5) { nodes { actorId } }",
    "Claim": "reference outstanding { amountOere } statement { balance { amountOere } } installmentPlan { id } "
    "automaticPayment { id } eligibility { canPay }",
    "Department": "code name",
    "InstallmentPlan": "status principal { amountOere } citizen { cpr name } claims { reference } "
    "installments { number } paymentMethod { id } nextDraw { id }",
    "Installment": "number amount { amountOere } status draw { id }",
    "Draw": "status dueOn amount { amountOere }",
    "PaymentMethod": "kind status claims { reference } installmentPlan { id } mobilePayAccount { name }",
    "Payment": "method status amount { amountOere } claims { reference } allocations { amount { amountOere } }",
    "MobilePayAccount": "name maskedNumber",
    "AccessLogEntry": "actorId operation at",
    "CaseworkerItem": "kind citizen { cpr name } installmentPlan { id } draw { id }",
}


def node_document(type_name: str, many: bool) -> str:
    selection = f"__typename id ... on {type_name} {{ {NODE_FIELDS[type_name]} }}"
    if many:
        return f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {selection} }} }}"
    return f"query($id: ID!) {{ node(id: $id) {{ {selection} }} }}"


# node(id:) and nodes(ids:) with one of Anna's objects of each type.
NODE_ROWS: dict[str, dict[str, Outcome | Bug]] = {
    "Citizen": expect(owner=DATA, other=NULL, caseworker=LOGGED),
    "Claim": expect(owner=DATA, other=NULL, caseworker=LOGGED),
    "Department": expect(owner=DATA, other=DATA, caseworker=DATA),  # public: whom a bill is from
    "InstallmentPlan": expect(owner=DATA, other=NULL, caseworker=LOGGED),
    "Installment": expect(owner=DATA, other=NULL, caseworker=LOGGED),
    "Draw": expect(owner=DATA, other=NULL, caseworker=LOGGED),
    "PaymentMethod": expect(owner=DATA, other=NULL, caseworker=LOGGED),
    "Payment": expect(owner=DATA, other=NULL, caseworker=LOGGED),
    "MobilePayAccount": expect(owner=DATA, other=NULL, caseworker=LOGGED),
    "AccessLogEntry": expect(owner=DATA, other=NULL, caseworker=LOGGED),
    # Betalingskontoret's work queue: staff only, also for the citizen it is about (its citizen field is logged).
    "CaseworkerItem": expect(owner=NULL, other=NULL, caseworker=LOGGED),
    # A look-up that found nobody is about no citizen: staff only, and nobody's access log gets a row.
    "AccessLogEntry about nobody": expect(owner=NULL, other=NULL, caseworker=DATA),
}

START_PAYMENT = (
    "mutation($input: StartPaymentInput!) { startPayment(input: $input) "
    "{ payment { id status amount { amountOere } } userErrors { code field } } }"
)


def pay_free_claim(w: World, idempotency_key: str) -> dict[str, Any]:
    return {
        "input": {
            "claimIds": [w.claims[FREE_CLAIM]],
            "method": "CARD",
            "returnUrl": "https://app.example/return",
            "idempotencyKey": idempotency_key,
        }
    }


async def anna_paid_with_davids_subject(api: Api, w: World) -> None:
    """Anna starts a payment with the world's ``replayed_key`` through a token whose subject is the one David's
    token has (two people, one subject): idempotency keys belong to people, so David replaying the key gets nothing
    of hers."""
    davids_subject = jwt.decode(api.token(citizen=DAVID), options={"verify_signature": False})["sub"]
    token = sign(api, claims_for(api, cpr=ANNA, sub=davids_subject))
    body = (await api.post(START_PAYMENT, pay_free_claim(w, w.replayed_key), token=token)).json()
    assert "errors" not in body and body["data"]["startPayment"]["userErrors"] == [], body


def on_behalf(w: World, **fields: Any) -> dict[str, Any]:
    """The input of an action on Anna's behalf: her citizen ID, a purpose, and the action's own fields."""
    return {"input": {"citizenId": w.ids["Citizen"], "purpose": "Anna ringede (matrix)", **fields}}


async def counter_offered(api: Api, w: World) -> None:
    """Anna's pending plan, counter-offered by a caseworker (as counterOfferInstallmentPlan leaves it)."""
    async with api.services.db.transaction() as conn:
        await conn.execute(
            update(m.InstallmentPlan)
            .where(m.InstallmentPlan.id == w.pending_plan_pk)
            .values(
                status="COUNTER_OFFERED",
                assessment_outcome="COUNTER_OFFERED",
                counter_offer_monthly_oere=40_000,
                counter_offer_months=3,
            )
        )


def one_id(name: str) -> Variables:
    return lambda w, v: {"id": w.ids[name]}


def id_list(name: str) -> Variables:
    return lambda w, v: {"ids": [w.ids[name]]}


PLAN_PAYLOAD = "{ plan { id status } userErrors { code field } }"
METHOD_PAYLOAD = "{ paymentMethod { id status } userErrors { code field } }"

ROWS: list[Row] = [
    # --- root query fields ---
    Row(
        "me",
        "{ me { id cpr name claims(first: 5) { nodes { reference } } } }",
        "me",
        # The other citizen gets their own record, never Anna's (checked by the leak check).
        expect(owner=DATA, other=DATA, caseworker=NULL),
    ),
    Row(
        "citizen(cpr:)",
        "query($cpr: String!) { citizen(cpr: $cpr) { id cpr name claims(first: 5) { nodes { reference } } } }",
        "citizen",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=LOGGED),
        lambda w, v: {"cpr": ANNA},
    ),
    Row(
        "contacts",
        "{ contacts { paymentsOffice { phone } departments { code name } } }",
        "contacts",
        # Public; a bad token still fails the whole request.
        expect(owner=DATA, other=DATA, caseworker=DATA, anonymous=DATA),
    ),
    Row(
        "previewInstallmentPlan",
        "query($input: InstallmentPlanInput!) { previewInstallmentPlan(input: $input) { allowed principal "
        "{ amountOere } violations { code field } } }",
        "previewInstallmentPlan",
        # Someone else's claim is refused as one that does not exist.
        expect(owner=DATA, other=user_error("CLAIM_NOT_FOUND"), caseworker=FORBIDDEN),
        lambda w, v: {"input": {"claimIds": [w.claims[FREE_CLAIM]], "monthlyAmount": "500", "dayOfMonth": 1}},
    ),
    Row(
        "installmentPlansAwaitingApproval",
        "{ installmentPlansAwaitingApproval(first: 5) { totalCount nodes { id citizen { cpr name } } } }",
        "installmentPlansAwaitingApproval",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=LOGGED),
    ),
    Row(
        "caseworkerItems",
        "{ caseworkerItems(first: 5) { totalCount nodes { id kind citizen { cpr name } } } }",
        "caseworkerItems",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=LOGGED),
    ),
    Row(
        "caseworkerItems(plan, not citizen)",
        "{ caseworkerItems(first: 5) { nodes { id installmentPlan { principal { amountOere } claims { reference "
        "outstanding { amountOere } } } draw { amount { amountOere } } } } }",
        "caseworkerItems",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=LOGGED),
    ),
    Row(
        "node(CaseworkerItem: plan, not citizen)",
        "query($id: ID!) { node(id: $id) { id ... on CaseworkerItem { kind installmentPlan { claims { reference } } "
        "draw { amount { amountOere } } } } }",
        "node",
        expect(
            owner=NULL,
            other=NULL,
            caseworker=LOGGED,
        ),
        one_id("CaseworkerItem"),
    ),
    # --- the caseworker's workplace (issue 12): reading only ---
    Row(
        "portfolio",
        "query($from: Date!, $to: Date!) { portfolio { claims { count outstanding { amountOere } byDepartment "
        "{ count } } plans { byStatus { status count } } installments(from: $from, to: $to) { due { count } } "
        "enrolments { byKindAndStatus { count } } payments { byStatus { count } } } }",
        "portfolio",
        # Figures only: no citizen in them, so nothing is logged.
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=DATA, reader=DATA),
        lambda w, v: {"from": today().isoformat(), "to": (today() + timedelta(days=90)).isoformat()},
    ),
    Row(
        "workQueue",
        "query($f: WorkQueueFilter) { workQueue(queue: AWAITING_ASSESSMENT, filter: $f, first: 5) { totalCount "
        "nodes { citizen { id name maskedCpr } installmentPlan { id } } } }",
        "workQueue",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=LOGGED),
        lambda w, v: {"f": {"citizenId": w.ids["Citizen"]}},
    ),
    Row(
        "searchCitizens",
        "query($cpr: String!) { searchCitizens(by: CPR, text: $cpr, first: 5) { nodes { id name maskedCpr } } }",
        "searchCitizens",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=LOGGED),
        lambda w, v: {"cpr": ANNA},
    ),
    # --- every Node type, through node(id:) and nodes(ids:) ---
    *(
        Row(
            f"node({name})",
            node_document(name.split()[0], False),
            "node",
            cells,
            one_id(name),
        )
        for name, cells in NODE_ROWS.items()
    ),
    *(
        Row(
            f"nodes({name})",
            node_document(name.split()[0], True),
            "nodes",
            cells,
            id_list(name),
        )
        for name, cells in NODE_ROWS.items()
    ),
    # --- subscriptions: node's rule, over a WebSocket ---
    Row(
        "paymentUpdated",
        "subscription($id: ID!) { paymentUpdated(id: $id) { id status amount { amountOere } claims { reference } } }",
        "paymentUpdated",
        expect(owner=DATA, other=NULL, caseworker=LOGGED),
        lambda w, v: {"id": w.ids["Payment"]},
    ),
    Row(
        "paymentMethodUpdated",
        "subscription($id: ID!) { paymentMethodUpdated(id: $id) { id status claims { reference } } }",
        "paymentMethodUpdated",
        expect(owner=DATA, other=NULL, caseworker=LOGGED),
        lambda w, v: {"id": w.ids["PaymentMethod"]},
    ),
    Row(
        "installmentPlanUpdated",
        "subscription($id: ID!) { installmentPlanUpdated(id: $id) { id status citizen { cpr name } "
        "claims { reference } } }",
        "installmentPlanUpdated",
        expect(owner=DATA, other=NULL, caseworker=LOGGED),
        lambda w, v: {"id": w.ids["InstallmentPlan"]},
    ),
    # --- mutations ---
    Row(
        "createInstallmentPlan",
        f"mutation($input: CreateInstallmentPlanInput!) {{ createInstallmentPlan(input: $input) {PLAN_PAYLOAD} }}",
        "createInstallmentPlan",
        expect(owner=DATA, other=user_error("CLAIM_NOT_FOUND"), caseworker=FORBIDDEN),
        lambda w, v: {
            "input": {
                "claimIds": [w.claims[FREE_CLAIM]],
                "monthlyAmount": "500",
                "dayOfMonth": 1,
                "acceptTerms": True,
                "idempotencyKey": key(),
            }
        },
    ),
    Row(
        "approveInstallmentPlan",
        f"mutation($input: ApproveInstallmentPlanInput!) {{ approveInstallmentPlan(input: $input) {PLAN_PAYLOAD} }}",
        "approveInstallmentPlan",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: {"input": {"planId": w.ids["InstallmentPlan"], "note": "assessed", "idempotencyKey": key()}},
    ),
    Row(
        "cancelInstallmentPlan",
        f"mutation($input: CancelInstallmentPlanInput!) {{ cancelInstallmentPlan(input: $input) {PLAN_PAYLOAD} }}",
        "cancelInstallmentPlan",
        # The citizen's own; a caseworker cancels with a purpose (cancelInstallmentPlanOnBehalf). Another citizen's
        # plan looks like no plan.
        expect(owner=DATA, other=user_error("PLAN_NOT_FOUND"), caseworker=FORBIDDEN, reader=FORBIDDEN),
        lambda w, v: {"input": {"planId": w.ids["InstallmentPlan"], "idempotencyKey": key()}},
    ),
    Row(
        "startPayment",
        START_PAYMENT,
        "startPayment",
        expect(owner=DATA, other=user_error("CLAIM_NOT_FOUND"), caseworker=FORBIDDEN),
        lambda w, v: pay_free_claim(w, key()),
    ),
    Row(
        "startPayment(replaying Anna's idempotency key)",
        START_PAYMENT,
        "startPayment",
        # The owner gets her payment again; the other citizen, whose token has the subject hers had, gets a
        # request of their own evaluated (issue 11, defect 4).
        expect(owner=DATA, other=user_error("CLAIM_NOT_FOUND"), caseworker=FORBIDDEN),
        lambda w, v: pay_free_claim(w, w.replayed_key),
        prepare=anna_paid_with_davids_subject,
    ),
    Row(
        "enrolAutomaticPayment(claimIds)",
        f"mutation($input: EnrolAutomaticPaymentInput!) {{ enrolAutomaticPayment(input: $input) {METHOD_PAYLOAD} }}",
        "enrolAutomaticPayment",
        expect(owner=DATA, other=user_error("CLAIM_NOT_FOUND"), caseworker=FORBIDDEN),
        lambda w, v: {
            "input": {"kind": "BETALINGSSERVICE", "claimIds": [w.claims[FREE_CLAIM]], "idempotencyKey": key()}
        },
    ),
    Row(
        "enrolAutomaticPayment(planId)",
        f"mutation($input: EnrolAutomaticPaymentInput!) {{ enrolAutomaticPayment(input: $input) {METHOD_PAYLOAD} }}",
        "enrolAutomaticPayment",
        expect(owner=DATA, other=user_error("PLAN_NOT_FOUND"), caseworker=FORBIDDEN),
        lambda w, v: {
            "input": {"kind": "BETALINGSSERVICE", "planId": w.ids["InstallmentPlan"], "idempotencyKey": key()}
        },
    ),
    Row(
        "enrolAutomaticPayment(mobilePayAccountId)",
        f"mutation($input: EnrolAutomaticPaymentInput!) {{ enrolAutomaticPayment(input: $input) {METHOD_PAYLOAD} }}",
        "enrolAutomaticPayment",
        # The other citizen enrols a claim of their own on Anna's MobilePay account.
        expect(owner=DATA, other=user_error("MOBILEPAY_ACCOUNT_NOT_FOUND"), caseworker=FORBIDDEN),
        lambda w, v: {
            "input": {
                "kind": "MOBILEPAY_SUBSCRIPTION",
                "claimIds": [w.own_claim.get(v, w.claims[FREE_CLAIM])],
                "mobilePayAccountId": w.mobilepay_account,
                "returnUrl": "https://app.example/return",
                "idempotencyKey": key(),
            }
        },
    ),
    Row(
        "stopAutomaticPayment",
        f"mutation($input: StopAutomaticPaymentInput!) {{ stopAutomaticPayment(input: $input) {METHOD_PAYLOAD} }}",
        "stopAutomaticPayment",
        expect(owner=DATA, other=user_error("PAYMENT_METHOD_NOT_FOUND"), caseworker=FORBIDDEN),
        lambda w, v: {"input": {"paymentMethodId": w.ids["PaymentMethod"], "idempotencyKey": key()}},
    ),
    # --- the individual assessment that can say no, and the terms (issue 12) ---
    Row(
        "planTerms",
        "{ planTerms { version text current } }",
        "planTerms",
        # Public, like contacts: the terms are read before signing in; a bad token still fails the request.
        expect(owner=DATA, other=DATA, caseworker=DATA, anonymous=DATA),
    ),
    Row(
        "rejectInstallmentPlan",
        f"mutation($input: RejectInstallmentPlanInput!) {{ rejectInstallmentPlan(input: $input) {PLAN_PAYLOAD} }}",
        "rejectInstallmentPlan",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: {
            "input": {
                "planId": w.ids["InstallmentPlan"],
                "note": "assessed",
                "messageToCitizen": "Indkomsten rækker til 18 måneder.",
                "idempotencyKey": key(),
            }
        },
    ),
    Row(
        "counterOfferInstallmentPlan",
        "mutation($input: CounterOfferInstallmentPlanInput!) { counterOfferInstallmentPlan(input: $input) "
        f"{PLAN_PAYLOAD} }}",
        "counterOfferInstallmentPlan",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: {
            "input": {
                "planId": w.ids["InstallmentPlan"],
                "monthlyAmount": "400.00",
                "note": "assessed",
                "messageToCitizen": "Vi kan tilbyde 400 kr. om måneden.",
                "idempotencyKey": key(),
            }
        },
    ),
    Row(
        "acceptCounterOffer",
        f"mutation($input: AcceptCounterOfferInput!) {{ acceptCounterOffer(input: $input) {PLAN_PAYLOAD} }}",
        "acceptCounterOffer",
        expect(owner=DATA, other=user_error("PLAN_NOT_FOUND"), caseworker=FORBIDDEN, reader=FORBIDDEN),
        lambda w, v: {"input": {"planId": w.ids["InstallmentPlan"], "acceptTerms": True, "idempotencyKey": key()}},
        prepare=lambda api, w: counter_offered(api, w),
    ),
    Row(
        "declineCounterOffer",
        f"mutation($input: DeclineCounterOfferInput!) {{ declineCounterOffer(input: $input) {PLAN_PAYLOAD} }}",
        "declineCounterOffer",
        expect(owner=DATA, other=user_error("PLAN_NOT_FOUND"), caseworker=FORBIDDEN, reader=FORBIDDEN),
        lambda w, v: {"input": {"planId": w.ids["InstallmentPlan"], "idempotencyKey": key()}},
        prepare=lambda api, w: counter_offered(api, w),
    ),
    # --- a caseworker acting on Anna's behalf, by phone (issue 12): acting caseworkers only, logged with a purpose ---
    Row(
        "previewInstallmentPlanOnBehalf",
        "query($input: PreviewInstallmentPlanOnBehalfInput!) { previewInstallmentPlanOnBehalf(input: $input) "
        "{ allowed principal { amountOere } violations { code field } } }",
        "previewInstallmentPlanOnBehalf",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: on_behalf(w, plan={"claimIds": [w.claims[FREE_CLAIM]], "monthlyAmount": "500", "dayOfMonth": 1}),
    ),
    Row(
        "createInstallmentPlanOnBehalf",
        "mutation($input: CreateInstallmentPlanOnBehalfInput!) { createInstallmentPlanOnBehalf(input: $input) "
        f"{PLAN_PAYLOAD} }}",
        "createInstallmentPlanOnBehalf",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: on_behalf(
            w,
            plan={
                "claimIds": [w.claims[FREE_CLAIM]],
                "monthlyAmount": "500",
                "dayOfMonth": 1,
                "acceptTerms": True,
                "termsVersion": CURRENT_TERMS_VERSION,
                "idempotencyKey": key(),
            },
        ),
    ),
    Row(
        "cancelInstallmentPlanOnBehalf",
        "mutation($input: CancelInstallmentPlanOnBehalfInput!) { cancelInstallmentPlanOnBehalf(input: $input) "
        f"{PLAN_PAYLOAD} }}",
        "cancelInstallmentPlanOnBehalf",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: on_behalf(w, planId=w.ids["InstallmentPlan"], idempotencyKey=key()),
    ),
    Row(
        "enrolAutomaticPaymentOnBehalf",
        "mutation($input: EnrolAutomaticPaymentOnBehalfInput!) { enrolAutomaticPaymentOnBehalf(input: $input) "
        f"{METHOD_PAYLOAD} }}",
        "enrolAutomaticPaymentOnBehalf",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: on_behalf(
            w,
            enrolment={"kind": "BETALINGSSERVICE", "claimIds": [w.claims[FREE_CLAIM]], "idempotencyKey": key()},
        ),
    ),
    Row(
        "stopAutomaticPaymentOnBehalf",
        "mutation($input: StopAutomaticPaymentOnBehalfInput!) { stopAutomaticPaymentOnBehalf(input: $input) "
        f"{METHOD_PAYLOAD} }}",
        "stopAutomaticPaymentOnBehalf",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: on_behalf(w, paymentMethodId=w.ids["PaymentMethod"], idempotencyKey=key()),
    ),
    Row(
        "resolveWorkQueueItem",
        "mutation($input: ResolveWorkQueueItemInput!) { resolveWorkQueueItem(input: $input) "
        "{ item { id citizen { id name maskedCpr } resolution { note } } userErrors { code field } } }",
        "resolveWorkQueueItem",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: {"input": {"itemId": w.ids["WorkQueueItem"], "note": "Ringet op.", "idempotencyKey": key()}},
    ),
    Row(
        "sendPaymentLink",
        "mutation($input: SendPaymentLinkInput!) { sendPaymentLink(input: $input) "
        "{ paymentRequest { link claims { id } totalOutstanding { amountOere } } userErrors { code field } } }",
        "sendPaymentLink",
        expect(owner=FORBIDDEN, other=FORBIDDEN, caseworker=LOGGED, reader=FORBIDDEN),
        lambda w, v: on_behalf(w, claimIds=[w.claims[FREE_CLAIM]], idempotencyKey=key()),
    ),
]


def _cells(*, writes: bool) -> list[Any]:
    params = []
    for row in (r for r in ROWS if r.writes == writes):
        assert set(row.cells) == set(VIEWERS), row.name
        for viewer, cell in row.cells.items():
            marks = [pytest.mark.xfail(strict=True, reason=cell.reason)] if isinstance(cell, Bug) else []
            expected = cell.expected if isinstance(cell, Bug) else cell
            params.append(pytest.param(row, viewer, expected, id=f"{row.name}-{viewer}-{expected}", marks=marks))
    return params


# --- running a cell ---------------------------------------------------------------------------------------


def token_of(api: Api, viewer: str) -> str | None:
    if viewer == OWNER:
        return api.token(citizen=ANNA)
    if viewer == OTHER:
        return api.token(citizen=DAVID)
    if viewer == STAFF:
        return api.token(caseworker=CASEWORKER)
    if viewer == READER:
        return api.token(caseworker=CASEWORKER, read_only=True)
    if viewer == EXPIRED:
        now = int(time.time())
        return sign(api, claims_for(api, cpr=ANNA, iat=now - 7200, exp=now - 3600))
    return None


async def caseworker_rows_about_anna(api: Api, world: World) -> int:
    stmt = select(func.count()).where(
        m.AccessLogEntry.citizen_id == world.anna_pk, m.AccessLogEntry.actor_kind == "CASEWORKER"
    )
    return await _pk(api, stmt)


def check(expected: Outcome, body: dict[str, Any], field_name: str, variables: dict[str, Any]) -> None:
    data = body.get("data")
    value = data.get(field_name) if isinstance(data, dict) else None
    if isinstance(expected, Refused):
        assert codes(body) == [expected.code], body
        assert value is None, body
        return
    assert "errors" not in body, body
    if isinstance(expected, Null):
        assert value is None or (isinstance(value, list) and all(v is None for v in value)), body
        return
    assert value is not None, body
    if isinstance(expected, Data):
        if field_name == "node":
            assert value["id"] == variables["id"], body
        elif field_name == "nodes":
            assert [v and v["id"] for v in value] == variables["ids"], body
        elif "userErrors" in value:  # a mutation's payload: no refusal, and the object
            assert value["userErrors"] == [], body
            assert all(v is not None for v in value.values()), body
        elif "violations" in value:  # the plan preview
            assert value["violations"] == [], body
    elif "userErrors" in value:  # a mutation's refusal: the code, and no object
        assert expected.code in [e["code"] for e in value["userErrors"]], body
        assert all(v is None for k, v in value.items() if k != "userErrors"), body
    else:  # the plan preview's; not even the sum of what the claims owe shows
        assert expected.code in [e["code"] for e in value["violations"]], body
        assert value["principal"]["amountOere"] == 0, body


async def first_event(api: Api, row: Row, token: str | None, variables: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A subscription's first event (as a response body) and everything the server sent, over a WebSocket. A
    connection refused at connection_init (4403) is the subscription's UNAUTHENTICATED."""
    async with served(api.app) as url, subscriptions(url) as ws:
        await ws.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"} if token else {}})
        try:
            ack = await ws.next_message()
        except ConnectionClosed:
            ack = None
        if ack is None or ack["type"] != "connection_ack":
            code, reason = await ws.closed()
            assert (code, reason) == (4403, "Forbidden"), (ack, code, reason)
            error = {"message": reason, "extensions": {"code": "UNAUTHENTICATED"}}
            return {"data": None, "errors": [error]}, reason
        await ws.subscribe("cell", row.document, variables)
        message = await ws.next_message()
        assert message["type"] == "next", message
        return message["payload"], str(message)


async def run_cell(api: Api, world: World, row: Row, viewer: str, expected: Outcome) -> None:
    if row.prepare is not None:
        await row.prepare(api, world)
    logged_before = await caseworker_rows_about_anna(api, world)
    variables = row.variables(world, viewer)
    if row.subscribes:
        body, text = await first_event(api, row, token_of(api, viewer), variables)
    else:
        response = await api.post(row.document, variables, token=token_of(api, viewer))
        assert response.status_code in (200, 401), response.text
        body, text = response.json(), response.text
    field = row.field
    if row.subscribes:  # the object watched is judged as node(id:) would be
        data = body.get("data")
        body, field = {**body, "data": {"node": data.get(row.field)} if isinstance(data, dict) else None}, "node"
    check(expected, body, field, variables)
    if viewer not in (OWNER, STAFF, READER):
        for secret in ANNAS_SECRETS:
            assert secret not in text, (secret, text)
    added = await caseworker_rows_about_anna(api, world) - logged_before
    if isinstance(expected, Data) and expected.logged:
        assert added >= 1, "a caseworker's read of Anna's data must be in her access log"
    else:
        assert added == 0, f"{added} access-log rows about Anna for a read that is not a caseworker's look-up"


@pytest.mark.parametrize(("row", "viewer", "expected"), _cells(writes=False))
async def test_read(reads: tuple[Api, list[World]], row: Row, viewer: str, expected: Outcome) -> None:
    api, worlds = reads
    plan = select(func.count()).where(m.InstallmentPlan.id == worlds[0].pending_plan_pk)
    if not await _pk(api, plan):  # another test re-seeded the demo citizens in between
        worlds[0] = await build_world(api)
    await run_cell(api, worlds[0], row, viewer, expected)


@pytest.mark.parametrize(("row", "viewer", "expected"), _cells(writes=True))
async def test_write(api: Api, world: World, row: Row, viewer: str, expected: Outcome) -> None:
    """Each write cell in a world of its own."""
    await run_cell(api, world, row, viewer, expected)


def test_the_matrix_covers_the_schema() -> None:
    """Every root field, every mutation and every Node type has a row: a new operation needs one."""
    schema = build_schema()._schema
    query_type, mutation_type, subscription_type = schema.query_type, schema.mutation_type, schema.subscription_type
    assert query_type is not None and mutation_type is not None and subscription_type is not None
    covered = {row.field for row in ROWS}
    assert set(query_type.fields) - covered == set(), "root query fields without a row"
    assert set(mutation_type.fields) - covered == set(), "mutations without a row"
    assert set(subscription_type.fields) - covered == set(), "subscriptions without a row"
    node_types = {t.name for t in schema.get_possible_types(schema.get_type("Node"))}  # type: ignore[arg-type]
    assert node_types - set(NODE_ROWS) == set(), "Node types without node/nodes rows"
    assert node_types == set(NODE_FIELDS)
