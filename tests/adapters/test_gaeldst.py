"""GaeldstClient against the Gældsstyrelsen simulator over real HTTP (uvicorn in a thread on 127.0.0.1).

httpx.MockTransport is used only for response shapes the simulator cannot produce (odd bodies, 4xx).
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import structlog

from adapters.gaeldst import (
    ClaimCollection,
    CollectionState,
    GaeldstClient,
    GaeldstConfig,
    GaeldstUnavailable,
)
from adapters.gaeldst.client import RetryBudget
from adapters.gaeldst.simulator import (
    DEMO_COLLECTION_STATES,
    SimulatorState,
    create_demo_app,
    create_simulator_app,
)
from adapters.simserver import ThreadedServer
from tests.conftest import BreakerClock

DEMO_AT_COLLECTION = ["RK-REN-2023-0931", "RK-DAG-2022-0101", "RK-KTN-2022-0202"]
RETURNED = "RK-FOR-2023-0311"
_SSL = ssl.create_default_context()  # shared: creating an SSL context per httpx client is slow
UNKNOWN = "RK-DAG-2025-0412"


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    srv = ThreadedServer(create_demo_app()).start()
    yield srv
    srv.stop()


class Admin:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=5, verify=_SSL)

    async def fault(self, mode: str, latency_ms: int = 0, references: list[str] | None = None) -> None:
        r = await self.http.post(
            "/admin/faults", json={"mode": mode, "latencyMs": latency_ms, "references": references}
        )
        assert r.status_code == 200, r.text

    async def clear(self) -> None:
        assert (await self.http.delete("/admin/faults")).status_code == 204

    async def stats(self) -> dict[str, int]:
        r = await self.http.get("/admin/stats")
        assert r.status_code == 200
        data: dict[str, int] = r.json()
        return data

    async def calls(self) -> int:
        return (await self.stats())["statusCalls"]


@pytest.fixture(scope="module")
async def admin_client(server: ThreadedServer) -> AsyncIterator[Admin]:
    a = Admin(server.url)
    yield a
    await a.http.aclose()


@pytest.fixture
async def admin(server: ThreadedServer, admin_client: Admin) -> Admin:
    """The simulator's admin API, with faults, stats and claims reset before each test."""
    await admin_client.clear()
    assert (await admin_client.http.post("/admin/reset-stats")).status_code == 204
    state: SimulatorState = server.app.state.sim
    state.claims = dict(DEMO_COLLECTION_STATES)
    return admin_client


class RecordingTransport(httpx.AsyncHTTPTransport):
    """A real HTTP transport that also remembers what was sent."""

    def __init__(self) -> None:
        super().__init__(verify=_SSL)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await super().handle_async_request(request)


MakeClient = Callable[..., GaeldstClient]

# Generous timeouts, so that a busy machine cannot turn a slow answer into a failure: the tests whose subject
# is a timeout set short ones themselves. Short backoff, so that retries are quick.
DEFAULTS: dict[str, Any] = {
    "timeout_seconds": 10.0,
    "connect_timeout": 10.0,
    "total_timeout_seconds": 30.0,
    "backoff_base_seconds": 0.005,
    "backoff_max_seconds": 0.02,
}


@pytest.fixture
async def make_client(server: ThreadedServer, admin: Admin) -> AsyncIterator[MakeClient]:
    clients: list[GaeldstClient] = []

    def make(
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        own_transport: bool = False,
        clock: Callable[[], float] = time.monotonic,
        **overrides: Any,
    ) -> GaeldstClient:
        """A client for the simulator. By default it gets a plain HTTP transport sharing one SSL context
        (building one per client costs ~70 ms); ``own_transport=True`` lets the client build its own."""
        if transport is None and not own_transport:
            transport = httpx.AsyncHTTPTransport(verify=_SSL)
        cfg = GaeldstConfig(base_url=server.url, **{**DEFAULTS, **overrides})
        client = GaeldstClient(cfg, transport=transport, clock=clock)
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()


async def unavailable(coro: Awaitable[Any]) -> GaeldstUnavailable:
    with pytest.raises(GaeldstUnavailable) as info:
        await coro
    return info.value


# --------------------------------------------------------------------------- happy path and batching


