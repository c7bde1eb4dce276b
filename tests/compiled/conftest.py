"""The differential harness of the compiled read path: one request answered both ways, compared byte for byte.

``both(api, query, …)`` sends the request with the compiled path on, then the same request with it off (the
ordinary Strawberry path, graphql-core's answer: the reference), and returns both responses with the SQL
statements and Gældsstyrelsen calls each cost. It fails unless the compiled path really answered the first one
(a plan that always handed over to Strawberry would pass every comparison and prove nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from graphql import OperationDefinitionNode, parse

from gateway.trusted_documents import TrustedDocument, TrustedDocuments, document_id
from tests.conftest import Api


@dataclass
class Answer:
    response: httpx.Response
    statements: int
    upstream_calls: int


@dataclass
class Both:
    compiled: Answer
    ordinary: Answer
    answered: bool  # by the plan; else handed over to Strawberry

    def assert_identical(self) -> None:
        c, o = self.compiled.response, self.ordinary.response
        assert c.status_code == o.status_code
        assert c.content == o.content, (c.text[:2000], o.text[:2000])
        assert c.headers.get("content-type") == o.headers.get("content-type")
        if self.answered:
            assert self.compiled.statements == self.ordinary.statements
            assert self.compiled.upstream_calls == self.ordinary.upstream_calls
        else:
            # graphql-core stops resolving below a field that turned null, at a point that depends on timing; the
            # plan read everything before it handed over. Never less, and Strawberry read nothing a second time.
            assert self.compiled.statements >= self.ordinary.statements
            assert self.compiled.upstream_calls >= self.ordinary.upstream_calls


async def _answer(api: Api, query: str, variables: dict[str, Any] | None, token: str, **kw: Any) -> Answer:
    await api.gaeldst_admin("POST", "/admin/reset-stats")
    api.services.gaeldst.invalidate()  # each way asks Gældsstyrelsen itself (the status cache is per process)
    api.sql.reset()
    extra = kw.pop("extra", {})
    body: dict[str, Any] = {} if "documentId" in extra else {"query": query}
    if variables is not None:
        body["variables"] = variables
    body.update(extra)
    response = await api.client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}", **kw})
    statements = api.sql.count
    calls = (await api.gaeldst_admin("GET", "/admin/stats"))["statusCalls"]
    return Answer(response, statements, calls)


def trust(view: Any, query: str) -> None:
    """Make ``query`` one of this app's trusted documents (as a file in trusted_documents/ would) and compile it."""
    if view.trusted_documents.match(query) is None:
        operation = next(d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode))
        assert operation.name is not None, "a trusted document's operation has a name"
        document = TrustedDocument(
            id=document_id(query),
            text=query,
            operation_name=operation.name.value,
            operation_type=operation.operation,
            file_name=f"{operation.name.value}.graphql",
        )
        view.trusted_documents = TrustedDocuments([*view.trusted_documents, document])
    view.compiled.add(query)


async def both(
    api: Api,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    citizen: str,
    compiled: bool | None = True,
    **headers: Any,
) -> Both:
    """The request both ways. ``compiled=False``: the plan is expected to hand the request over (an error, a
    partial result), which is then Strawberry's answer on the plan's loaded rows; None: either."""
    view = api.app.state.graphql
    assert view.compiled is not None
    trust(view, query)
    assert view.compiled.plan(query) is not None, "the document does not compile"
    token = api.token(citizen=citizen)
    answered, handed_over = view.compiled.answered, view.compiled.handed_over
    first = await _answer(api, query, variables, token, **headers)
    if compiled is None:  # either, as long as the plan took the request
        assert view.compiled.answered + view.compiled.handed_over == answered + handed_over + 1
        compiled = view.compiled.answered == answered + 1
    elif compiled:
        assert view.compiled.answered == answered + 1, "the compiled path did not answer"
    else:
        assert view.compiled.handed_over == handed_over + 1, "the compiled path did not hand over"
    saved, view.compiled = view.compiled, None
    try:
        second = await _answer(api, query, variables, token, **headers)
    finally:
        view.compiled = saved
    return Both(first, second, compiled)
