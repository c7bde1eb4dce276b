"""Request/response helpers shared by the simulator's API, pages and admin endpoints."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.payments.client import CURRENCY, ISO_DATE_RE, MAX_AMOUNT_OERE, looks_like_cpr
from adapters.payments.simulator.state import Problem, SimAgreement, SimCharge, SimPayment, SimulatorState

Handler = Callable[[Request], Awaitable[Response]]


def problem_response(problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": problem.code,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    }
    if problem.index is not None:
        body["index"] = problem.index
    return JSONResponse(body, status_code=problem.status, media_type="application/problem+json")


def sim_of(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.sim
    return state


def public_url(request: Request) -> str:
    return sim_of(request).public_url or str(request.base_url).rstrip("/")


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Problem(400, "VALIDATION_FAILED", "body is not JSON") from exc
    if not isinstance(body, dict):
        raise Problem(400, "VALIDATION_FAILED", "body must be a JSON object")
    return body


# The provider's own request validation is hand-written on purpose: each check maps to one of the provider's
# error codes (VALIDATION_FAILED, INVALID_AMOUNT, CPR_NOT_ALLOWED), in the order the provider applies them.


def str_field(body: dict[str, Any], key: str, *, max_len: int = 200, optional: bool = False) -> Any:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise Problem(400, "VALIDATION_FAILED", f"{key} must be a string of 1-{max_len} characters")
    if looks_like_cpr(value, bare_digits=False):
        raise Problem(400, "CPR_NOT_ALLOWED", f"{key} must not contain a CPR number")
    return value


def url_field(body: dict[str, Any], key: str, *, optional: bool = False) -> Any:
    value = str_field(body, key, max_len=2000, optional=optional)
    if value is not None and not value.startswith(("http://", "https://")):
        raise Problem(400, "VALIDATION_FAILED", f"{key} must be an absolute http(s) URL")
    return value


def money_field(body: dict[str, Any], key: str) -> int:
    money = body.get(key)
    if not isinstance(money, dict) or money.get("currency") != CURRENCY or set(money) != {"currency", "value"}:
        raise Problem(400, "VALIDATION_FAILED", f'{key} must be {{"currency": "DKK", "value": <int øre>}}')
    value = money["value"]
    if type(value) is not int or not 0 < value <= MAX_AMOUNT_OERE:
        raise Problem(400, "INVALID_AMOUNT", f"{key}.value must be a positive integer number of øre")
    return value


def date_field(body: dict[str, Any], key: str) -> date:
    value = body.get(key)
    if isinstance(value, str) and ISO_DATE_RE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise Problem(400, "VALIDATION_FAILED", f"{key} must be a date, YYYY-MM-DD")


def int_field(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body.get(key)
    if type(value) is not int or not low <= value <= high:
        raise Problem(400, "VALIDATION_FAILED", f"{key} must be an integer from {low} to {high}")
    return value


def payment_of(request: Request) -> SimPayment:
    payment = sim_of(request).payment(request.path_params["id"])
    if payment is None:
        raise Problem(404, "NOT_FOUND", "no such payment")
    return payment


def agreement_of(request: Request) -> SimAgreement:
    agreement = sim_of(request).agreements.get(request.path_params["id"])
    if agreement is None:
        raise Problem(404, "NOT_FOUND", "no such agreement")
    return agreement


def charge_of(request: Request) -> SimCharge:
    charge = sim_of(request).charges.get(request.path_params["id"])
    if charge is None:
        raise Problem(404, "NOT_FOUND", "no such charge")
    return charge


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def endpoint(name: str, handler: Handler, *, provider_api: bool = False) -> Handler:
    """Count the call under ``name``, check the API key on the provider API, turn a Problem into its answer."""

    async def wrapped(request: Request) -> Response:
        sim = sim_of(request)
        sim.calls[name] += 1
        if provider_api and sim.api_key is not None:
            expected = f"Bearer {sim.api_key}".encode()
            given = request.headers.get("Authorization", "").encode()
            if not secrets.compare_digest(given, expected):
                return problem_response(Problem(401, "UNAUTHORIZED", "missing or wrong API key"))
        try:
            return await handler(request)
        except Problem as problem:
            return problem_response(problem)

    return wrapped