async def test_happy_path_maps_states_and_sends_one_post_without_identifiers_in_url(
    make_client: MakeClient, admin: Admin
) -> None:
    transport = RecordingTransport()
    client = make_client(transport=transport, bearer_token="s3cret")
    refs = [*DEMO_AT_COLLECTION, RETURNED, UNKNOWN]

    got = await client.fetch_states(refs)

    assert list(got) == refs
    assert got["RK-REN-2023-0931"] == ClaimCollection(
        "RK-REN-2023-0931", CollectionState.UNDER_COLLECTION, datetime.date(2025, 3, 1), None
    )
    assert got["RK-DAG-2022-0101"].since == datetime.date(2024, 2, 15)
    assert got["RK-KTN-2022-0202"].state is CollectionState.UNDER_COLLECTION
    assert got[RETURNED] == ClaimCollection(RETURNED, CollectionState.RETURNED, datetime.date(2025, 6, 1), "AGREEMENT")
    assert got[UNKNOWN] == ClaimCollection(UNKNOWN, CollectionState.NOT_RECEIVED, None, None)

    assert await admin.stats() == {"statusCalls": 1, "referencesAsked": 5}
    [request] = transport.requests
    assert request.method == "POST"
    assert request.url.path == "/v1/claims/status"
    assert request.url.query == b""
    assert orjson.loads(request.content) == {"references": refs}
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["content-type"] == "application/json"


async def test_two_hundred_references_make_exactly_one_upstream_call(make_client: MakeClient, admin: Admin) -> None:
    client = make_client()
    refs = [f"RK-DAG-2025-{i:04d}" for i in range(200)]

    got = await client.fetch_states(refs)

    assert len(got) == 200
    assert all(c.state is CollectionState.NOT_RECEIVED for c in got.values())
    assert await admin.stats() == {"statusCalls": 1, "referencesAsked": 200}
    assert client.stats.upstream_requests == 1


async def test_duplicates_are_asked_once_and_empty_input_makes_no_call(make_client: MakeClient, admin: Admin) -> None:
    client = make_client()
    assert await client.fetch_states([]) == {}
    assert await admin.calls() == 0

    got = await client.fetch_states([RETURNED, RETURNED, UNKNOWN])
    assert list(got) == [RETURNED, UNKNOWN]
    assert await admin.stats() == {"statusCalls": 1, "referencesAsked": 2}


# --------------------------------------------------------------------------- cache


async def test_cache_hit_makes_no_call_and_only_missing_references_are_fetched(
    make_client: MakeClient, admin: Admin
) -> None:
    client = make_client()
    await client.fetch_states([RETURNED, UNKNOWN])
    await admin.http.post("/admin/reset-stats")

    again = await client.fetch_states([UNKNOWN, RETURNED])
    assert again[RETURNED].state is CollectionState.RETURNED
    assert list(again) == [UNKNOWN, RETURNED]
    assert await admin.calls() == 0
    assert client.stats.cache_hits == 2

    mixed = await client.fetch_states([RETURNED, "RK-REN-2023-0931"])
    assert mixed["RK-REN-2023-0931"].state is CollectionState.UNDER_COLLECTION
    assert await admin.stats() == {"statusCalls": 1, "referencesAsked": 1}


async def test_cache_entries_expire_after_ttl(make_client: MakeClient, admin: Admin) -> None:
    now = [time.monotonic()]  # the client's clock, moved by hand instead of sleeping
    client = make_client(cache_ttl_seconds=0.15, clock=lambda: now[0])
    assert (await client.fetch_states([UNKNOWN]))[UNKNOWN].state is CollectionState.NOT_RECEIVED
    put = await admin.http.put(
        f"/admin/claims/{UNKNOWN}", json={"state": "RECEIVED", "since": "2025-09-01", "returnReason": None}
    )
    assert put.status_code == 200

    assert (await client.fetch_states([UNKNOWN]))[UNKNOWN].state is CollectionState.NOT_RECEIVED  # cached
    now[0] += 0.2
    fresh = (await client.fetch_states([UNKNOWN]))[UNKNOWN]
    assert fresh == ClaimCollection(UNKNOWN, CollectionState.RECEIVED, datetime.date(2025, 9, 1), None)
    assert await admin.calls() == 2


