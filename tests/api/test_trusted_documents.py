"""Trusted documents over HTTP (docs/trusted-documents.md): named by ``documentId`` (GraphQL over HTTP) or by
Apollo's ``extensions.persistedQuery.sha256Hash``, by POST and GET, with the same answer as the query text;
unknown ids; the citizens-only setting; and the response cache shared with the text."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.simserver import ThreadedServer
from gateway.trusted_documents import TrustedDocument, trusted_documents
from tests.api.test_overview import codes
from tests.conftest import ANNA, DAVID, Api, build_api

GRAPHQL_RESPONSE = "application/graphql-response+json"
CASEWORKER = "cw-1001"
ARBITRARY = "{ me { name } }"


def doc(name: str) -> TrustedDocument:
    found = trusted_documents().by_operation_name(name)
    assert found is not None, name
    return found


OVERVIEW = doc("Overview")


def apq(document: TrustedDocument) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": document.id}}


async def post(
    api: Api, body: dict[str, Any], *, token: str | None = None, accept: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    return await api.client.post("/graphql", json=body, headers=headers)


async def get(
    api: Api, params: dict[str, str], *, token: str | None = None, accept: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    return await api.client.get("/graphql", params=params, headers=headers)


async def as_text(api: Api, document: TrustedDocument, token: str, variables: dict[str, Any] | None = None) -> Any:
    response = await post(api, {"query": document.text, "variables": variables or {}}, token=token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body


# --- named by id: the same answer as the text ------------------------------------------------------------------


async def test_document_id_and_apq_by_post_answer_as_the_text(api: Api) -> None:
    token = api.token(citizen=ANNA)
    expected = await as_text(api, OVERVIEW, token)
    assert len(expected["data"]["me"]["claims"]["nodes"]) == 4
    for body in (
        {"documentId": OVERVIEW.document_id},
        {"documentId": OVERVIEW.id},
        {"extensions": apq(OVERVIEW)},
        {"documentId": OVERVIEW.document_id, "extensions": apq(OVERVIEW)},
        {"documentId": OVERVIEW.document_id, "operationName": "Overview", "variables": {}},
    ):
        response = await post(api, body, token=token)
        assert response.status_code == 200, (body, response.text)
        assert response.json() == expected, body


async def test_document_id_and_apq_by_get_answer_as_the_text(api: Api) -> None:
    token = api.token(citizen=ANNA)
    expected = await as_text(api, OVERVIEW, token)
    for params in (
        {"documentId": OVERVIEW.document_id},
        {"documentId": OVERVIEW.id},
        {"extensions": json.dumps(apq(OVERVIEW))},
    ):
        response = await get(api, params, token=token)
        assert response.status_code == 200, (params, response.text)
        assert response.json() == expected, params
        assert response.headers["cache-control"] == "no-store"


async def test_variables_by_post_and_get(api: Api) -> None:
    token = api.token(citizen=ANNA)
    overview = await as_text(api, OVERVIEW, token)
    claim_id = overview["data"]["me"]["claims"]["nodes"][0]["id"]
    details = doc("ClaimDetails")
    expected = await as_text(api, details, token, {"id": claim_id})
    assert expected["data"]["node"]["id"] == claim_id and expected["data"]["node"]["statement"]["lines"]
    by_post = await post(api, {"documentId": details.document_id, "variables": {"id": claim_id}}, token=token)
    assert by_post.json() == expected
    by_get = await get(api, {"documentId": details.document_id, "variables": json.dumps({"id": claim_id})}, token=token)
    assert by_get.status_code == 200 and by_get.json() == expected


async def test_a_mutation_by_document_id_runs_by_post_and_is_405_by_get(api: Api) -> None:
    token = api.token(citizen=DAVID)
    cancel = doc("CancelInstallmentPlan")
    variables = {"input": {"planId": "SW5zdGFsbG1lbnRQbGFuOjk5OTk5", "idempotencyKey": "trusted-cancel-0001"}}
    response = await post(api, {"documentId": cancel.document_id, "variables": variables}, token=token)
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["cancelInstallmentPlan"]
    assert payload["plan"] is None and [e["code"] for e in payload["userErrors"]] == ["PLAN_NOT_FOUND"]
    api.sql.reset()
    by_get = await get(api, {"documentId": cancel.document_id, "variables": json.dumps(variables)}, token=token)
    assert by_get.status_code == 405 and by_get.headers["allow"] == "POST"
    assert codes(by_get.json()) == ["BAD_USER_INPUT"]
    assert api.sql.count == 0


async def test_get_runs_nothing_but_a_named_document(api: Api) -> None:
    token = api.token(citizen=ANNA)
    for params in (
        {"query": OVERVIEW.text},  # a query's text never goes in a URL
        {"query": OVERVIEW.text, "documentId": OVERVIEW.document_id},
        {},
        {"variables": "{}"},
    ):
        response = await get(api, params, token=token)
        assert response.status_code == 405, params
        assert response.headers["allow"] == "POST"


async def test_get_with_a_cpr_in_the_url_is_refused(api: Api) -> None:
    lookup = doc("CaseworkerCitizen")
    token = api.token(caseworker=CASEWORKER)
    api.sql.reset()
    for cpr in (ANNA, "150780-4321"):
        response = await get(
            api, {"documentId": lookup.document_id, "variables": json.dumps({"cpr": cpr})}, token=token
        )
        assert response.status_code == 400
        assert codes(response.json()) == ["BAD_USER_INPUT"]
        assert ANNA not in response.text
    assert api.sql.count == 0  # nothing looked up, nothing logged
    by_post = await post(api, {"documentId": lookup.document_id, "variables": {"cpr": ANNA}}, token=token)
    assert by_post.json()["data"]["citizen"]["name"] == "Anna Jensen"


# --- unknown ids and contradictions ------------------------------------------------------------------------------


async def test_an_unknown_id_is_persisted_query_not_found(api: Api) -> None:
    token = api.token(citizen=ANNA)
    unknown = "0" * 64
    api.sql.reset()
    for body in (
        {"documentId": f"sha256:{unknown}"},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": unknown}}},
    ):
        response = await post(api, body, token=token)
        assert response.status_code == 200
        refused = response.json()
        assert refused["data"] is None and codes(refused) == ["PERSISTED_QUERY_NOT_FOUND"]
        strict = await post(api, body, token=token, accept=GRAPHQL_RESPONSE)
        assert strict.status_code == 404
        assert "data" not in strict.json() and codes(strict.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    by_get = await get(api, {"documentId": f"sha256:{unknown}"}, token=token)
    assert by_get.status_code == 200 and codes(by_get.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    for other in ("x-custom:abc", "abc", "md5:" + OVERVIEW.id):
        response = await post(api, {"documentId": other}, token=token)
        assert codes(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"], other
    assert api.sql.count == 0


async def test_apollo_registration_runs_the_text_and_a_wrong_hash_is_refused(api: Api) -> None:
    """Apollo's client answers PERSISTED_QUERY_NOT_FOUND by sending the text with the hash: it runs (nothing is
    registered); a hash that is not the text's is a client bug, refused."""
    token = api.token(citizen=ANNA)
    text = ARBITRARY
    own_hash = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(text.encode()).hexdigest()}}
    ran = await post(api, {"query": text, "extensions": own_hash}, token=token)
    assert ran.json() == {"data": {"me": {"name": "Anna Jensen"}}}
    again = await post(api, {"extensions": own_hash}, token=token)
    assert codes(again.json()) == ["PERSISTED_QUERY_NOT_FOUND"]  # still not a document
    for body in (
        {"query": text, "extensions": apq(OVERVIEW)},
        {"query": text, "documentId": OVERVIEW.document_id},
        {"documentId": OVERVIEW.document_id, "extensions": apq(doc("ClaimDetails"))},
        {"documentId": 42},
        {"documentId": OVERVIEW.document_id, "operationName": "ClaimDetails"},  # not the document's operation
    ):
        response = await post(api, body, token=token)
        assert response.status_code == 400, body
        assert codes(response.json()) == ["BAD_USER_INPUT"], body


