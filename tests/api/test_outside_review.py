"""Regressions for what an outside review over real HTTP found (December 2026): each test failed before its fix.
Whole requests through the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from tests.api.test_plans import CREATE, PREVIEW, codes, david_claims
from tests.conftest import ANNA, DAVID, Api

START = """
mutation($input: StartPaymentInput!) {
  startPayment(input: $input) { payment { id } userErrors { code field } }
}"""


@pytest.mark.parametrize("body", [b"5", b'"x"', b"null", b"true", b"1e999999", b"-0.5"])
async def test_a_json_body_that_is_not_an_object_is_a_400_not_a_500(api: Api, body: bytes) -> None:
    for media_type in ("application/json", "application/graphql-response+json"):
        response = await api.client.post(
            "/graphql",
            content=body,
            headers={
                "Content-Type": "application/json",
                "Accept": media_type,
                "Authorization": f"Bearer {api.token(citizen=ANNA)}",
            },
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "JSON object" in response.json()["errors"][0]["message"]


async def test_an_operation_name_holding_a_cpr_is_not_echoed(api: Api) -> None:
    for name in ("Q1507804321", "150780-4321"):
        response = await api.client.post(
            "/graphql",
            json={"query": "query Overview { me { name } }", "operationName": name},
            headers={"Authorization": f"Bearer {api.token(citizen=ANNA)}"},
        )
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "Unknown operation" in error["message"]
        assert "1507804321" not in response.text and "150780-4321" not in response.text
        assert "******-****" in error["message"]


@pytest.mark.parametrize("bad_key", ["ab\x00cd", "line\nbreak", "tab\tkey", "bell\x07"])
async def test_an_idempotency_key_with_a_control_character_is_refused(api: Api, bad_key: str) -> None:
    """PostgreSQL cannot store a NUL: the key was INTERNAL there (and stored elsewhere). Now a userError on both."""
    ids, _ = await david_claims(api)
    plan = {"claimIds": ids, "monthlyAmount": "700.00", "dayOfMonth": 1, "acceptTerms": True}
    body = await api.gql(CREATE, {"input": {**plan, "idempotencyKey": bad_key}}, citizen=DAVID)
    payload = body["data"]["createInstallmentPlan"]
    assert payload["plan"] is None
    assert payload["userErrors"] == [
        {
            "code": "INVALID_IDEMPOTENCY_KEY",
            "field": ["input", "idempotencyKey"],
            "message": payload["userErrors"][0]["message"],
        }
    ]
    created = await api.gql(CREATE, {"input": {**plan, "idempotencyKey": f"ok-{uuid.uuid4().hex}"}}, citizen=DAVID)
    assert created["data"]["createInstallmentPlan"]["userErrors"] == []  # nothing was held by the refused one


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/\x00x",
        "https://exa\r\nmple.org/",
        "https://example.org/r\nSet-Cookie: a=b",
        "https://example.org/a b",
        "https://example.org/\tx",
    ],
)
async def test_a_return_url_with_whitespace_or_control_characters_is_refused(api: Api, url: str) -> None:
    claims = (await api.gql("{ me { claims { nodes { id } } } }", citizen=ANNA))["data"]["me"]["claims"]["nodes"]
    body = await api.gql(
        START,
        {
            "input": {
                "claimIds": [claims[0]["id"]],
                "method": "CARD",
                "returnUrl": url,
                "idempotencyKey": f"ret-{uuid.uuid4().hex}",
            }
        },
        citizen=ANNA,
    )
    assert body["data"]["startPayment"] == {
        "payment": None,
        "userErrors": [{"code": "INVALID_RETURN_URL", "field": ["input", "returnUrl"]}],
    }


@pytest.mark.parametrize("amount", ["", "-350", "1e3", "350.001", "NaN"])
async def test_a_preview_with_an_unreadable_amount_says_only_that(api: Api, amount: str) -> None:
    """The rules ran at the minimum in its place; their verdict on that amount (too long at 350 kr.) was shown as if
    it were about the citizen's, next to months 0."""
    ids, _ = await david_claims(api)  # 12,050.00 DKK: 35 months at the minimum
    body = await api.gql(PREVIEW, {"input": {"claimIds": ids, "monthlyAmount": amount, "dayOfMonth": 1}}, citizen=DAVID)
    preview = body["data"]["previewInstallmentPlan"]
    assert codes(preview["violations"]) == ["INVALID_AMOUNT"]
    assert preview["allowed"] is False and preview["months"] == 0 and preview["needsAssessment"] is False
    assert preview["range"]["monthsAtMinimum"] == 35  # the range is still there to choose from