async def test_failures_are_not_cached(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(max_retries=0)
    await admin.fault("error500")
    await unavailable(client.fetch_states([UNKNOWN]))
    await admin.clear()
    assert (await client.fetch_states([UNKNOWN]))[UNKNOWN].state is CollectionState.NOT_RECEIVED
    assert await admin.calls() == 2


# --------------------------------------------------------------------------- faults


async def test_latency_within_timeout_succeeds(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(timeout_seconds=5.0)  # far above the latency, however busy the machine
    await admin.fault("latency", latency_ms=150)
    started = time.monotonic()
    got = await client.fetch_states([RETURNED])
    assert time.monotonic() - started >= 0.15
    assert got[RETURNED].return_reason == "AGREEMENT"
    assert await admin.calls() == 1


# The timeout tests count the attempts the client made, not the calls the simulator saw: an attempt that times out
# may end before the simulator, on a busy machine, has even read the request. The answers come a minute late
# (the simulator stops waiting when the client hangs up), so however slow the machine, only the timeout can end
# an attempt, and no wall-clock time is asserted.


async def test_latency_beyond_timeout_is_timeout(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(timeout_seconds=0.15, max_retries=0)
    await admin.fault("latency", latency_ms=60_000)
    exc = await unavailable(client.fetch_states([RETURNED]))
    assert exc.reason == "TIMEOUT"
    assert client.stats.upstream_requests == 1


async def test_timeouts_are_retried_within_the_total_deadline(make_client: MakeClient, admin: Admin) -> None:
    now = [0.0]  # the clock the client reckons its total deadline by: each attempt takes its whole 0.15 s

    class AttemptsTakeTheirTime(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            now[0] += 0.15
            return await super().handle_async_request(request)

    client = make_client(
        AttemptsTakeTheirTime(verify=_SSL),
        timeout_seconds=0.15,
        total_timeout_seconds=0.4,
        max_retries=10,
        clock=lambda: now[0],
    )
    await admin.fault("latency", latency_ms=60_000)
    exc = await unavailable(client.fetch_states([RETURNED]))
    assert exc.reason == "TIMEOUT"
    # 0.15 + 0.15 + the 0.1 s left of the 0.4 s deadline: three attempts, not the 11 that max_retries allows.
    assert client.stats.upstream_requests == 3
    assert client.stats.retries == 2


async def test_hang_is_timeout(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(timeout_seconds=0.15, max_retries=1)
    await admin.fault("hang")
    exc = await unavailable(client.fetch_states([RETURNED]))
    assert exc.reason == "TIMEOUT"
    assert client.stats.upstream_requests == 2


async def test_error500_is_retried_then_reported(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(max_retries=2)
    await admin.fault("error500")
    exc = await unavailable(client.fetch_states([RETURNED]))
    assert exc.reason == "HTTP_500"
    assert await admin.calls() == 3
    assert client.stats.retries == 2
    assert client.stats.failures_by_reason == {"HTTP_500": 1}


async def test_error503_retries_until_the_fault_clears(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(
        max_retries=50,
        backoff_base_seconds=0.01,
        backoff_max_seconds=0.03,
        retry_budget_min_retries=100,
        total_timeout_seconds=3.0,
    )
    await admin.fault("error503")

    async def clear_after_two_failures() -> None:
        while await admin.calls() < 2:
            await asyncio.sleep(0.005)
        await admin.clear()

    clearing = asyncio.create_task(clear_after_two_failures())
    got = await client.fetch_states([RETURNED])
    await clearing
    assert got[RETURNED].state is CollectionState.RETURNED
    calls = await admin.calls()
    assert calls >= 3  # at least two 503s, then the success
    assert client.stats.retries == calls - 1
    assert client.stats.failures == 0


async def test_malformed_body_is_malformed_and_not_retried(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(max_retries=2)
    await admin.fault("malformed")
    exc = await unavailable(client.fetch_states([RETURNED]))
    assert exc.reason == "MALFORMED"
    assert await admin.calls() == 1


async def test_refuse_mode_drops_the_connection(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(max_retries=1)
    await admin.fault("refuse")
    exc = await unavailable(client.fetch_states([RETURNED]))
    assert exc.reason == "DISCONNECTED"
    assert await admin.calls() == 2


async def test_fault_limited_to_references_only_hits_calls_asking_for_them(
    make_client: MakeClient, admin: Admin
) -> None:
    client = make_client(max_retries=0)
    await admin.fault("error503", references=[RETURNED])
    assert (await client.fetch_states([UNKNOWN]))[UNKNOWN].state is CollectionState.NOT_RECEIVED
    exc = await unavailable(client.fetch_states([UNKNOWN, RETURNED]))
    assert exc.reason == "HTTP_503"


async def test_server_down_is_connect_error_and_recovers(make_client: MakeClient, server: ThreadedServer) -> None:
    client = make_client(own_transport=True, max_retries=1)
    server.stop_listening()
    try:
        exc = await unavailable(client.fetch_states([RETURNED]))
        assert exc.reason == "CONNECT"
        assert client.stats.upstream_requests == 2
    finally:
        server.resume_listening()
    assert (await client.fetch_states([RETURNED]))[RETURNED].state is CollectionState.RETURNED


# --------------------------------------------------------------------------- circuit breaker


async def test_breaker_opens_fails_fast_half_opens_and_closes(
    make_client: MakeClient, admin: Admin, breaker_clock: BreakerClock
) -> None:
    client = make_client(max_retries=0, breaker_threshold=3, breaker_ttl_seconds=60)
    await admin.fault("error500")
    for _ in range(3):
        assert (await unavailable(client.fetch_states([RETURNED]))).reason == "HTTP_500"
    assert client.stats.breaker_state == "opened"
    assert await admin.calls() == 3

    for _ in range(5):
        assert (await unavailable(client.fetch_states([RETURNED]))).reason == "CIRCUIT_OPEN"
    assert await admin.calls() == 3  # no HTTP while open
    assert client.stats.short_circuited == 5

    # After the ttl a probe goes through; it fails, so the breaker opens again at once.
    breaker_clock.advance(61)
    assert (await unavailable(client.fetch_states([RETURNED]))).reason == "HTTP_500"
    assert await admin.calls() == 4
    assert (await unavailable(client.fetch_states([RETURNED]))).reason == "CIRCUIT_OPEN"
    assert await admin.calls() == 4

    # Upstream recovers; after the ttl the probe succeeds and the breaker closes.
    await admin.clear()
    breaker_clock.advance(61)
    assert (await client.fetch_states([RETURNED]))[RETURNED].state is CollectionState.RETURNED
    assert client.stats.breaker_state == "closed"
    assert (await client.fetch_states([UNKNOWN]))[UNKNOWN].state is CollectionState.NOT_RECEIVED
    assert await admin.calls() == 6


async def test_breaker_counts_consecutive_failures_only(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(max_retries=0, breaker_threshold=2, breaker_ttl_seconds=5, cache_ttl_seconds=0)
    await admin.fault("error503")
    await unavailable(client.fetch_states([RETURNED]))
    await admin.clear()
    await client.fetch_states([RETURNED])  # success resets the count
    await admin.fault("error503")
    await unavailable(client.fetch_states([RETURNED]))
    assert client.stats.breaker_state == "closed"
    await unavailable(client.fetch_states([RETURNED]))
    assert client.stats.breaker_state == "opened"


async def test_half_open_lets_a_single_probe_through(
    make_client: MakeClient, admin: Admin, breaker_clock: BreakerClock
) -> None:
    client = make_client(max_retries=0, breaker_threshold=1, breaker_ttl_seconds=60, timeout_seconds=5.0)
    await admin.fault("error500")
    await unavailable(client.fetch_states([RETURNED]))
    await admin.fault("latency", latency_ms=200)
    breaker_clock.advance(61)
    await admin.http.post("/admin/reset-stats")

    results = await asyncio.gather(
        client.fetch_states([RETURNED]), client.fetch_states([UNKNOWN]), return_exceptions=True
    )
    assert isinstance(results[0], dict)
    assert isinstance(results[1], GaeldstUnavailable)
    assert results[1].reason == "CIRCUIT_OPEN"
    assert await admin.calls() == 1
    assert client.stats.breaker_state == "closed"


# --------------------------------------------------------------------------- retry budget


async def test_retry_budget_stops_retries_when_exhausted(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(max_retries=2, retry_budget_ratio=0.0, retry_budget_min_retries=2, breaker_threshold=100)
    await admin.fault("error503")
    assert (await unavailable(client.fetch_states([RETURNED]))).reason == "HTTP_503"
    assert await admin.calls() == 3  # the budget allowed both retries
    assert (await unavailable(client.fetch_states([RETURNED]))).reason == "HTTP_503"
    assert await admin.calls() == 4  # budget spent: no retry
    assert client.stats.retries == 2
    assert client.stats.retries_denied_by_budget == 1


def test_retry_budget_is_a_ratio_of_calls_in_a_sliding_window() -> None:
    now = [0.0]
    budget = RetryBudget(ratio=0.2, min_retries=0, window_seconds=10, clock=lambda: now[0])
    for _ in range(10):
        budget.record_call()
    assert budget.try_acquire()
    assert budget.try_acquire()
    assert not budget.try_acquire()  # 2 retries for 10 calls
    now[0] = 10.5  # the window has slid past all of it
    assert not budget.try_acquire()  # no calls in the window, no retries
    for _ in range(5):
        budget.record_call()
    assert budget.try_acquire()
    assert not budget.try_acquire()


# --------------------------------------------------------------------------- strict validation (MockTransport)


def _mock_client(handler: Callable[[httpx.Request], httpx.Response], **overrides: Any) -> GaeldstClient:
    cfg = GaeldstConfig(base_url="http://gaeldst.test", **{**DEFAULTS, "max_retries": 0, **overrides})
    return GaeldstClient(cfg, transport=httpx.MockTransport(handler))


def _claim(ref: str = RETURNED, **kw: Any) -> dict[str, Any]:
    return {"reference": ref, "state": "RETURNED", "since": "2025-06-01", "returnReason": "AGREEMENT", **kw}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"claims": {}}',
        b'{"items": []}',
        orjson.dumps({"claims": []}),  # the asked reference is missing
        orjson.dumps({"claims": ["RK-FOR-2023-0311"]}),
        orjson.dumps({"claims": [_claim(state="AT_COLLECTION")]}),
        orjson.dumps({"claims": [_claim(state=None)]}),
        orjson.dumps({"claims": [_claim(since="01-06-2025")]}),
        orjson.dumps({"claims": [_claim(since="2025-02-30")]}),
        orjson.dumps({"claims": [_claim(since=20250601)]}),
        orjson.dumps({"claims": [_claim(returnReason=3)]}),
        orjson.dumps({"claims": [_claim(reference=None)]}),
        orjson.dumps({"claims": [_claim(), _claim()]}),  # duplicate
        orjson.dumps({"claims": [_claim(), _claim("RK-XXX-0000-0000")]}),  # not asked for
    ],
)
async def test_malformed_bodies_are_rejected(body: bytes) -> None:
    client = _mock_client(lambda request: httpx.Response(200, content=body))
    try:
        assert (await unavailable(client.fetch_states([RETURNED]))).reason == "MALFORMED"
        assert client.stats.cache_size == 0
    finally:
        await client.aclose()


async def test_extra_fields_are_tolerated() -> None:
    body = orjson.dumps({"claims": [_claim(extra=1)], "next": None})
    client = _mock_client(lambda request: httpx.Response(200, content=body))
    try:
        got = await client.fetch_states([RETURNED])
        assert got[RETURNED].state is CollectionState.RETURNED
    finally:
        await client.aclose()


async def test_client_errors_are_not_retried() -> None:
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        return httpx.Response(401, json={"error": "unauthorized"})

    client = _mock_client(handler, max_retries=3)
    try:
        assert (await unavailable(client.fetch_states([RETURNED]))).reason == "HTTP_401"
        assert len(seen) == 1
    finally:
        await client.aclose()


# --------------------------------------------------------------------------- privacy and input checks


@pytest.mark.parametrize("bad", ["010190-1234", "0101901234", "", "   ", "X" * 65])
async def test_non_references_are_refused_before_any_http(make_client: MakeClient, admin: Admin, bad: str) -> None:
    client = make_client()
    with pytest.raises(ValueError) as info:
        await client.fetch_states([RETURNED, bad])
    if bad.strip():
        assert bad not in str(info.value)
    assert await admin.calls() == 0


async def test_errors_and_logs_never_contain_references(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(max_retries=1)
    await admin.fault("error503")
    with structlog.testing.capture_logs() as logs:
        exc = await unavailable(client.fetch_states([RETURNED, UNKNOWN]))
    assert RETURNED not in str(exc) and UNKNOWN not in str(exc)
    assert any(e["event"] == "gaeldst.unavailable" and e["reason"] == "HTTP_503" and e["references"] == 2 for e in logs)
    assert any(e["event"] == "gaeldst.retry" for e in logs)
    flat = repr(logs)
    assert RETURNED not in flat and UNKNOWN not in flat


def test_credentials_require_https_except_on_loopback() -> None:
    with pytest.raises(ValueError):
        GaeldstConfig(base_url="http://gaeldst.example", bearer_token="t")
    with pytest.raises(ValueError):
        GaeldstConfig(base_url="http://gaeldst.example", client_cert=("c.pem", "k.pem"))
    GaeldstConfig(base_url="http://127.0.0.1:8001", bearer_token="t")
    GaeldstConfig(base_url="https://gaeldst.example", bearer_token="t")
    assert "tok-123" not in repr(GaeldstConfig(base_url="https://gaeldst.example", bearer_token="tok-123"))


# --------------------------------------------------------------------------- simulator admin API


async def test_simulator_admin_validates_input(admin: Admin) -> None:
    r = await admin.http.post("/admin/faults", json={"mode": "explode"})
    assert r.status_code == 400
    r = await admin.http.put(f"/admin/claims/{UNKNOWN}", json={"state": "LOST"})
    assert r.status_code == 400
    r = await admin.http.post("/v1/claims/status", json={"refs": []})
    assert r.status_code == 400
    assert await admin.calls() == 0


def test_simulator_starts_with_the_given_claims_only() -> None:
    app = create_simulator_app({UNKNOWN: ClaimCollection(UNKNOWN, CollectionState.PAID, None, None)})
    state: SimulatorState = app.state.sim
    assert state.lookup(UNKNOWN).state is CollectionState.PAID
    assert state.lookup(RETURNED).state is CollectionState.NOT_RECEIVED
    assert set(DEMO_COLLECTION_STATES) == {*DEMO_AT_COLLECTION, RETURNED}


# --------------------------------------------------------------------------- malformed answers: where, never what


@pytest.mark.parametrize(
    "body,where",
    [
        (b"not json", "<root>: json_invalid"),
        (b"[]", "<root>: model_type"),
        (orjson.dumps({"claims": {}}), "claims: list_type"),
        (orjson.dumps({"claims": [RETURNED]}), "claims.0: model_type"),
        (orjson.dumps({"claims": [_claim(state="returned")]}), "claims.0.state: enum"),
        (orjson.dumps({"claims": [_claim(since=RETURNED)]}), "claims.0.since: date_format"),
        (orjson.dumps({"claims": [_claim(since="1748736000")]}), "claims.0.since: date_format"),
        (orjson.dumps({"claims": [_claim(since="2025-13-01")]}), "claims.0.since: date_invalid"),
        (orjson.dumps({"claims": [_claim(returnReason="")]}), "claims.0.returnReason: string_too_short"),
        (orjson.dumps({"claims": [_claim(reference=20250601)]}), "claims.0.reference: string_type"),
        (orjson.dumps({"claims": [_claim(), _claim()]}), "claims.1.reference: duplicate"),
        (orjson.dumps({"claims": [_claim(), _claim(UNKNOWN)]}), "claims.1.reference: not_asked"),
        (orjson.dumps({"claims": []}), "claims: 1 asked references missing"),
    ],
)
async def test_malformed_answer_is_located_without_echoing_references(body: bytes, where: str) -> None:
    client = _mock_client(lambda request: httpx.Response(200, content=body))
    try:
        with structlog.testing.capture_logs() as logs:
            exc = await unavailable(client.fetch_states([RETURNED]))
        assert (exc.reason, exc.detail) == ("MALFORMED", where)
        assert where in str(exc)
        (entry,) = [e for e in logs if e["event"] == "gaeldst.unavailable"]
        assert (entry["reason"], entry["detail"]) == ("MALFORMED", where)
        assert RETURNED not in str(exc) and RETURNED not in repr(logs)
        assert UNKNOWN not in str(exc) and UNKNOWN not in repr(logs)
    finally:
        await client.aclose()


async def test_answer_with_optional_fields_left_out_parses() -> None:
    body = orjson.dumps({"claims": [{"reference": RETURNED, "state": "PAID"}]})
    client = _mock_client(lambda request: httpx.Response(200, content=body))
    try:
        got = (await client.fetch_states([RETURNED]))[RETURNED]
        assert (got.state, got.since, got.return_reason) == (CollectionState.PAID, None, None)
    finally:
        await client.aclose()


async def test_other_failures_carry_no_detail(make_client: MakeClient, admin: Admin) -> None:
    client = make_client(max_retries=0)
    await admin.fault("error500")
    exc = await unavailable(client.fetch_states([RETURNED]))
    assert (exc.reason, exc.detail) == ("HTTP_500", None)
