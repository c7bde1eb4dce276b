"""Authentication (Bearer JWT) and authorisation: a citizen sees only their own data; caseworkers look
citizens up by CPR and every look-up is written to the access log."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from adapters.ledger import models as m
from tests.api.test_overview import codes
from tests.conftest import ANNA, BO, CAMILLA, DAVID

CASEWORKER = "cw-1001"
ME = "{ me { id cpr name } }"


def claims_for(api: Any, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": api.settings.auth_issuer,
        "aud": api.settings.auth_audience,
        "iat": now,
        "exp": now + 600,
        "sub": "mitid-test-subject",
        "cpr": ANNA,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(api: Any, claims: dict[str, Any], *, secret: str | None = None, headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(claims, secret or api.settings.signing_secret, algorithm="HS256", headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def assert_unauthenticated(response: Any) -> None:
    assert response.status_code == 200 or response.status_code == 401, response.text
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert ANNA not in response.text
    assert "Anna" not in response.text


# --- authentication ---------------------------------------------------------------------------------


async def test_a_valid_citizen_token_is_accepted(api):
    body = await api.gql(ME, token=sign(api, claims_for(api)))
    assert "errors" not in body, body
    assert body["data"]["me"]["cpr"] == ANNA


async def test_no_token_gives_unauthenticated_on_me(api):
    response = await api.post(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None or body["data"]["me"] is None
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "Du skal være logget ind."


@pytest.mark.parametrize(
    "query",
    [
        '{ citizen(cpr: "1507804321") { name } }',
        '{ node(id: "Q2xhaW06MQ") { id } }',
        '{ nodes(ids: ["Q2xhaW06MQ"]) { id } }',
    ],
)
async def test_anonymous_cannot_use_any_entry_point(api, query):
    body = (await api.post(query)).json()
    assert "UNAUTHENTICATED" in codes(body)
    assert "Anna" not in json.dumps(body)


async def test_anonymous_may_read_public_contacts(api):
    body = (await api.post("{ contacts { paymentsOffice { phone } } }")).json()
    assert "errors" not in body
    assert body["data"]["contacts"]["paymentsOffice"]["phone"] == "8915 1188"


BAD_TOKENS = {
    "expired": lambda api: sign(api, claims_for(api, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)),
    "wrong_audience": lambda api: sign(api, claims_for(api, aud="some-other-app")),
    "wrong_issuer": lambda api: sign(api, claims_for(api, iss="https://evil.example")),
    "wrong_signature": lambda api: sign(api, claims_for(api), secret="not-the-real-key-" + "x" * 40),
    "alg_none": lambda api: unsigned(claims_for(api)),
    "alg_None_capitalised": lambda api: unsigned(claims_for(api), alg="None"),
    "garbage": lambda api: "this.is.not-a-jwt",
    "random_words": lambda api: "hello",
    "not_yet_valid": lambda api: sign(api, claims_for(api, nbf=int(time.time()) + 3600)),
    "no_exp": lambda api: sign(api, claims_for(api, exp=None)),
    "no_sub": lambda api: sign(api, claims_for(api, sub=None)),
    "no_cpr_no_role": lambda api: sign(api, claims_for(api, cpr=None)),
    "invalid_cpr": lambda api: sign(api, claims_for(api, cpr="3213991234")),
    "truncated_signature": lambda api: api.token(citizen=ANNA)[:-6],
    "tampered_payload": lambda api: _tamper(api.token(citizen=BO)),
}


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["cpr"] = ANNA
    return f"{header}.{_b64(json.dumps(data).encode())}.{signature}"


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_bad_tokens_give_top_level_unauthenticated(api, kind):
    response = await api.post(ME, token=BAD_TOKENS[kind](api))
    assert_unauthenticated(response)


async def test_rs256_token_is_rejected_when_an_hs256_secret_is_configured(api):
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims_for(api), key, algorithm="RS256")
    assert_unauthenticated(await api.post(ME, token=token))


@pytest.mark.parametrize("scheme", ["Basic", "Token", "bearer-ish", ""])
async def test_non_bearer_scheme_is_unauthenticated(api, scheme):
    token = api.token(citizen=ANNA)
    response = await api.client.post(
        "/graphql", json={"query": ME}, headers={"Authorization": f"{scheme} {token}".strip()}
    )
    assert_unauthenticated(response)


async def test_bearer_without_token_is_unauthenticated(api):
    response = await api.client.post("/graphql", json={"query": ME}, headers={"Authorization": "Bearer "})
    assert_unauthenticated(response)


async def test_lowercase_bearer_scheme_is_accepted(api):
    token = api.token(citizen=ANNA)
    response = await api.client.post("/graphql", json={"query": ME}, headers={"Authorization": f"bearer {token}"})
    assert response.json()["data"]["me"]["cpr"] == ANNA


# --- a citizen sees only their own data --------------------------------------------------------------

OWN_IDS = """
{ me { id claims { nodes { id sender { id } } } mobilePayAccounts { id } } }
"""


async def _ids_of(api: Any, cpr: str) -> dict[str, list[str]]:
    me = (await api.gql(OWN_IDS, citizen=cpr))["data"]["me"]
    return {
        "Citizen": [me["id"]],
        "Claim": [c["id"] for c in me["claims"]["nodes"]],
        "Department": [c["sender"]["id"] for c in me["claims"]["nodes"]],
        "MobilePayAccount": [a["id"] for a in me["mobilePayAccounts"]],
    }


async def test_citizen_cannot_use_the_caseworker_lookup(api):
    for cpr in (BO, ANNA):  # not even for themself
        response = await api.post(
            "{ citizen(cpr: $cpr) { name cpr claims { totalCount } } }".replace("$cpr", json.dumps(cpr)),
            token=api.token(citizen=ANNA),
        )
        body = response.json()
        assert codes(body) == ["FORBIDDEN"]
        assert body["data"] is None or body["data"]["citizen"] is None
        assert "Bo Nielsen" not in response.text
        assert BO not in response.text


async def test_citizen_cannot_read_another_citizen_by_node(api):
    bo, anna, david = await _ids_of(api, BO), await _ids_of(api, ANNA), await _ids_of(api, DAVID)
    foreign = bo["Citizen"] + bo["Claim"] + david["Citizen"] + david["Claim"] + david["MobilePayAccount"]
    for gid in foreign:
        response = await api.post(
            "query($id: ID!) { node(id: $id) { id ... on Citizen { name cpr } ... on Claim { reference } } }",
            {"id": gid},
            token=api.token(citizen=ANNA),
        )
        body = response.json()
        assert body == {"data": {"node": None}}, (gid, body)
        for secret in (BO, DAVID, "Bo Nielsen", "David Larsen", "RK-EJD-2024-0555", "RK-FOR-2023-0311"):
            assert secret not in response.text
    # ... while her own ids resolve
    own = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": anna["Claim"][0]}, citizen=ANNA)
    assert own["data"]["node"]["id"] == anna["Claim"][0]


async def test_foreign_node_looks_exactly_like_a_missing_one(api):
    bo = await _ids_of(api, BO)
    missing = base64.urlsafe_b64encode(b"Claim:987654321").decode().rstrip("=")
    q = "query($id: ID!) { node(id: $id) { id } }"
    foreign = await api.gql(q, {"id": bo["Claim"][0]}, citizen=ANNA)
    absent = await api.gql(q, {"id": missing}, citizen=ANNA)
    assert foreign == absent == {"data": {"node": None}}


async def test_citizen_cannot_read_another_citizen_by_nodes(api):
    bo, anna, david = await _ids_of(api, BO), await _ids_of(api, ANNA), await _ids_of(api, DAVID)
    ids = [anna["Claim"][0], bo["Citizen"][0], bo["Claim"][0], david["MobilePayAccount"][0], anna["Citizen"][0]]
    response = await api.post(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Citizen { name } ... on Claim { reference } } }",
        {"ids": ids},
        token=api.token(citizen=ANNA),
    )
    body = response.json()
    assert "errors" not in body
    result = body["data"]["nodes"]
    assert result[1:4] == [None, None, None]
    assert result[0]["id"] == anna["Claim"][0]
    assert result[4] == {"id": anna["Citizen"][0], "name": "Anna Jensen"}
    assert "Bo Nielsen" not in response.text
    assert "Privat" not in response.text  # David's MobilePay account name


async def test_departments_are_public_nodes(api):
    bo = await _ids_of(api, BO)
    body = await api.gql(
        "query($id: ID!) { node(id: $id) { id ... on Department { name } } }", {"id": bo["Department"][0]}, citizen=ANNA
    )
    assert body["data"]["node"]["name"] == "Ejendomsskat, Økonomi"


async def test_citizen_access_log_is_not_readable_by_another_citizen(api):
    await api.gql('{ citizen(cpr: "2203651122") { name } }', caseworker=CASEWORKER)
    anna_view = await api.gql("{ me { accessLog { totalCount } } }", citizen=ANNA)
    assert anna_view["data"]["me"]["accessLog"]["totalCount"] == 0
    bo_view = await api.gql("{ me { accessLog { totalCount } } }", citizen=BO)
    assert bo_view["data"]["me"]["accessLog"]["totalCount"] == 1


# --- caseworkers ------------------------------------------------------------------------------------

LOOKUP = "query($cpr: String!) { citizen(cpr: $cpr) { id cpr name totalOutstanding { amount } claims { totalCount } } }"
ACCESS_LOG = "{ me { accessLog { totalCount nodes { id at actorKind actorId operation requestId } } } }"


async def test_caseworker_can_look_a_citizen_up_by_cpr(api):
    body = await api.gql(LOOKUP, {"cpr": CAMILLA}, caseworker=CASEWORKER)
    assert "errors" not in body, body
    citizen = body["data"]["citizen"]
    assert citizen["name"] == "Camilla Hansen"
    assert citizen["cpr"] == CAMILLA
    assert citizen["claims"]["totalCount"] == 2
    # 2175 + 2175 + 100 + 9800 = 14250.00
    assert citizen["totalOutstanding"]["amount"] == "14250.00"


async def test_caseworker_lookup_accepts_the_hyphenated_form(api):
    body = await api.gql(LOOKUP, {"cpr": "031192-2345"}, caseworker=CASEWORKER)
    assert body["data"]["citizen"]["name"] == "Camilla Hansen"


async def test_every_caseworker_lookup_is_in_the_citizens_access_log(api):
    before = await api.gql(ACCESS_LOG, citizen=ANNA)
    assert before["data"]["me"]["accessLog"]["totalCount"] == 0
    # The access log stores the server's request id (never a client's: issue 11, defect 8).
    rids = []
    for _ in range(2):
        response = await api.post(
            LOOKUP,
            {"cpr": ANNA},
            token=api.token(caseworker=CASEWORKER),
            headers={"X-Request-ID": f"test-{uuid.uuid4().hex[:12]}"},
        )
        rids.append(response.headers["X-Request-ID"])
        assert response.json()["data"]["citizen"]["name"] == "Anna Jensen"
    log = (await api.gql(ACCESS_LOG, citizen=ANNA))["data"]["me"]["accessLog"]
    assert log["totalCount"] == 2
    entries = log["nodes"]
    assert {e["requestId"] for e in entries} == set(rids)
    for e in entries:
        assert e["actorKind"] == "CASEWORKER"
        assert e["actorId"] == CASEWORKER
        assert e["operation"]
        assert e["at"]
    # newest first
    assert [e["requestId"] for e in entries] == list(reversed(rids))
    # the citizen reading their own data is not a caseworker look-up
    again = (await api.gql(ACCESS_LOG, citizen=ANNA))["data"]["me"]["accessLog"]
    assert again["totalCount"] == 2


async def test_generated_request_id_is_logged_and_returned(api):
    response = await api.post(LOOKUP, {"cpr": DAVID}, token=api.token(caseworker=CASEWORKER))
    rid = response.headers["X-Request-ID"]
    assert rid
    log = (await api.gql(ACCESS_LOG, citizen=DAVID))["data"]["me"]["accessLog"]["nodes"]
    assert [e["requestId"] for e in log] == [rid]


async def test_lookup_of_an_unknown_cpr_returns_null_and_is_logged(api):
    unknown = "0101011234"
    response = await api.post(
        LOOKUP,
        {"cpr": unknown},
        token=api.token(caseworker=CASEWORKER),
        headers={"X-Request-ID": f"unknown-{uuid.uuid4().hex[:12]}"},
    )
    rid = response.headers["X-Request-ID"]  # the server's id is what the access log stores
    assert response.json() == {"data": {"citizen": None}}
    async with api.services.db.read() as conn:
        rows = (await conn.execute(select(m.AccessLogEntry).where(m.AccessLogEntry.request_id == rid))).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.actor_id == CASEWORKER
    assert row.actor_kind == "CASEWORKER"
    assert row.citizen_id is None
    # the log never stores the CPR itself in clear text
    assert unknown not in (row.detail or "")
    assert unknown not in row.operation


async def test_caseworker_node_lookup_is_logged_too(api):
    anna_id = (await api.gql("{ me { id } }", citizen=ANNA))["data"]["me"]["id"]
    response = await api.post(
        "query($id: ID!) { node(id: $id) { ... on Citizen { name } } }",
        {"id": anna_id},
        token=api.token(caseworker=CASEWORKER),
        headers={"X-Request-ID": f"node-{uuid.uuid4().hex[:12]}"},
    )
    rid = response.headers["X-Request-ID"]  # the server's id is what the access log stores
    assert response.json()["data"]["node"]["name"] == "Anna Jensen"
    log = (await api.gql(ACCESS_LOG, citizen=ANNA))["data"]["me"]["accessLog"]["nodes"]
    assert [(e["actorId"], e["requestId"]) for e in log] == [(CASEWORKER, rid)]


async def test_me_is_null_for_a_caseworker(api):
    body = await api.gql(ME, caseworker=CASEWORKER)
    assert body == {"data": {"me": None}}


@pytest.mark.parametrize(
    "cpr",
    ["3213991234", "1513801234", "150780432", "15078043210", "15O7804321", "abcdefghij", "", "2902011234"],
)
async def test_invalid_cpr_is_bad_user_input_and_never_echoed(api, cpr):
    for lang in ("da", "en"):
        response = await api.post(
            LOOKUP, {"cpr": cpr}, token=api.token(caseworker=CASEWORKER), headers={"Accept-Language": lang}
        )
        body = response.json()
        assert codes(body) == ["BAD_USER_INPUT"], body
        if cpr:
            assert cpr not in response.text
    # nothing looked up, nothing logged... but the code path must not crash either


async def test_cpr_never_appears_in_any_error_body(api):
    citizen_token = api.token(citizen=ANNA)
    cw_token = api.token(caseworker=CASEWORKER)
    cases = [
        # a citizen using the caseworker look-up
        (f'{{ citizen(cpr: "{BO}") {{ name }} }}', None, citizen_token),
        # a CPR given as an Int literal: graphql-core's validation message would quote it
        (f"{{ citizen(cpr: {BO}) {{ name }} }}", None, cw_token),
        # a CPR in a variable of the wrong type
        ("query($c: Int!) { citizen(cpr: $c) { name } }", {"c": int(BO)}, cw_token),
        # an unknown argument with the CPR in it
        (f'{{ me(cpr: "{BO}") {{ name }} }}', None, citizen_token),
        # a CPR-shaped node id
        (f'{{ node(id: "{BO}") {{ id }} }}', None, cw_token),
        (f'{{ node(id: "{BO[:6]}-{BO[6:]}") {{ id }} }}', None, cw_token),
        # a syntax error next to a CPR
        (f'{{ citizen(cpr: "{BO}" {{ name }} }}', None, cw_token),
        # anonymous
        (f'{{ citizen(cpr: "{BO}") {{ name }} }}', None, None),
    ]
    for query, variables, token in cases:
        response = await api.post(query, variables, token=token)
        body = response.json()
        assert body.get("errors"), (query, body)
        assert BO not in response.text, (query, response.text)
        assert f"{BO[:6]}-{BO[6:]}" not in response.text, (query, response.text)
