"""The citizens' web page "Mit betalingsoverblik" (docs/web.md): server-rendered pages on the public GraphQL API.

It is a client of the API like any other: it talks to the gateway only through GraphQL over HTTP with the
citizen's token (``web.api``), and imports nothing of the layers behind the API (import-linter contract).
"""