# --- only trusted documents for citizens -------------------------------------------------------------------------


@pytest.fixture
async def strict(migrated: str, gaeldst_sim: ThreadedServer) -> AsyncIterator[Api]:
    async with build_api(migrated, gaeldst_sim, trusted_documents_only_for_citizens=True) as built:
        yield built


async def test_only_trusted_documents_for_citizens_and_anonymous_callers(strict: Api) -> None:
    token = strict.token(citizen=ANNA)
    strict.sql.reset()
    for who in (token, None):
        response = await post(strict, {"query": ARBITRARY}, token=who)
        assert response.status_code == 200
        assert response.json()["data"] is None and codes(response.json()) == ["TRUSTED_DOCUMENT_REQUIRED"]
        graphql_response = await post(strict, {"query": ARBITRARY}, token=who, accept=GRAPHQL_RESPONSE)
        assert graphql_response.status_code == 403
        assert codes(graphql_response.json()) == ["TRUSTED_DOCUMENT_REQUIRED"]
        assert "data" not in graphql_response.json()
    assert strict.sql.count == 0
    # A mutation that is no trusted document is refused as well.
    mutation = 'mutation { stopAutomaticPayment(input: {paymentMethodId: "x", idempotencyKey: "k-000000001"}) {\n'
    mutation += "userErrors { code } } }"
    assert codes((await post(strict, {"query": mutation}, token=token)).json()) == ["TRUSTED_DOCUMENT_REQUIRED"]
    # A trusted document by id, or by its full text (with or without a trailing newline), runs.
    by_id = await post(strict, {"documentId": OVERVIEW.document_id}, token=token)
    by_text = await post(strict, {"query": OVERVIEW.text}, token=token)
    by_text_newline = await post(strict, {"query": OVERVIEW.text + "\n"}, token=token)
    assert "errors" not in by_id.json()
    assert by_id.json() == by_text.json() == by_text_newline.json()
    contacts = doc("Contacts")
    anonymous = await post(strict, {"query": contacts.text})
    assert anonymous.json()["data"]["contacts"]["paymentsOffice"]["name"]
    # Unknown ids are still PERSISTED_QUERY_NOT_FOUND (so an Apollo client sends its text, which is then refused).
    unknown = await post(strict, {"documentId": "sha256:" + "1" * 64}, token=token)
    assert codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_caseworkers_keep_arbitrary_queries(strict: Api) -> None:
    token = strict.token(caseworker=CASEWORKER)
    response = await post(
        strict,
        {"query": "query($cpr: String!) { citizen(cpr: $cpr) { name } }", "variables": {"cpr": ANNA}},
        token=token,
    )
    assert response.json() == {"data": {"citizen": {"name": "Anna Jensen"}}}
    trusted = await post(strict, {"documentId": doc("CaseworkerItems").document_id}, token=token)
    assert "errors" not in trusted.json() and "caseworkerItems" in trusted.json()["data"]


