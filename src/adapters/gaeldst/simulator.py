"""A small simulator of Gældsstyrelsen's claim status API, with admin endpoints to inject faults.

Run it: ``python -m adapters.gaeldst.simulator --port 8001`` (demo data, see ``DEMO_COLLECTION_STATES``).

API (as the real client expects it):
  ``POST /v1/claims/status`` ``{"references": [...]}`` ->
  ``{"claims": [{"reference", "state", "since": "YYYY-MM-DD"|null, "returnReason": str|null}]}``;
  references it does not know come back as ``NOT_RECEIVED``.

Admin (simulator only):
  ``PUT /admin/claims/{reference}`` ``{"state", "since", "returnReason"}``;
  ``GET /admin/stats`` -> ``{"statusCalls": n, "referencesAsked": n}``; ``POST /admin/reset-stats``;
  ``POST /admin/faults`` ``{"mode", "latencyMs", "references"}``; ``DELETE /admin/faults``.

Fault modes (applied to status calls only; ``references: null`` = every call, a list = only calls that ask
for any of those references; every status call is counted, faulted or not):
  ``latency``  wait ``latencyMs`` then answer normally;
  ``error500`` / ``error503``  answer 500 / 503 (503 with ``Retry-After: 1``);
  ``hang``     never answer (waits up to 60 s, but stops as soon as the client disconnects or the fault is
               cleared, so servers shut down promptly);
  ``malformed`` answer 200 with a body that is not valid JSON;
  ``refuse``   drop the connection without a usable HTTP response. ASGI has no "abort connection" message,
               so the simulator sends the status line and headers announcing a body and then returns
               without sending it; uvicorn then closes the socket ("returned without completing response").
               The client sees a truncated exchange (httpx ``RemoteProtocolError``). For a real
               connection refused, stop the server (``ThreadedServer.stop_listening()``).
  ``none``     no fault.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from adapters.gaeldst.client import ClaimCollection, CollectionState

__all__ = [
    "DEMO_COLLECTION_STATES",
    "FAULT_MODES",
    "FaultConfig",
    "SimulatorState",
    "create_demo_app",
    "create_simulator_app",
    "main",
]

FAULT_MODES: Final = frozenset({"latency", "error500", "error503", "hang", "malformed", "refuse", "none"})
HANG_SECONDS: Final = 60.0
_POLL_SECONDS: Final = 0.02

DEMO_COLLECTION_STATES: dict[str, ClaimCollection] = {
    "RK-REN-2023-0931": ClaimCollection(
        "RK-REN-2023-0931", CollectionState.UNDER_COLLECTION, datetime.date(2025, 3, 1), None
    ),
    "RK-DAG-2022-0101": ClaimCollection(
        "RK-DAG-2022-0101", CollectionState.UNDER_COLLECTION, datetime.date(2024, 2, 15), None
    ),
    "RK-KTN-2022-0202": ClaimCollection(
        "RK-KTN-2022-0202", CollectionState.UNDER_COLLECTION, datetime.date(2024, 5, 1), None
    ),
    "RK-FOR-2023-0311": ClaimCollection(
        "RK-FOR-2023-0311", CollectionState.RETURNED, datetime.date(2025, 6, 1), "AGREEMENT"
    ),
}


@dataclass(frozen=True)
class FaultConfig:
    mode: str = "none"
    latency_ms: int = 0
    references: frozenset[str] | None = None  # None = every status call

    def applies_to(self, asked: list[str]) -> bool:
        if self.mode == "none":
            return False
        return self.references is None or not self.references.isdisjoint(asked)


@dataclass
class SimulatorState:
    """The simulator's state (``app.state.sim``). Safe to read/replace from a test thread."""

    claims: dict[str, ClaimCollection] = field(default_factory=dict)
    fault: FaultConfig = field(default_factory=FaultConfig)
    status_calls: int = 0
    references_asked: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_call(self, references: int) -> None:
        with self._lock:
            self.status_calls += 1
            self.references_asked += references

    def reset_stats(self) -> None:
        with self._lock:
            self.status_calls = 0
            self.references_asked = 0

    def set_claim(self, claim: ClaimCollection) -> None:
        with self._lock:
            self.claims[claim.reference] = claim

    def lookup(self, reference: str) -> ClaimCollection:
        with self._lock:
            found = self.claims.get(reference)
        return found or ClaimCollection(reference, CollectionState.NOT_RECEIVED, None, None)


class _BadRequest(Exception):
    pass


def _claim_json(claim: ClaimCollection) -> dict[str, Any]:
    return {
        "reference": claim.reference,
        "state": claim.state.value,
        "since": claim.since.isoformat() if claim.since else None,
        "returnReason": claim.return_reason,
    }


async def _json_body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise _BadRequest("body is not JSON") from None


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": "BAD_REQUEST", "message": message}, status_code=400)


