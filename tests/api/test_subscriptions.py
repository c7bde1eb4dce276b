"""GraphQL subscriptions over a real WebSocket (graphql-transport-ws), on SQLite and PostgreSQL: a citizen sees
her payment, enrolment and plan change status live; who may watch what is ``node``'s rule; the protocol's error
cases and the limits; and, on PostgreSQL, an event raised in one ``gateway serve`` process reaching a subscriber
of another.

The gateway is served by uvicorn in the test's own event loop (``tests.wsclient.served``) on the ``api``
fixture's services, or is the ``live`` gateway (with the payment provider's simulator and its webhooks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tools.served_gateway import free_port, wait_until_healthy
from websockets.exceptions import InvalidStatus

from adapters.ledger import models as m
from adapters.simserver import ThreadedServer
from gateway.trusted_documents import document_id
from resolvers.common import ids
from tests.api.test_auth import claims_for, sign
from tests.api.test_payments_flow import ENROL, STOP, _provider_agreement_id, claims_of, click, start
from tests.conftest import ANNA, DAVID, Api, LiveGateway, build_api, ledger_for
from tests.wsclient import WAIT_SECONDS, served, subscriptions

PAYMENT = "subscription($id: ID!) { paymentUpdated(id: $id) { id status amount { amountOere } } }"
METHOD = "subscription($id: ID!) { paymentMethodUpdated(id: $id) { id status kind } }"
PLAN = "subscription($id: ID!) { installmentPlanUpdated(id: $id) { id status } }"

TRUSTED = Path(__file__).parents[2] / "src/gateway/trusted_documents"

CREATE_PLAN = """mutation($input: CreateInstallmentPlanInput!) { createInstallmentPlan(input: $input) {
  plan { id status } userErrors { code } } }"""
CANCEL_PLAN = """mutation($input: CancelInstallmentPlanInput!) { cancelInstallmentPlan(input: $input) {
  plan { id status } userErrors { code } } }"""


def data(event: dict[str, Any], field: str) -> Any:
    """The field's value in a ``next`` message or its payload (with no errors)."""
    payload = event["payload"] if event.get("type") == "next" else event
    assert "errors" not in payload, event
    return payload["data"][field]


def error_codes(payload: dict[str, Any]) -> list[str]:
    errors = payload.get("error") or payload.get("errors") or []
    return [e["extensions"]["code"] for e in errors]


@pytest.fixture
async def url(api: Api) -> AsyncIterator[str]:
    async with served(api.app) as served_url:
        yield served_url


async def davids_plan(api: Api) -> str:
    claims = (await api.gql("{ me { claims { nodes { id } } } }", citizen=DAVID))["data"]["me"]["claims"]["nodes"]
    variables = {
        "input": {
            "claimIds": [c["id"] for c in claims],
            "monthlyAmount": "700.00",
            "dayOfMonth": 1,
            "acceptTerms": True,
            "idempotencyKey": f"sub-{time.monotonic_ns()}",
        }
    }
    payload = (await api.gql(CREATE_PLAN, variables, citizen=DAVID))["data"]["createInstallmentPlan"]
    assert payload["userErrors"] == [] and payload["plan"]["status"] == "ACTIVE", payload
    return str(payload["plan"]["id"])


async def cancel(api: Api, plan_id: str, **viewer: str) -> None:
    variables = {"input": {"planId": plan_id, "idempotencyKey": f"cancel-{time.monotonic_ns()}"}}
    payload = (await api.gql(CANCEL_PLAN, variables, **viewer))["data"]["cancelInstallmentPlan"]
    assert payload["userErrors"] == [], payload


# --- live status ------------------------------------------------------------------------------------------------


async def test_a_citizen_sees_her_plan_end_without_asking_again(api: Api, url: str) -> None:
    plan = await davids_plan(api)
    async with subscriptions(url) as ws:
        assert await ws.init(api.token(citizen=DAVID)) == {"type": "connection_ack"}
        await ws.subscribe("plan", PLAN, {"id": plan})
        # First the plan as it is now, so nothing between reading the page and subscribing is missed.
        first = await ws.next_message()
        assert first == {
            "id": "plan",
            "type": "next",
            "payload": {"data": {"installmentPlanUpdated": {"id": plan, "status": "ACTIVE"}}},
        }
        await cancel(api, plan, citizen=DAVID)
        # CANCELLED is final: one event, then the subscription completes by itself.
        events = await ws.events("plan")
        assert [data(e, "installmentPlanUpdated")["status"] for e in events] == ["CANCELLED"]


