"""Error codes and languages, query limits, the HTTP edges of /graphql, GraphiQL, and contacts (R8, R15)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from gateway.app import build_services, create_app
from tests.api.test_overview import codes
from tests.conftest import ANNA, make_settings

CASEWORKER = "cw-1001"
EN = {"Accept-Language": "en"}


def _message(body: dict) -> str:
    return body["errors"][0]["message"]


# --- languages ------------------------------------------------------------------------------------------


async def test_forbidden_message_is_danish_by_default_and_english_on_request(api):
    q = '{ citizen(cpr: "2203651122") { name } }'
    da = await api.gql(q, citizen=ANNA)
    en = await api.gql(q, citizen=ANNA, headers=EN)
    assert codes(da) == codes(en) == ["FORBIDDEN"]
    assert _message(da) != _message(en)
    assert "sagsbehandlere" in _message(da)
    assert "caseworkers" in _message(en).lower()


async def test_unauthenticated_message_in_both_languages(api):
    da = (await api.post("{ me { name } }")).json()
    en = (await api.post("{ me { name } }", headers=EN)).json()
    assert codes(da) == codes(en) == ["UNAUTHENTICATED"]
    assert _message(da) == "Du skal være logget ind."
    assert _message(en) == "You must be signed in."


async def test_invalid_token_message_in_both_languages(api):
    da = (await api.post("{ me { name } }", token="garbage")).json()
    en = (await api.post("{ me { name } }", token="garbage", headers=EN)).json()
    assert codes(da) == codes(en) == ["UNAUTHENTICATED"]
    assert "ugyldigt" in _message(da)
    assert "invalid" in _message(en)


async def test_bad_user_input_messages_in_both_languages(api):
    q = '{ citizen(cpr: "3213991234") { name } }'
    da = await api.gql(q, caseworker=CASEWORKER)
    en = await api.gql(q, caseworker=CASEWORKER, headers=EN)
    assert codes(da) == codes(en) == ["BAD_USER_INPUT"]
    assert "CPR-nummeret er ugyldigt" in _message(da)
    assert "CPR number is not valid" in _message(en)
    page_da = await api.gql("{ me { claims(first: 500) { totalCount } } }", citizen=ANNA)
    page_en = await api.gql("{ me { claims(first: 500) { totalCount } } }", citizen=ANNA, headers=EN)
    assert "skal være mellem 0 og 100" in _message(page_da)
    assert "must be between 0 and 100" in _message(page_en)


@pytest.mark.parametrize(
    ("header", "english"),
    [
        ("en", True),
        ("en-GB", True),
        ("en-US,en;q=0.9", True),
        ("da, en;q=0.8", False),
        ("en;q=0.5, da", False),
        ("de-DE", False),
        ("fr, en;q=0.3", True),
        ("da-DK", False),
        ("", False),
        ("*", False),
        ("en;q=abc", False),
    ],
)
async def test_accept_language_negotiation(api, header, english):
    body = (await api.post("{ me { name } }", headers={"Accept-Language": header})).json()
    assert _message(body) == ("You must be signed in." if english else "Du skal være logget ind.")


async def test_notices_follow_the_language(api):
    q = "{ me { notices { code message } } }"
    da = {n["code"]: n["message"] for n in (await api.gql(q, citizen=ANNA))["data"]["me"]["notices"]}
    en = {n["code"]: n["message"] for n in (await api.gql(q, citizen=ANNA, headers=EN))["data"]["me"]["notices"]}
    assert set(da) == set(en) and "AT_COLLECTION" in da
    assert da["AT_COLLECTION"] != en["AT_COLLECTION"]
    assert "inddrivelse" in da["AT_COLLECTION"]
    assert "collection" in en["AT_COLLECTION"]


# --- query errors ---------------------------------------------------------------------------------------


def deep_query(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"claims {{ installmentPlan {{ {inner} }} }}"
    return f"{{ me {{ claims {{ nodes {{ installmentPlan {{ {inner} }} }} }} }} }}"


async def test_too_deep_query_is_query_too_complex(api):
    response = await api.post(deep_query(8), token=api.token(citizen=ANNA))
    body = response.json()
    assert codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert body.get("data") is None
    en = (await api.post(deep_query(8), token=api.token(citizen=ANNA), headers=EN)).json()
    assert _message(body) != _message(en)
    assert "complex" in _message(en)


async def test_query_at_normal_depth_is_fine(api):
    body = await api.gql(deep_query(1), citizen=ANNA)
    assert "errors" not in body, body


async def test_too_many_aliases_is_query_too_complex(api):
    aliases = " ".join(f"a{i}: me {{ id }}" for i in range(40))
    body = (await api.post(f"{{ {aliases} }}", token=api.token(citizen=ANNA))).json()
    assert codes(body) == ["QUERY_TOO_COMPLEX"], body


async def test_too_many_tokens_is_query_too_complex(api):
    fields = " ".join(["id"] * 5000)
    body = (await api.post(f"{{ me {{ {fields} }} }}", token=api.token(citizen=ANNA))).json()
    assert codes(body) == ["QUERY_TOO_COMPLEX"], body


async def test_too_complex_query_touches_no_database(api):
    api.sql.reset()
    await api.post(deep_query(8), token=api.token(citizen=ANNA))
    assert api.sql.count == 0


@pytest.mark.parametrize("query", ["{ me { id ", "query {", "{ me { id } } }", "nonsense", "{ me(: ) }"])
async def test_syntax_error_is_bad_user_input(api, query):
    response = await api.post(query, token=api.token(citizen=ANNA))
    body = response.json()
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert body.get("data") is None
    assert "locations" in body["errors"][0]


@pytest.mark.parametrize(
    "query",
    [
        "{ me { doesNotExist } }",
        "{ nope }",
        "{ me { claims { nodes { outstanding } } } }",  # object without a selection
        '{ me { claims(first: "ten") { totalCount } } }',
        "{ me { claims(unknownArg: 1) { totalCount } } }",
    ],
)
async def test_validation_errors_are_bad_user_input(api, query):
    body = (await api.post(query, token=api.token(citizen=ANNA))).json()
    assert codes(body), body
    assert set(codes(body)) == {"BAD_USER_INPUT"}, body


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($x: Int!) { me { claims(first: $x) { totalCount } } }", {}),
        ("query($x: Int!) { me { claims(first: $x) { totalCount } } }", {"x": "ten"}),
        ("query($x: Int) { me { claims(first: $x) { totalCount } } }", {"x": 1.5}),
        ("query($s: ClaimStatus) { me { claims(filter: {status: $s}) { totalCount } } }", {"s": "BOGUS"}),
    ],
    ids=["missing", "string-for-int", "float-for-int", "unknown-enum"],
)
async def test_invalid_variables_are_bad_user_input(api, query, variables):
    body = (await api.post(query, variables, token=api.token(citizen=ANNA))).json()
    assert codes(body) == ["BAD_USER_INPUT"], body


def raw_client(api) -> httpx.AsyncClient:
    """A client that sees what a browser would: a crash is a 500 response, not an exception in the test."""
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway.test")


@pytest.mark.parametrize(
    "payload",
    [{}, {"query": None}, {"variables": {}}, {"query": ""}, {"query": 42}],
    ids=["empty", "null", "no-query", "blank", "not-a-string"],
)
async def test_empty_or_missing_query_is_a_json_error(api, payload):
    async with raw_client(api) as client:
        auth = {"Authorization": f"Bearer {api.token(citizen=ANNA)}"}
        response = await client.post("/graphql", json=payload, headers=auth)
        assert response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/json"), payload
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (payload, body)


async def test_every_error_carries_a_fixed_code(api):
    fixed = {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "BAD_USER_INPUT",
        "UPSTREAM_UNAVAILABLE",
        "QUERY_TOO_COMPLEX",
        "RATE_LIMITED",
        "INTERNAL",
    }
    bodies = [
        (await api.post("{ me { id } }")).json(),
        (await api.post("{ me { x } }", token=api.token(citizen=ANNA))).json(),
        (await api.post("{ me { claims(first: -5) { totalCount } } }", token=api.token(citizen=ANNA))).json(),
        (await api.post('{ citizen(cpr: "1") { id } }', token=api.token(citizen=ANNA))).json(),
        (await api.post(deep_query(9), token=api.token(citizen=ANNA))).json(),
    ]
    for body in bodies:
        assert body["errors"]
        for error in body["errors"]:
            assert error["extensions"]["code"] in fixed, error
            assert set(error) <= {"message", "locations", "path", "extensions"}


# --- HTTP edges -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b'{"query": "{ me { id } }"', b"not json", b"\xff\xfe"], ids=["truncated", "text", "bytes"]
)
async def test_invalid_json_body_gives_a_json_error_with_a_code(api, content):
    async with raw_client(api) as client:
        response = await client.post("/graphql", content=content, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Traceback" not in response.text


async def test_get_without_html_accept_is_a_json_error(api):
    for accept in ("application/json", "*/*", "application/graphql-response+json"):
        response = await api.client.get("/graphql", headers={"Accept": accept})
        assert response.status_code == 405
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "POST" in response.headers.get("allow", "")


async def test_queries_are_never_accepted_in_the_url(api):
    # a CPR in a query argument must never end up in a URL (and so in access logs)
    response = await api.client.get(
        "/graphql", params={"query": '{ citizen(cpr: "1507804321") { name } }'}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 405
    assert "Anna" not in response.text


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append((tag, a["src"] or ""))
        if tag == "link" and a.get("href"):
            self.urls.append((tag, a["href"] or ""))


async def test_graphiql_is_served_with_local_assets_only(api):
    response = await api.client.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "GraphiQL" in html
    parser = _Assets()
    parser.feed(html)
    assert len([u for t, u in parser.urls if t == "script"]) >= 2
    assert any(t == "link" for t, _ in parser.urls)
    for tag, url in parser.urls:
        assert not re.match(r"^(https?:)?//", url), f"{tag} loads {url} from outside the gateway"
        asset = await api.client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", html)
    # the default query is embedded, and no token or CPR is
    assert "Overview" in html
    assert ANNA not in html


async def test_graphiql_asset_types(api):
    html = (await api.client.get("/graphql", headers={"Accept": "text/html"})).text
    parser = _Assets()
    parser.feed(html)
    for tag, url in parser.urls:
        asset = await api.client.get(url)
        ctype = asset.headers["content-type"]
        if tag == "script":
            assert "javascript" in ctype, (url, ctype)
        else:
            assert "css" in ctype, (url, ctype)


async def test_graphiql_is_off_in_production(api):
    settings = make_settings(
        api.settings.database_url,
        api.settings.gaeldst_url,
        environment="production",
        auth_secret="a-production-secret-that-is-long-enough-0123456789",
        payments_webhook_secret="a-production-webhook-secret",
    )
    assert settings.graphiql_enabled is False
    services = build_services(settings)
    app = create_app(settings, services=services)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://prod.test") as client:
            page = await client.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 405
            assert "GraphiQL" not in page.text
            assert page.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            asset = await client.get("/graphiql-assets/graphiql.min.js")
            assert asset.status_code == 404
            # the API itself works, with the production secret and not the development one
            from gateway.auth import issue_token

            token = issue_token(settings, citizen_cpr=ANNA)
            ok = await client.post(
                "/graphql", json={"query": "{ me { name } }"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert ok.json()["data"]["me"]["name"] == "Anna Jensen"
            dev = await client.post(
                "/graphql",
                json={"query": "{ me { name } }"},
                headers={"Authorization": f"Bearer {api.token(citizen=ANNA)}"},
            )
            assert dev.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        await services.aclose()


def test_production_refuses_the_development_key_and_a_missing_key(api):
    from gateway.settings import DEV_SECRET

    with pytest.raises(ValueError, match="development signing key"):
        make_settings(
            api.settings.database_url, api.settings.gaeldst_url, environment="production", auth_secret=DEV_SECRET
        )
    with pytest.raises(ValueError, match="production needs"):
        make_settings(api.settings.database_url, api.settings.gaeldst_url, environment="production")


async def test_request_id_is_echoed_and_invalid_ones_replaced(api):
    ok = await api.post("{ contacts { paymentsOffice { phone } } }", headers={"X-Request-ID": "abc-12345678"})
    # A client's id is echoed separately; the request id is always the server's (issue 11, defect 8).
    assert ok.headers["X-Client-Request-ID"] == "abc-12345678"
    assert ok.headers["X-Request-ID"] != "abc-12345678"
    bad = await api.post("{ contacts { paymentsOffice { phone } } }", headers={"X-Request-ID": "x <script>"})
    assert bad.headers["X-Request-ID"] != "x <script>"
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", bad.headers["X-Request-ID"])


# --- contacts (R8, R15) ---------------------------------------------------------------------------------

CONTACTS = """
{ contacts {
  paymentsOffice { name phone email address web phoneHours { weekday opens closes } }
  collectionAgency { name phone web phoneHours { weekday opens closes } }
  departments { id code name contact { phone email phoneHours { weekday opens closes } } } } }
