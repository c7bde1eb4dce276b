"""GraphiQL, served by the gateway itself from a PyPI package's bundles, so it works offline."""

from __future__ import annotations

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


def _default_headers(settings: Settings) -> str:
    # `gateway dev` pre-fills the demo citizen's token so the overview runs at once; otherwise no header
    # (the schema can be explored without a token).
    if settings.graphiql_demo_token:
        return json.dumps({"Authorization": f"Bearer {settings.graphiql_demo_token}"}, indent=2)
    return "{}"


def graphiql_page(settings: Settings) -> str:
    template = (files("gateway") / "static" / "graphiql.html").read_text(encoding="utf-8")
    return (
        template.replace("__STATIC__", ASSETS_PATH)
        .replace("__DEFAULT_QUERY__", json.dumps(DEFAULT_QUERY))
        .replace("__DEFAULT_HEADERS__", json.dumps(_default_headers(settings)))
    )