async def test_development_default_accepts_arbitrary_queries(api: Api) -> None:
    assert api.settings.trusted_documents_only_for_citizens is False
    assert (await api.gql(ARBITRARY, citizen=ANNA)) == {"data": {"me": {"name": "Anna Jensen"}}}
    assert (await api.gql("{ contacts { paymentsOffice { name } } }"))["data"]["contacts"]["paymentsOffice"]["name"]


# --- the response cache ------------------------------------------------------------------------------------------


@pytest.fixture
async def cached(migrated: str, gaeldst_sim: ThreadedServer) -> AsyncIterator[Api]:
    async with build_api(migrated, gaeldst_sim, response_cache_ttl_seconds=60) as built:
        yield built


async def test_the_response_cache_serves_a_document_id_as_its_text(cached: Api) -> None:
    token = cached.token(citizen=ANNA)
    first = await post(cached, {"query": OVERVIEW.text}, token=token)
    assert first.headers["x-cache"] == "miss"
    cached.sql.reset()
    for body in ({"documentId": OVERVIEW.document_id}, {"extensions": apq(OVERVIEW)}):
        hit = await post(cached, body, token=token)
        assert hit.headers["x-cache"] == "hit" and hit.content == first.content
    by_get = await get(cached, {"documentId": OVERVIEW.document_id}, token=token)
    assert by_get.headers["x-cache"] == "hit" and by_get.content == first.content
    assert cached.sql.count == 3  # the citizen's data version, once per request; nothing else

    # The other way round: a document id first, then its text.
    david = cached.token(citizen=DAVID)
    miss = await post(cached, {"documentId": OVERVIEW.document_id}, token=david)
    assert miss.headers["x-cache"] == "miss"
    hit = await post(cached, {"query": OVERVIEW.text}, token=david)
    assert hit.headers["x-cache"] == "hit" and hit.content == miss.content