def test_the_served_gateways_own_log_lines_mask_a_cpr_in_a_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``gateway serve``: uvicorn's access log printed the request line as it came, query string and all, past the
    masking the gateway's own log lines get."""
    import subprocess

    import httpx
    from tools.served_gateway import GATEWAY, free_port, served_gateway

    port = free_port()
    output = tmp_path / "served.log"
    with output.open("wb") as sink:
        real_popen = subprocess.Popen

        def popen(*args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs.setdefault("stdout", sink)
            kwargs.setdefault("stderr", subprocess.STDOUT)
            return real_popen(*args, **kwargs)

        subprocess.Popen = popen  # type: ignore[misc]
        try:
            with served_gateway("test", str(tmp_path), port, {"GATEWAY_LOG_LEVEL": "INFO"}, stop_timeout=30):
                base = f"http://127.0.0.1:{port}"
                for path in (
                    '/graphql?query={citizen(cpr:"1507804321"){name}}',
                    "/nowhere?cpr=150780-4321",
                    "/log-ind?naeste=/betal%3Fkrav%3D1507804321",
                ):
                    httpx.get(base + path)
        finally:
            subprocess.Popen = real_popen  # type: ignore[misc]
    assert GATEWAY.exists()
    text = output.read_text(encoding="utf-8", errors="replace")
    assert '"GET /nowhere?cpr=******-**** HTTP/1.1" 404' in text  # the access log is there, masked
    assert "1507804321" not in text and "150780-4321" not in text


ENROL = """
mutation($input: EnrolAutomaticPaymentInput!) {
  enrolAutomaticPayment(input: $input) { paymentMethod { id } userErrors { code field } }
}"""


async def test_a_citizen_the_ledger_does_not_know_enrols_nothing_and_is_told_what_was_not_found(api: Api) -> None:
    """Like startPayment and createInstallmentPlan: CLAIM_NOT_FOUND, PLAN_NOT_FOUND, MOBILEPAY_ACCOUNT_NOT_FOUND at
    their fields (it was a bare NOT_ALLOWED with no field)."""
    anna = (await api.gql("{ me { claims { nodes { id } } mobilePayAccounts { id } } }", citizen=ANNA))["data"]["me"]
    nobody = "0101901234"
    cases = [
        ({"kind": "BETALINGSSERVICE", "claimIds": [anna["claims"]["nodes"][0]["id"]]}, "CLAIM_NOT_FOUND", "claimIds"),
        ({"kind": "BETALINGSSERVICE", "planId": "SW5zdGFsbG1lbnRQbGFuOjE"}, "PLAN_NOT_FOUND", "planId"),
        (
            {
                "kind": "MOBILEPAY_SUBSCRIPTION",
                "claimIds": [anna["claims"]["nodes"][0]["id"]],
                "mobilePayAccountId": anna["mobilePayAccounts"][0]["id"],
            },
            "MOBILEPAY_ACCOUNT_NOT_FOUND",
            "mobilePayAccountId",
        ),
    ]
    for enrol, code, field in cases:
        body = await api.gql(ENROL, {"input": {**enrol, "idempotencyKey": f"enrol-{uuid.uuid4().hex}"}}, citizen=nobody)
        payload = body["data"]["enrolAutomaticPayment"]
        assert payload["paymentMethod"] is None
        assert payload["userErrors"][0]["code"] == code, payload
        assert payload["userErrors"][0]["field"][:2] == ["input", field]


def test_in_development_the_public_url_follows_the_port() -> None:
    """README: if port 8000 is busy, set GATEWAY_PORT. The public URL stayed http://127.0.0.1:8000, so the payment
    simulator's webhooks and the checkout's way back went to whatever listened on 8000."""
    from gateway.settings import Environment, Settings

    assert Settings(port=8100).public_url == "http://127.0.0.1:8100"
    assert Settings(host="0.0.0.0", port=8100).public_url == "http://127.0.0.1:8100"
    assert Settings(host="::1", port=8100).public_url == "http://[::1]:8100"
    assert Settings().public_url == "http://127.0.0.1:8000"
    assert Settings(port=8100, public_url="https://pay.example.org").public_url == "https://pay.example.org"
    production = Settings(
        environment=Environment.PRODUCTION,
        port=8100,
        auth_secret="a-real-production-secret-of-some-length",
        payments_webhook_secret="another-real-secret",
    )
    assert production.public_url == "http://127.0.0.1:8000"  # production names its public address itself


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_other_methods_on_graphql_are_a_json_405(api: Api, method: str) -> None:
    """They were the web page's HTML 404 (its catch-all mount took every request /graphql's route did not)."""
    response = await api.client.request(method, "/graphql", json={"query": "{ me { name } }"})
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_the_rate_limits_message_reads_right_for_one_second() -> None:
    """Retry-After is most often 1: "Prøv igen om 1 sekunder" / "Try again in 1 seconds"."""
    from gateway.domain.i18n import translate

    assert translate("RATE_LIMITED", "da", seconds=1) == "For mange forespørgsler. Vent 1 sek., og prøv igen."
    assert translate("RATE_LIMITED", "en", seconds=1) == "Too many requests. Wait 1 s and try again."
