"""The floor (performance.md): a hand-written Starlette + asyncpg + orjson endpoint that answers the overview
document with the same JSON bytes as the gateway, and nothing else. ``make bench`` measures the gateway as a
ratio to it, in the same run.

It does what the gateway must at least do for this answer: verify the bearer token (PyJWT, HS256), read the
citizen, their claims with outstanding sums, the departments and the statement entries (four prepared asyncpg
statements, ``= ANY($1)``), and build the body. No GraphQL, limits, rate limits, logging or security headers.

    python -m tests.bench.floor --port P   (GATEWAY_DATABASE_URL, GATEWAY_AUTH_SECRET as for the gateway)
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import asyncpg
import jwt
import orjson
import uvicorn
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.domain.money import to_decimal_string
from gateway.settings import Settings

CLAIMS = (
    "SELECT c.id, c.reference, c.department_id, c.title, c.due_on, "
    "(SELECT CAST(coalesce(sum(e.amount_oere), 0) AS BIGINT) FROM ledger_entries e WHERE e.claim_id = c.id) "
    "FROM claims c WHERE c.citizen_id = $1 ORDER BY c.due_on, c.id"
)
ENTRIES = (
    "SELECT claim_id, posted_on, kind, text, amount_oere FROM ledger_entries WHERE claim_id = ANY($1::bigint[]) "
    "ORDER BY claim_id, posted_on, id"
)


def create_floor(settings: Settings, cost: dict[str, Any]) -> Starlette:
    """``cost``: the gateway's ``extensions`` for the overview (constant for a citizen)."""
    url = make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    secret = settings.signing_secret
    assert secret is not None
    pool: asyncpg.Pool | None = None

    async def overview(request: Request) -> Response:
        nonlocal pool
        token = request.headers["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], audience=settings.auth_audience, issuer=settings.auth_issuer
        )
        if pool is None:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
        async with pool.acquire() as conn:
            citizen = await conn.fetchrow("SELECT id, cpr, name FROM citizens WHERE cpr = $1", claims["cpr"])
            rows = await conn.fetch(CLAIMS, citizen[0])
            departments = dict(
                await conn.fetch("SELECT id, name FROM departments WHERE id = ANY($1::bigint[])", [r[2] for r in rows])
            )
            entries = await conn.fetch(ENTRIES, [r[0] for r in rows])
        lines: dict[int, list[dict[str, Any]]] = {r[0]: [] for r in rows}
        for claim_id, posted_on, kind, text, amount in entries:
            lines[claim_id].append(
                {
                    "postedOn": posted_on.isoformat(),
                    "kind": kind,
                    "text": text,
                    "amount": {"amount": to_decimal_string(amount)},
                }
            )
        nodes = [
            {
                "id": _global_id(r[0]),
                "reference": r[1],
                "title": r[3],
                "dueOn": r[4].isoformat(),
                "status": "OPEN" if r[5] > 0 else "PAID",
                "outstanding": {"amount": to_decimal_string(r[5])},
                "sender": {"name": departments[r[2]]},
                "statement": {"lines": lines[r[0]]},
            }
            for r in rows
        ]
        me = {
            "cpr": citizen[1],
            "name": citizen[2],
            "totalOutstanding": {"amount": to_decimal_string(sum(max(r[5], 0) for r in rows))},
            "claims": {"nodes": nodes},
        }
        return Response(orjson.dumps({"data": {"me": me}, **cost}), media_type="application/json")

    return Starlette(routes=[Route("/graphql", overview, methods=["POST"])])


def _global_id(claim_id: int) -> str:
    import base64

    return base64.urlsafe_b64encode(f"Claim:{claim_id}".encode()).decode().rstrip("=")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    cost = orjson.loads(os.environ["BENCH_FLOOR_EXTENSIONS"])
    app = create_floor(Settings(), cost)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", http="h11", loop="uvloop")


if __name__ == "__main__":
    main()