class _TruncatedResponse(Response):
    """Announce a body, send none, return: uvicorn closes the connection (see the module docstring)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )


async def _wait(request: Request, sim: SimulatorState, fault: FaultConfig, seconds: float) -> bool:
    """Sleep up to ``seconds``; False if cut short by a client disconnect or a fault change."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(_POLL_SECONDS, left))
        if sim.fault is not fault or await request.is_disconnected():
            return False
    return True


async def _status(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    try:
        data = await _json_body(request)
    except _BadRequest as exc:
        return _bad(str(exc))
    refs = data.get("references") if isinstance(data, dict) else None
    if not isinstance(refs, list) or not all(isinstance(r, str) and r for r in refs):
        return _bad('expected {"references": [non-empty strings]}')
    sim.record_call(len(refs))
    fault = sim.fault
    if fault.applies_to(refs):
        if fault.mode == "latency":
            await _wait(request, sim, fault, fault.latency_ms / 1000)
        elif fault.mode == "hang":
            await _wait(request, sim, fault, HANG_SECONDS)
            return JSONResponse({"error": "HANG_ENDED"}, status_code=504)
        elif fault.mode == "error500":
            return JSONResponse({"error": "INTERNAL"}, status_code=500)
        elif fault.mode == "error503":
            return JSONResponse({"error": "UNAVAILABLE"}, status_code=503, headers={"Retry-After": "1"})
        elif fault.mode == "malformed":
            return Response(b'{"claims": [{"reference": ', media_type="application/json")
        elif fault.mode == "refuse":
            return _TruncatedResponse()
    claims = [_claim_json(sim.lookup(ref)) for ref in dict.fromkeys(refs)]
    return Response(orjson.dumps({"claims": claims}), media_type="application/json")


async def _put_claim(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    reference = request.path_params["reference"]
    try:
        data = await _json_body(request)
        if not isinstance(data, dict):
            raise _BadRequest("expected an object")
        try:
            state = CollectionState(str(data.get("state")))
        except ValueError:
            raise _BadRequest("unknown state") from None
        since_raw = data.get("since")
        if since_raw is not None and not isinstance(since_raw, str):
            raise _BadRequest("since must be YYYY-MM-DD or null")
        try:
            since = datetime.date.fromisoformat(since_raw) if since_raw else None
        except ValueError:
            raise _BadRequest("since must be YYYY-MM-DD or null") from None
        reason = data.get("returnReason")
        if reason is not None and not isinstance(reason, str):
            raise _BadRequest("returnReason must be a string or null")
    except _BadRequest as exc:
        return _bad(str(exc))
    claim = ClaimCollection(reference, state, since, reason)
    sim.set_claim(claim)
    return JSONResponse(_claim_json(claim))


async def _stats(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    return JSONResponse({"statusCalls": sim.status_calls, "referencesAsked": sim.references_asked})


async def _reset_stats(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    sim.reset_stats()
    return Response(status_code=204)


async def _set_faults(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    try:
        data = await _json_body(request)
    except _BadRequest as exc:
        return _bad(str(exc))
    if not isinstance(data, dict) or data.get("mode") not in FAULT_MODES:
        return _bad(f"mode must be one of {sorted(FAULT_MODES)}")
    latency = data.get("latencyMs", 0) or 0
    if not isinstance(latency, int) or isinstance(latency, bool) or not 0 <= latency <= 600_000:
        return _bad("latencyMs must be an integer between 0 and 600000")
    refs = data.get("references")
    if refs is not None and (not isinstance(refs, list) or not all(isinstance(r, str) for r in refs)):
        return _bad("references must be a list of strings or null")
    sim.fault = FaultConfig(
        mode=data["mode"], latency_ms=latency, references=frozenset(refs) if refs is not None else None
    )
    return JSONResponse(
        {
            "mode": sim.fault.mode,
            "latencyMs": sim.fault.latency_ms,
            "references": sorted(refs) if refs is not None else None,
        }
    )


async def _clear_faults(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    sim.fault = FaultConfig()
    return Response(status_code=204)


def create_simulator_app(initial: Mapping[str, ClaimCollection] | None = None) -> Starlette:
    app = Starlette(
        routes=[
            Route("/v1/claims/status", _status, methods=["POST"]),
            Route("/admin/claims/{reference}", _put_claim, methods=["PUT"]),
            Route("/admin/stats", _stats, methods=["GET"]),
            Route("/admin/reset-stats", _reset_stats, methods=["POST"]),
            Route("/admin/faults", _set_faults, methods=["POST"]),
            Route("/admin/faults", _clear_faults, methods=["DELETE"]),
        ]
    )
    app.state.sim = SimulatorState(claims=dict(initial or {}))
    return app


def create_demo_app() -> Starlette:
    return create_simulator_app(DEMO_COLLECTION_STATES)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Gældsstyrelsen claim status simulator (demo data)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    uvicorn.run(create_demo_app(), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