async def test_a_payment_reaches_captured_through_the_providers_webhooks(live: LiveGateway) -> None:
    claims = await claims_of(live, ANNA)
    daycare = claims["RK-DAG-2025-0412"]
    payment = (await start(live, ANNA, [daycare["id"]], "sub-pay"))["payment"]
    async with subscriptions(live.url) as ws:
        await ws.init(live.token(citizen=ANNA))
        await ws.subscribe("p", PAYMENT, {"id": payment["id"]})
        first = data(await ws.next_message(), "paymentUpdated")
        assert first == {"id": payment["id"], "status": "CREATED", "amount": payment["amount"]}
        # The citizen approves in MobilePay; the provider's webhooks reach the gateway, which tells the subscriber.
        await click(live.client, payment["redirectUrl"], "Godkend")
        statuses = [data(e, "paymentUpdated")["status"] for e in await ws.events("p")]
    # Each status once, in order; AUTHORIZED may be passed over when both webhooks land before the read.
    assert statuses in (["AUTHORIZED", "CAPTURED"], ["CAPTURED"]), statuses


async def test_an_enrolment_is_seen_active_then_stopped(live: LiveGateway) -> None:
    david = await claims_of(live, DAVID)
    claim = next(iter(david.values()))
    enrolled = (
        await live.gql(
            ENROL,
            {"input": {"kind": "BETALINGSSERVICE", "claimIds": [claim["id"]], "idempotencyKey": "sub-bs"}},
            citizen=DAVID,
        )
    )["data"]["enrolAutomaticPayment"]
    method = enrolled["paymentMethod"]
    async with subscriptions(live.url) as ws:
        await ws.init(live.token(citizen=DAVID))
        await ws.subscribe("m", METHOD, {"id": method["id"]})
        assert data(await ws.next_message(), "paymentMethodUpdated")["status"] == "PENDING"
        # The bank accepts the mandate (the simulator's admin endpoint stands in for it); its webhook tells us.
        await live.provider("POST", f"/admin/agreements/{await _provider_agreement_id(live, method['id'])}/activate")
        active = await ws.next_message()
        assert data(active, "paymentMethodUpdated") == {
            "id": method["id"],
            "status": "ACTIVE",
            "kind": "BETALINGSSERVICE",
        }
        stopped = await live.gql(
            STOP, {"input": {"paymentMethodId": method["id"], "idempotencyKey": "sub-stop"}}, citizen=DAVID
        )
        assert stopped["data"]["stopAutomaticPayment"]["userErrors"] == []
        assert [data(e, "paymentMethodUpdated")["status"] for e in await ws.events("m")] == ["STOPPED"]


async def test_several_subscriptions_on_one_connection_each_get_their_own_object(api: Api, url: str) -> None:
    first, second = await davids_plan(api), None
    await cancel(api, first, citizen=DAVID)  # frees the claims for a second plan
    second = await davids_plan(api)
    async with subscriptions(url) as ws:
        await ws.init(api.token(citizen=DAVID))
        await ws.subscribe("ended", PLAN, {"id": first})
        await ws.subscribe("live", PLAN, {"id": second})
        seen: dict[str, list[str]] = {"ended": [], "live": []}
        while len(seen["live"]) < 1 or "ended" not in seen.get("done", []):
            message = await ws.next_message()
            if message["type"] == "complete":
                seen.setdefault("done", []).append(message["id"])
            else:
                seen[message["id"]].append(data(message, "installmentPlanUpdated")["status"])
        # An object already final is sent once and completed; the other stays open until it changes.
        assert seen["ended"] == ["CANCELLED"] and seen["live"] == ["ACTIVE"]
        await cancel(api, second, citizen=DAVID)
        assert [data(e, "installmentPlanUpdated")["status"] for e in await ws.events("live")] == ["CANCELLED"]
        # The client may also stop one itself.
        third = await davids_plan(api)
        await ws.subscribe("stop-me", PLAN, {"id": third})
        assert data(await ws.next_message(), "installmentPlanUpdated")["status"] == "ACTIVE"
        await ws.send({"id": "stop-me", "type": "complete"})
        await ws.send({"type": "ping"})
        assert await ws.ws.recv() is not None  # the pong: the connection lives on
    await cancel(api, third, citizen=DAVID)
    assert api.services.events.watching == 0  # type: ignore[attr-defined]


# --- who may watch what: node's rule ----------------------------------------------------------------------------


