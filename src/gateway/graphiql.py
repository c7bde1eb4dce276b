"""GraphiQL, served by the gateway itself from a PyPI package's bundles, so it works offline."""

from __future__ import annotations

import functools
import ipaddress
import json
from importlib.resources import files
from pathlib import Path

from gateway.settings import Settings

GRAPHIQL_ASSETS = "graphene_django_graphiql_static"
ASSETS_PATH = "/graphiql-assets"


def assets_dir() -> Path:
    return Path(str(files(GRAPHIQL_ASSETS) / "static" / GRAPHIQL_ASSETS))


DEFAULT_QUERY = """# Mit betalingsoverblik: a citizen's overview (R1, R2). The Headers tab holds the bearer token.
query Overview {
  me {
    cpr
    name
    totalOutstanding { formatted }
    claims(first: 20) {
      totalCount
      nodes {
        reference
        title
        outstanding { amount formatted }
        collection { status marker }
        sender { name contact { phone email } }
        statement { lines { postedOn kind text amount { formatted } balanceAfter { formatted } } }
      }
    }
    notices { code message }
  }
}
"""


DEMO_TOKEN_NOTE = (  # short lines: the editor is narrow
    "# Development: the Headers tab holds a live citizen token,\n"
    "# filled in only because this page was opened from this\n"
    "# machine (loopback). From anywhere else it starts empty.\n"
)


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _default_headers(settings: Settings, with_token: bool) -> str:
    # `gateway dev` pre-fills the demo citizen's token so the overview runs at once, but only for a browser on
    # this machine: the token is live. Otherwise no header (the schema can be explored without a token).
    if settings.graphiql_demo_token and with_token:
        return json.dumps({"Authorization": f"Bearer {settings.graphiql_demo_token}"}, indent=2)
    return "{}"


def content_security_policy(nonce: str) -> str:
    """Scripts only from the gateway itself plus the page's one inline script (by its nonce); GraphiQL sets
    inline styles, so styles may be inline. No framing, no other origin."""
    return (
        f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


@functools.cache
def _template() -> str:
    return (files("gateway") / "static" / "graphiql.html").read_text(encoding="utf-8")


def graphiql_page(settings: Settings, *, nonce: str, client_host: str | None) -> str:
    """The page for one request: its script nonce, and the demo token only for a loopback client."""
    with_token = bool(settings.graphiql_demo_token) and is_loopback(client_host)
    query = (DEMO_TOKEN_NOTE if with_token else "") + DEFAULT_QUERY
    return (
        _template()
        .replace("__STATIC__", ASSETS_PATH)
        .replace("__NONCE__", nonce)
        .replace("__DEFAULT_QUERY__", json.dumps(query))
        .replace("__DEFAULT_HEADERS__", json.dumps(_default_headers(settings, with_token)))
    )