"""


async def test_contacts_betalingskontoret_and_gaeldsstyrelsen(api):
    body = await api.gql(CONTACTS, citizen=ANNA)
    assert "errors" not in body, body
    office = body["data"]["contacts"]["paymentsOffice"]
    assert "Betalingskontoret" in office["name"]
    assert office["phone"] == "8915 1188"
    assert office["email"].lower() == "betalingskontoret@randers.dk"
    assert "Laksetorvet 1" in office["address"]
    assert "8900 Randers C" in office["address"]
    assert office["phoneHours"] == [
        {"weekday": "TUESDAY", "opens": "09:00", "closes": "12:00"},
        {"weekday": "THURSDAY", "opens": "09:00", "closes": "12:00"},
    ]
    agency = body["data"]["contacts"]["collectionAgency"]
    assert agency["name"] == "Gældsstyrelsen"
    assert agency["phone"] == "7015 7304"
    assert "gaeldst.dk/borger" in agency["web"]
    assert {h["weekday"]: (h["opens"], h["closes"]) for h in agency["phoneHours"]} == {
        "MONDAY": ("09:00", "17:00"),
        "TUESDAY": ("09:00", "16:00"),
        "WEDNESDAY": ("09:00", "16:00"),
        "THURSDAY": ("09:00", "16:00"),
        "FRIDAY": ("09:00", "14:00"),
    }


async def test_contacts_list_every_sending_department(api):
    from adapters.ledger.seed import DEPARTMENTS

    body = await api.gql(CONTACTS, citizen=ANNA)
    deps = {d["code"]: d for d in body["data"]["contacts"]["departments"]}
    assert set(deps) >= {d["code"] for d in DEPARTMENTS}
    for d in DEPARTMENTS:
        assert deps[d["code"]]["name"] == d["name"]
        assert deps[d["code"]]["contact"]["phone"] == d["phone"]
        assert deps[d["code"]]["contact"]["phoneHours"] == d["phone_hours"]


async def test_contacts_need_no_login(api):
    body = (await api.post(CONTACTS)).json()
    assert "errors" not in body
    assert body["data"]["contacts"]["paymentsOffice"]["phone"] == "8915 1188"


async def test_several_operations_without_an_operation_name_are_refused(api):
    document = "query A { contacts { paymentsOffice { phone } } } query B { me { name } }"
    body = await api.gql(document, citizen=ANNA)
    assert body["data"] is None and codes(body) == ["BAD_USER_INPUT"]
    named = await api.client.post(
        "/graphql",
        json={"query": document, "operationName": "B"},
        headers={"Authorization": f"Bearer {api.token(citizen=ANNA)}"},
    )
    assert named.json()["data"] == {"me": {"name": "Anna Jensen"}}