async def test_someone_elses_object_is_null_like_a_missing_one_and_a_caseworker_is_logged(api: Api, url: str) -> None:
    plan = await davids_plan(api)
    missing = ids.encode("InstallmentPlan", 10**9)
    async with subscriptions(url) as ws:
        await ws.init(api.token(citizen=ANNA))
        await ws.subscribe("other", PLAN, {"id": plan})
        assert await ws.events("other") == [{"data": {"installmentPlanUpdated": None}}]
        await ws.subscribe("missing", PLAN, {"id": missing})
        assert await ws.events("missing") == [{"data": {"installmentPlanUpdated": None}}]

    async def caseworker_rows() -> int:
        async with api.services.db.read() as conn:
            stmt = select(func.count()).where(
                m.AccessLogEntry.operation == "installmentPlanUpdated", m.AccessLogEntry.actor_kind == "CASEWORKER"
            )
            return int((await conn.execute(stmt)).scalar_one())

    before = await caseworker_rows()
    async with subscriptions(url) as ws:
        await ws.init(api.token(caseworker="cw-1001"))
        await ws.subscribe("cw", PLAN, {"id": plan})
        assert data(await ws.next_message(), "installmentPlanUpdated")["status"] == "ACTIVE"
        assert await caseworker_rows() == before + 1  # one look-up per subscription, not per event
        await cancel(api, plan, citizen=DAVID)
        assert [data(e, "installmentPlanUpdated")["status"] for e in await ws.events("cw")] == ["CANCELLED"]
    assert await caseworker_rows() == before + 1


async def test_bad_ids_are_bad_user_input(api: Api, url: str) -> None:
    claim = (await api.gql("{ me { claims(first: 1) { nodes { id } } } }", citizen=ANNA))["data"]["me"]["claims"]
    async with subscriptions(url) as ws:
        await ws.init(api.token(citizen=ANNA))
        for op_id, bad in (("malformed", "not-an-id"), ("a-claim", claim["nodes"][0]["id"])):
            await ws.subscribe(op_id, PAYMENT, {"id": bad})
            events = await ws.events(op_id)
            assert len(events) == 1 and error_codes(events[0]) == ["BAD_USER_INPUT"], events
            assert events[0]["data"] is None


@pytest.mark.parametrize("how", ["no token", "bad signature", "expired", "not a bearer"])
async def test_a_connection_without_a_valid_token_is_refused(api: Api, url: str, how: str) -> None:
    now = int(time.time())
    tokens = {
        "no token": {},
        "bad signature": {"Authorization": "Bearer " + sign(api, claims_for(api), secret="x" * 40)},
        "expired": {"Authorization": "Bearer " + sign(api, claims_for(api, iat=now - 7200, exp=now - 3600))},
        "not a bearer": {"Authorization": "Basic YW5uYTpzZWNyZXQ="},
    }
    async with subscriptions(url) as ws:
        await ws.send({"type": "connection_init", "payload": tokens[how]})
        assert await ws.closed() == (4403, "Forbidden")


async def test_the_token_may_come_in_the_upgrade_requests_header(api: Api, url: str) -> None:
    plan = await davids_plan(api)
    async with subscriptions(url, headers={"Authorization": f"Bearer {api.token(citizen=DAVID)}"}) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        await ws.subscribe("h", PLAN, {"id": plan})
        assert data(await ws.next_message(), "installmentPlanUpdated")["status"] == "ACTIVE"
    await cancel(api, plan, citizen=DAVID)


async def test_the_connection_closes_when_the_token_expires(api: Api, url: str) -> None:
    now = int(time.time())
    token = sign(api, claims_for(api, cpr=DAVID, iat=now, exp=now + 2))
    async with subscriptions(url) as ws:
        assert (await ws.init(token))["type"] == "connection_ack"
        assert await ws.closed() == (4403, "Token expired")


# --- the protocol's error cases ---------------------------------------------------------------------------------


async def test_protocol_errors_close_the_connection_with_the_protocols_codes(api: Api, url: str) -> None:
    token = api.token(citizen=ANNA)
    async with subscriptions(url) as ws:  # subscribe before connection_init
        await ws.subscribe("1", PLAN, {"id": "x"})
        assert await ws.closed() == (4401, "Unauthorized")
    async with subscriptions(url) as ws:
        await ws.init(token)
        await ws.send({"type": "connection_init", "payload": {}})
        assert await ws.closed() == (4429, "Too many initialisation requests")
    async with subscriptions(url) as ws:
        await ws.send("{not json")
        assert await ws.closed() == (4400, "WebSocket message must be valid JSON")
    async with subscriptions(url) as ws:
        await ws.send({"type": "what"})
        assert await ws.closed() == (4400, "Unknown message type: what")
    async with subscriptions(url) as ws:
        await ws.init(token)
        await ws.subscribe("1", "subscription { paymentUpdated(id: ", {})
        code, reason = await ws.closed()
        assert code == 4400 and "Syntax Error" in reason
    async with subscriptions(url) as ws:  # the close reason quotes the document: masked like any error message
        await ws.init(token)
        await ws.subscribe("1", "subscription { 1507804321 }", {})
        assert await ws.closed() == (4400, "Syntax Error: Expected Name, found Int '******-****'.")
    async with subscriptions(url) as ws:
        await ws.init(token)
        plan = await davids_plan(api)
        await ws.subscribe("dup", PLAN, {"id": plan})
        await ws.subscribe("dup", PLAN, {"id": plan})
        assert await ws.closed() == (4409, "Subscriber for dup already exists")
        await cancel(api, plan, citizen=DAVID)
    async with subscriptions(url, subprotocols=["graphql-ws"]) as ws:  # the legacy protocol is not served
        assert await ws.closed() == (4406, "Subprotocol not acceptable")


