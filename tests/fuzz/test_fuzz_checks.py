"""``make fuzz``'s judgement of an answer (tools/fuzz/run.py), on real answers of the gateway: refusals are the
API working, an INTERNAL error (a fault injected into a resolver), a 5xx or a body that is no GraphQL response is
a server error. Without this, a fuzz run that can never fail would look the same as a clean one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ANNA

RUN_PY = Path(__file__).resolve().parents[2] / "tools" / "fuzz" / "run.py"


def load_fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gateway_fuzz_run", RUN_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


fuzz = load_fuzz()


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ("{ me { name } }", {"citizen": ANNA}),  # data
        ('{ citizen(cpr: "1507804321") { name } }', {"citizen": ANNA}),  # FORBIDDEN
        ("{ me { name } }", {}),  # UNAUTHENTICATED
        ('{ node(id: "nope") { id } }', {"citizen": ANNA}),  # BAD_USER_INPUT from a resolver, with a path
        ("{ me { nosuchfield } }", {"citizen": ANNA}),  # validation
        ("{ me { ", {"citizen": ANNA}),  # syntax
    ],
)
async def test_answers_as_designed_are_no_server_errors(api: Any, query: str, who: dict[str, str]) -> None:
    token = api.token(**who) if who else None
    response = await api.post(query, token=token)
    assert fuzz.server_error(response.status_code, response.content) is None, response.text


async def test_an_unexpected_exception_in_a_resolver_is_a_server_error(api: Any, monkeypatch: Any) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("injected fault")

    monkeypatch.setattr("adapters.ledger.queries.all_departments", broken)
    response = await api.post("{ contacts { departments { name } } }")
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    reason = fuzz.server_error(response.status_code, response.content)
    assert reason is not None and "INTERNAL" in reason


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"data": null}'),
        (503, b"Service Unavailable"),
        (200, b"<html>oops</html>"),
        (200, b"[1, 2]"),
        (200, b'{"errors": [{"message": "Cannot return null for non-nullable field Query.contacts."}]}'),
    ],
)
def test_5xx_and_broken_bodies_are_server_errors(status: int, body: bytes) -> None:
    assert fuzz.server_error(status, body) is not None


def test_outcomes_are_summarised_by_error_code() -> None:
    assert fuzz.outcome(200, b'{"data": {"me": null}}') == "ok"
    body = (
        b'{"data": null, "errors": [{"extensions": {"code": "FORBIDDEN"}}, {"extensions": {"code": "BAD_USER_INPUT"}}]}'
    )
    assert fuzz.outcome(200, body) == "BAD_USER_INPUT+FORBIDDEN"
