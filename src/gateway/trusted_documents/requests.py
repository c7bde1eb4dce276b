"""What a GraphQL request that names a trusted document means (docs/trusted-documents.md).

A request names a document by ``documentId`` (GraphQL over HTTP, persisted documents appendix: ``sha256:<hex>``;
bare hex is accepted too) or by Apollo's ``extensions.persistedQuery.sha256Hash`` (bare hex). Decisions where
the specifications are silent or differ:

- An id and a ``query`` together: the id must be the query's own sha256 (Apollo's registration request sends
  both), else the request is refused (``BAD_USER_INPUT``, HTTP 400), as Apollo Server and Router do; when they
  agree, the query runs as if sent alone (trusted if its text is a trusted document). Nothing is ever
  registered: only the repository's files are documents.
- ``documentId`` and ``persistedQuery.sha256Hash`` together must name the same document.
- An id that names no trusted document: one ``PERSISTED_QUERY_NOT_FOUND`` error and nothing executed (HTTP 200
  in ``application/json``, 404 in ``application/graphql-response+json``, as Apollo Router), the code Apollo's
  clients answer by sending the query text.
- With ``GATEWAY_TRUSTED_DOCUMENTS_ONLY_FOR_CITIZENS``, a citizen or anonymous request must be a trusted
  document (by id, or by its full text); anything else gets one ``TRUSTED_DOCUMENT_REQUIRED`` error (HTTP 200 /
  403). Caseworkers keep arbitrary queries.

Pure: request parameters and a viewer in, a decision out; the HTTP view (``gateway.graphql_view``) acts on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.domain.errors import ErrorCode
from gateway.domain.viewers import CaseworkerViewer, Viewer
from gateway.trusted_documents import TrustedDocument, TrustedDocuments, bare_id, document_id


@dataclass(frozen=True, slots=True)
class Refusal:
    """The request is answered with one error and nothing runs."""

    code: ErrorCode
    message_key: str
    json_status: int  # HTTP status in application/json
    graphql_response_status: int  # in application/graphql-response+json
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """What to run: ``query`` (the named document's text, or the client's own, or None when the request has
    none: left to the ordinary path's error), and the trusted document it is, if any."""

    query: str | None
    trusted: TrustedDocument | None
    by_id: bool  # the request named the document by id (no query text of its own)


def requested_id(params: Mapping[str, Any]) -> str | Refusal | None:
    """The document id a request names (``documentId`` or the APQ hash), None if it names none."""
    document = params.get("documentId")
    extensions = params.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    apq = persisted.get("sha256Hash") if isinstance(persisted, Mapping) else None
    if (document is not None and not isinstance(document, str)) or (apq is not None and not isinstance(apq, str)):
        return _bad_request("a document id must be a string")
    if document is not None and apq is not None and bare_id(document) != bare_id(apq):
        return _bad_request("documentId and extensions.persistedQuery.sha256Hash name different documents")
    return document if document is not None else apq


def resolve(
    params: Mapping[str, Any], viewer: Viewer, documents: TrustedDocuments, *, only_trusted_for_citizens: bool
) -> Resolved | Refusal:
    identifier = requested_id(params)
    if isinstance(identifier, Refusal):
        return identifier
    query = params.get("query")
    if not isinstance(query, str):
        query = None  # no query, or not a string: the ordinary path refuses it as it always has
    if identifier is not None and query is not None:
        if bare_id(identifier) != document_id(query):
            return _bad_request("the document id is not the sha256 of the query")
        identifier = None
    trusted: TrustedDocument | None
    if identifier is not None:
        trusted = documents.by_id(identifier)
        if trusted is None:
            return Refusal(ErrorCode.PERSISTED_QUERY_NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND", 200, 404)
        query = trusted.text
    else:
        trusted = documents.match(query) if query is not None else None
    if query is not None and trusted is None and only_trusted_for_citizens and not isinstance(viewer, CaseworkerViewer):
        return Refusal(ErrorCode.TRUSTED_DOCUMENT_REQUIRED, "TRUSTED_DOCUMENT_REQUIRED", 200, 403)
    return Resolved(query=query, trusted=trusted, by_id=identifier is not None)


def _bad_request(detail: str) -> Refusal:
    return Refusal(ErrorCode.BAD_USER_INPUT, "BAD_REQUEST", 400, 400, detail=detail)