async def test_a_page_of_another_origin_cannot_open_a_connection(api: Api, url: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with subscriptions(url, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    async with subscriptions(url, origin=url) as ws:  # type: ignore[arg-type]  # the gateway's own pages may
        assert (await ws.init(api.token(citizen=ANNA)))["type"] == "connection_ack"


async def test_only_subscriptions_run_over_websocket_and_not_over_http(api: Api, url: str) -> None:
    async with subscriptions(url, headers={"Accept-Language": "en"}) as ws:
        await ws.init(api.token(citizen=ANNA))
        await ws.subscribe("q", "{ me { name } }")
        [refused] = await ws.events("q")
        assert error_codes(refused) == ["BAD_USER_INPUT"]
        assert refused["error"][0]["message"].startswith("Only subscriptions run over WebSocket")
        await ws.subscribe("v", "subscription { paymentUpdated(id: 1) { nope } }")
        [invalid] = await ws.events("v")
        assert error_codes(invalid) == ["BAD_USER_INPUT"] and "nope" in invalid["error"][0]["message"]
    body = await api.gql(PLAN, {"id": "x"}, citizen=ANNA)
    assert body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    strict = await api.post(
        PLAN, {"id": "x"}, token=api.token(citizen=ANNA), headers={"Accept": "application/graphql-response+json"}
    )
    assert strict.status_code == 400 and "data" not in strict.json()


# --- limits -----------------------------------------------------------------------------------------------------


@pytest.fixture
async def limited(migrated: str, gaeldst_sim: ThreadedServer) -> AsyncIterator[tuple[Api, str]]:
    async with (
        build_api(
            migrated,
            gaeldst_sim,
            subscriptions_max_per_connection=2,
            subscriptions_connection_init_timeout_seconds=0.5,
            max_query_depth=2,
            rate_limit_citizen_burst=5,
            rate_limit_citizen_per_second=0.001,
        ) as own,
        served(own.app) as own_url,
    ):
        yield own, own_url


async def test_limits_per_connection_depth_rate_and_init_timeout(api: Api, limited: tuple[Api, str]) -> None:
    """``limited``: at most 2 subscriptions a connection, 0.5 s to say connection_init, depth 2, a bucket of 5."""
    own, url = limited
    async with subscriptions(url) as ws:  # says nothing: closed when the init timeout has passed
        assert await ws.closed() == (4408, "Connection initialisation timeout")
    async with subscriptions(url) as ws:
        await ws.init(own.token(citizen=DAVID))  # the connection takes one token from the bucket of 5
        missing = ids.encode("InstallmentPlan", 10**9 + 1)
        # The document limits apply as to queries (depth 2 here).
        await ws.subscribe(
            "deep",
            "subscription($id: ID!) { installmentPlanUpdated(id: $id) { claims { sender { name } } } }",
            {"id": missing},
        )
        [deep] = await ws.events("deep")
        assert error_codes(deep) == ["QUERY_TOO_COMPLEX"], deep
        # Two subscriptions at most on one connection: a third is refused, the two go on. (Subscriptions to
        # plans that do not exist end at once; those that stay open hold their place.)
        plan_ids = [ids.encode("InstallmentPlan", 10**9 + n) for n in (2, 3)]
        plan = await davids_plan(api)
        await ws.subscribe("a", PLAN, {"id": plan})
        await ws.subscribe("b", PLAN, {"id": plan})
        assert (await ws.next_message())["type"] == "next"
        assert (await ws.next_message())["type"] == "next"
        await ws.subscribe("c", PLAN, {"id": plan_ids[0]})
        [third] = await ws.events("c")
        assert error_codes(third) == ["BAD_USER_INPUT"] and "2" in third["error"][0]["message"]
        await ws.send({"id": "a", "type": "complete"})
        await ws.send({"id": "b", "type": "complete"})
        # Each subscription takes a token too: 1 + 3 taken, the 5th is the last.
        await ws.subscribe("d", PLAN, {"id": plan_ids[1]})
        assert await ws.events("d") == [{"data": {"installmentPlanUpdated": None}}]
        await ws.subscribe("e", PLAN, {"id": plan_ids[1]})
        [limited_event] = await ws.events("e")
        assert error_codes(limited_event) == ["RATE_LIMITED"]
        assert limited_event["error"][0]["extensions"]["rateLimit"]["remaining"] == 0
    async with subscriptions(url) as ws:  # the bucket is empty: the connection itself is refused now
        await ws.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {own.token(citizen=DAVID)}"}})
        assert await ws.closed() == (4403, "Forbidden")
    await cancel(api, plan, citizen=DAVID)


# --- several gateway processes on PostgreSQL --------------------------------------------------------------------


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    gateway = Path(sys.executable).with_name("gateway")
    return subprocess.Popen([str(gateway), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env)


@pytest.fixture
def two_gateways(migrated: str, gaeldst_sim: ThreadedServer) -> Iterator[tuple[str, str]]:
    if not migrated.startswith("postgresql"):
        pytest.skip("several gateway processes share one ledger on PostgreSQL (SQLite's events stay in-process)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_DATABASE_URL=migrated,
        GATEWAY_GAELDST_URL=gaeldst_sim.url,
        GATEWAY_PAYMENTS_POLL_INTERVAL_SECONDS="0",
        GATEWAY_LOG_LEVEL="WARNING",
        GATEWAY_RATE_LIMIT_ENABLED="false",
    )
    ports = [free_port(), free_port()]
    processes = [_serve(port, env) for port in ports]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for gateway_url, process in zip(urls, processes, strict=True):
            wait_until_healthy("two gateways", gateway_url, process)
        yield urls[0], urls[1]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_an_event_raised_in_one_gateway_process_reaches_a_subscriber_of_another(
    api: Api, two_gateways: tuple[str, str]
) -> None:
    """``gateway serve`` twice on one PostgreSQL ledger: the plan is cancelled through the first process, and
    the subscriber connected to the second sees it (LISTEN/NOTIFY), with nothing in common but the database."""
    first, second = two_gateways
    plan = await davids_plan(api)
    async with (
        subscriptions(second) as ws,
        httpx.AsyncClient(base_url=first, timeout=WAIT_SECONDS) as http,
    ):
        await ws.init(api.token(citizen=DAVID))
        await ws.subscribe("x", PLAN, {"id": plan})
        assert data(await ws.next_message(), "installmentPlanUpdated")["status"] == "ACTIVE"
        response = await http.post(
            "/graphql",
            json={"query": CANCEL_PLAN, "variables": {"input": {"planId": plan, "idempotencyKey": "x-process"}}},
            headers={"Authorization": f"Bearer {api.token(citizen=DAVID)}"},
        )
        assert response.json()["data"]["cancelInstallmentPlan"]["userErrors"] == []
        assert [data(e, "installmentPlanUpdated")["status"] for e in await ws.events("x")] == ["CANCELLED"]
    ledger_for(api.settings.database_url).dirty = True  # written by other processes


# --- trusted documents ------------------------------------------------------------------------------------------


async def test_with_trusted_documents_only_a_citizen_subscribes_by_document(
    api: Api, migrated: str, gaeldst_sim: ThreadedServer
) -> None:
    trusted_text = (TRUSTED / "installment_plan_updated.graphql").read_text()
    async with (
        build_api(migrated, gaeldst_sim, trusted_documents_only_for_citizens=True) as own,
        served(own.app) as own_url,
        subscriptions(own_url) as ws,
    ):
        plan = await davids_plan(api)  # through the ordinary app, after ``own`` has (re)seeded the ledger
        await ws.init(own.token(citizen=DAVID))
        await ws.subscribe("free", PLAN, {"id": plan})
        [refused] = await ws.events("free")
        assert error_codes(refused) == ["TRUSTED_DOCUMENT_REQUIRED"]
        await ws.send(
            {
                "id": "by-id",
                "type": "subscribe",
                "payload": {"documentId": f"sha256:{document_id(trusted_text)}", "variables": {"id": plan}},
            }
        )
        assert data(await ws.next_message(), "installmentPlanUpdated") == {"id": plan, "status": "ACTIVE"}
        await ws.subscribe("by-text", trusted_text, {"id": plan})
        assert data(await ws.next_message(), "installmentPlanUpdated") == {"id": plan, "status": "ACTIVE"}
    await cancel(api, plan, citizen=DAVID)
