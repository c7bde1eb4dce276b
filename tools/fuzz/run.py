"""``make fuzz``: schemathesis in GraphQL mode against a real ``gateway serve``, with a citizen's and a
caseworker's token; fails on any server error.

Starts both simulators (Gældsstyrelsen and the payment provider) in this process and ``gateway serve`` on a free
loopback port against a fresh SQLite ledger (migrated and seeded) in a temporary folder. Through the API it then
gives the demo citizens a plan waiting for approval, a payment and an enrolment, and collects every global ID and
cursor a caseworker can see. Schemathesis loads the schema by introspection and sends generated documents to every
root field as each viewer: valid documents (its positive mode) and documents with invalid arguments (negative
mode). An ``ID`` argument is one of the collected IDs (the viewer's own or someone else's) or random text, and a
``String`` one is often a value the API knows (a demo CPR, an amount, a return URL, a cursor), so the documents
get past input checks and reach the resolvers, the use-cases and the ledger.

A server error is an HTTP 5xx, a GraphQL error with ``extensions.code`` ``INTERNAL``, a non-null field that came
back null (the server broke its own schema), or a body that is not a GraphQL response. Refusals are not:
``FORBIDDEN``, ``UNAUTHENTICATED``, ``BAD_USER_INPUT``, ``QUERY_TOO_COMPLEX``, ``UPSTREAM_UNAVAILABLE`` and
``userErrors`` are the API saying no on purpose.

Bounded by the number of cases, never by time, so the result does not depend on the machine's speed:
``FUZZ_EXAMPLES`` cases per token (default 300; ``.ci/run`` runs 100), shared out over the root fields and both
modes; ``FUZZ_SEED`` (default 0) picks the documents, the same seed sending the same ones. Prints the number of
cases run per token and in all, and what the answers were.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes

from adapters.gaeldst.simulator import create_demo_app
from adapters.ledger.seed.demo_data import ANNA, BO, CAMILLA, DAVID, DEMO_CASEWORKER
from adapters.payments.simulator import create_simulator_app
from adapters.simserver import ThreadedServer
from gateway.domain.cpr import redact

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: the gateway the tools serve
from served_gateway import GATEWAY, free_port, served_gateway
from served_gateway import fail as shared_fail

WEBHOOK_SECRET = "fuzz-webhook-secret"
# Not a deadline on the API's speed: a request that has not been answered in this long is taken as a hang.
HANG_SECONDS = 60.0
NON_NULL_VIOLATION = "Cannot return null for non-nullable field"
SHOWN_FAILURES = 5

# Strings the API gives a meaning to, mixed into the generated ones.
KNOWN_STRINGS = [
    *(ANNA, BO, CAMILLA, DAVID, "150780-4321", "0101011234"),  # demo CPRs, a hyphenated one, one nobody has
    *("350", "350.00", "500,5", "0.01", "1", "12050.00", "10000000.00", "-1", "1e3"),  # amounts
    *("https://app.example/return", "http://127.0.0.1/return", "https://app.example/?c=1507804321", "ftp://x"),
    *("approved after an assessment", " ", "fuzz-key"),
]


def fail(message: str) -> NoReturn:
    shared_fail("make fuzz", message)


def env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        fail(f"{name} must be a whole number, not {raw!r}")
    if value < minimum:
        fail(f"{name} must be at least {minimum}")
    return value


# --- what counts as a server error ------------------------------------------------------------------------


def server_error(status: int, body: bytes) -> str | None:
    """Why this answer is a server error, or None when the server answered as designed (data or a refusal)."""
    if status >= 500:
        return f"HTTP {status}"
    try:
        payload = json.loads(body)
    except ValueError:
        return f"HTTP {status} with a body that is not JSON"
    if not isinstance(payload, dict) or not ("data" in payload or "errors" in payload):
        return f"HTTP {status} with a body that is not a GraphQL response"
    errors = payload.get("errors") or []
    if not isinstance(errors, list):
        return f"HTTP {status} with `errors` that is not a list"
    for error in errors:
        if not isinstance(error, dict):
            return f"HTTP {status} with an error that is not an object"
        extensions = error.get("extensions")
        if isinstance(extensions, dict) and extensions.get("code") == "INTERNAL":
            return f"INTERNAL error at {error.get('path')}"
        if NON_NULL_VIOLATION in str(error.get("message", "")):
            return f"schema violated: {error.get('message')}"
    return None


def outcome(status: int, body: bytes) -> str:
    """``ok``, or the error codes of the answer (what the run's summary counts)."""
    try:
        errors = json.loads(body).get("errors") or []
        codes = sorted({str((e.get("extensions") or {}).get("code")) for e in errors})
    except (ValueError, AttributeError, TypeError):
        return f"HTTP {status}"
    return "+".join(codes) or "ok"


@dataclass
class Tally:
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (reason, operation, document)

    def record(self, label: str, status: int, body: bytes, document: str) -> None:
        self.cases += 1
        self.outcomes[outcome(status, body)] += 1
        reason = server_error(status, body)
        if reason is not None:
            self.failures.append((reason, label, document))


# --- the gateway, the demo objects and the values to fuzz with --------------------------------------------


@contextmanager
def gateway_server(tmp: str, port: int, gaeldst_url: str, payments_url: str) -> Iterator[dict[str, str]]:
    settings = {
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_GAELDST_URL": gaeldst_url,
        "GATEWAY_PAYMENTS_URL": payments_url,
        "GATEWAY_PAYMENTS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        # Every generated document must reach the schema; the limiter has its own tests (test_http_edge.py).
        "GATEWAY_RATE_LIMIT_ENABLED": "false",
        "GATEWAY_RESPONSE_CACHE_TTL_SECONDS": "0",
    }
    with served_gateway("make fuzz", tmp, port, settings, stop_timeout=30) as env:
        yield env


def token(env: dict[str, str], *who: str) -> str:
    out = subprocess.run(  # noqa: S603 - fixed arguments
        [str(GATEWAY), "token", *who], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


class Client:
    def __init__(self, url: str, bearer: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {bearer}"

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.session.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=HANG_SECONDS
        )
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or body.get("errors"):
            fail(f"setting up the fuzz run failed: HTTP {response.status_code} {redact(json.dumps(body))[:500]}")
        return body["data"]


def mutation_ok(payload: dict[str, Any], what: str) -> None:
    if payload["userErrors"]:
        fail(f"setting up the fuzz run failed: {what}: {payload['userErrors']}")


OPEN_CLAIMS = "{ me { claims(filter: {status: OPEN}) { nodes { id eligibility { canCreateInstallmentPlan } } } } }"
EVERYTHING = """
query($cpr: String!) { citizen(cpr: $cpr) { id
  claims { edges { cursor } nodes { id sender { id } installmentPlan { id } automaticPayment { id } } }
  installmentPlans { edges { cursor } nodes { id installments { id draw { id } } draws { id } } }
  paymentMethods { edges { cursor } nodes { id } }
  payments { edges { cursor } nodes { id } }
  mobilePayAccounts { id }
  accessLog { edges { cursor } nodes { id } } } }
"""
ITEMS = "{ caseworkerItems { edges { cursor node { id } } } installmentPlansAwaitingApproval { edges { cursor } } }"


def prepare(url: str, citizen: Client, caseworker: Client, david: Client) -> tuple[list[str], list[str]]:
    """Objects of every kind the demo seed has none of, then every global ID and cursor a caseworker sees."""
    claims = [
        c for c in david.gql(OPEN_CLAIMS)["me"]["claims"]["nodes"] if c["eligibility"]["canCreateInstallmentPlan"]
    ]
    plan = david.gql(
        "mutation($input: CreateInstallmentPlanInput!) {"
        " createInstallmentPlan(input: $input) { userErrors { code } } }",
        {
            "input": {
                "claimIds": [c["id"] for c in claims],
                "monthlyAmount": "350",
                "dayOfMonth": 1,
                "acceptTerms": True,
                "requestAssessment": True,  # 35 months: waits for a caseworker's approval
                "idempotencyKey": f"fuzz-{uuid.uuid4()}",
            }
        },
    )
    mutation_ok(plan["createInstallmentPlan"], "David's plan")
    claims = [
        c for c in citizen.gql(OPEN_CLAIMS)["me"]["claims"]["nodes"] if c["eligibility"]["canCreateInstallmentPlan"]
    ]
    payment = citizen.gql(
        "mutation($input: StartPaymentInput!) { startPayment(input: $input) { userErrors { code } } }",
        {
            "input": {
                "claimIds": [claims[0]["id"]],
                "method": "CARD",
                "returnUrl": f"{url}/return",
                "idempotencyKey": f"fuzz-{uuid.uuid4()}",
            }
        },
    )
    mutation_ok(payment["startPayment"], "Anna's payment")
    enrolment = citizen.gql(
        "mutation($input: EnrolAutomaticPaymentInput!) {"
        " enrolAutomaticPayment(input: $input) { userErrors { code } } }",
        {
            "input": {
                "kind": "BETALINGSSERVICE",
                "claimIds": [claims[-1]["id"]],
                "idempotencyKey": f"fuzz-{uuid.uuid4()}",
            }
        },
    )
    mutation_ok(enrolment["enrolAutomaticPayment"], "Anna's enrolment")

    found: dict[str, set[str]] = {"id": set(), "cursor": set()}

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in found and isinstance(item, str):
                    found[key].add(item)
                else:
                    collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for cpr in (ANNA, BO, CAMILLA, DAVID):
        collect(caseworker.gql(EVERYTHING, {"cpr": cpr}))
    collect(caseworker.gql(ITEMS))
    ids, cursors = sorted(found["id"]), sorted(found["cursor"])
    return ids, cursors


def register_values(ids: list[str], cursors: list[str]) -> None:
    """``ID`` and ``String`` arguments: known values half of the time, anything at all the other half."""
    anything = st.text(max_size=40)
    schemathesis.graphql.scalar("ID", st.one_of(st.sampled_from(ids), anything).map(nodes.String))
    known = [*KNOWN_STRINGS, *cursors]
    schemathesis.graphql.scalar("String", st.one_of(st.sampled_from(known), anything).map(nodes.String))


# --- the run ----------------------------------------------------------------------------------------------


def fuzz_operation(
    operation: Any, mode: GenerationMode, *, examples: int, run_seed: int, call: Callable[[Any], None]
) -> None:
    """Send up to ``examples`` generated cases of one root field (fewer when it has fewer distinct documents)."""

    @seed(run_seed)
    @settings(
        max_examples=examples,
        deadline=None,  # no timing assertions: the number of cases bounds the run
        database=None,  # nothing carried between runs: the same seed sends the same documents
        phases=[Phase.generate],  # no shrinking: every failure is recorded and reported as it was sent
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        call(case)

    run()


def fuzz(url: str, who: str, bearer: str, *, examples: int, run_seed: int) -> Tally:
    headers = {"Authorization": f"Bearer {bearer}"}
    schema = schemathesis.graphql.from_url(f"{url}/graphql", headers=headers)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            fail(f"schemathesis cannot fuzz an operation of the schema: {result.err()}")
        operations.append(result.ok())
    runs = [(mode, op) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) for op in operations]
    tally = Tally()
    session = requests.Session()
    session.headers.update(headers)

    def call(case: Any) -> None:
        response = case.call(base_url=url, session=session, timeout=HANG_SECONDS)
        document = case.body.get("query", "") if isinstance(case.body, dict) else str(case.body)
        tally.record(case.operation.label, response.status_code, response.content, document)

    for i, (mode, operation) in enumerate(runs):
        share = examples // len(runs) + (1 if i < examples % len(runs) else 0)
        if share:
            fuzz_operation(operation, mode, examples=share, run_seed=run_seed, call=call)
    answers = ", ".join(f"{name} {count}" for name, count in tally.outcomes.most_common())
    print(
        f"make fuzz: {who}: {tally.cases} cases over {len(operations)} root fields, "
        f"{len(tally.failures)} server errors (answers: {answers})"
    )
    return tally


def main() -> int:
    examples = env_int("FUZZ_EXAMPLES", 300, minimum=1)
    run_seed = env_int("FUZZ_SEED", 0, minimum=0)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="gateway-fuzz-") as tmp:
        gaeldst = stack.enter_context(ThreadedServer(create_demo_app()))
        payments = stack.enter_context(
            ThreadedServer(
                create_simulator_app(webhook_url=f"{url}/webhooks/payments", webhook_secret=WEBHOOK_SECRET.encode())
            )
        )
        env = stack.enter_context(gateway_server(tmp, port, gaeldst.url, payments.url))
        tokens = {
            "citizen": token(env, "--citizen", ANNA),
            "caseworker": token(env, "--caseworker", DEMO_CASEWORKER),
        }
        ids, cursors = prepare(
            url,
            Client(url, tokens["citizen"]),
            Client(url, tokens["caseworker"]),
            Client(url, token(env, "--citizen", DAVID)),
        )
        register_values(ids, cursors)
        print(f"make fuzz: {len(ids)} global IDs and {len(cursors)} cursors of the demo citizens to fuzz with")
        tallies = {who: fuzz(url, who, bearer, examples=examples, run_seed=run_seed) for who, bearer in tokens.items()}
    total = sum(t.cases for t in tallies.values())
    failures = [(who, *f) for who, t in tallies.items() for f in t.failures]
    print(f"make fuzz: {total} cases in all (seed {run_seed}), {len(failures)} server errors")
    for who, reason, label, document in failures[:SHOWN_FAILURES]:
        print(f"\n--- {reason} ({label}, as the {who})\n{redact(document)}", file=sys.stderr)
    if len(failures) > SHOWN_FAILURES:
        print(f"\n... and {len(failures) - SHOWN_FAILURES} more", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
