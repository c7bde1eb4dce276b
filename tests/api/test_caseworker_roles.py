"""Caseworkers' roles through whole requests (issue 12, item 7): the errors a refused viewer gets, per kind of
viewer, in the API's format; the matrix (test_authorization_matrix.py) has every operation's cells."""

from __future__ import annotations

import subprocess
import sys

import jwt
import pytest

from tests.api.test_auth import claims_for, sign
from tests.api.test_overview import codes
from tests.conftest import ANNA, Api

CASEWORKER = "cw-1001"
APPROVE = (
    "mutation($input: ApproveInstallmentPlanInput!) { approveInstallmentPlan(input: $input) "
    "{ plan { id } userErrors { code } } }"
)
APPROVE_VARS = {"input": {"planId": "SW5zdGFsbG1lbnRQbGFuOjE", "note": "ok", "idempotencyKey": "roles-1"}}


async def test_who_is_refused_and_how(api: Api) -> None:
    reader = api.token(caseworker=CASEWORKER, read_only=True)
    as_reader = await api.gql(APPROVE, APPROVE_VARS, token=reader, headers={"Accept-Language": "en"})
    assert codes(as_reader) == ["FORBIDDEN"]
    assert as_reader["errors"][0]["message"] == "Your role may only read; it cannot act on a citizen's behalf."
    as_citizen = await api.gql(APPROVE, APPROVE_VARS, citizen=ANNA, headers={"Accept-Language": "en"})
    assert codes(as_citizen) == ["FORBIDDEN"]
    assert as_citizen["errors"][0]["message"] == "Only caseworkers have access to this."
    assert codes(await api.gql(APPROVE, APPROVE_VARS)) == ["UNAUTHENTICATED"]
    # The read-only caseworker reads.
    body = await api.gql("{ caseworkerItems(first: 1) { totalCount } }", token=reader)
    assert "errors" not in body, body


@pytest.mark.parametrize("roles", [["caseworker.readonly"], ["dashboard"], "Caseworker"])
async def test_an_unknown_role_sees_nothing(api: Api, roles: object) -> None:
    token = sign(api, claims_for(api, cpr=None, sub="cw-9", roles=roles))
    for query in ("{ caseworkerItems(first: 1) { totalCount } }", "{ contacts { paymentsOffice { phone } } }"):
        body = await api.gql(query, token=token)
        assert codes(body) == ["UNAUTHENTICATED"] and body["data"] is None, body


def test_gateway_token_mints_a_read_only_caseworker_token() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "token", "--caseworker", CASEWORKER, "--read-only", "--unit", "BK"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    claims = jwt.decode(out, options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["unit"]) == (CASEWORKER, "caseworker.read", "BK")
