"""Configuration from the environment (``GATEWAY_*``), via pydantic-settings."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/betalingsoverblik.sqlite3"
# Development-only signing key (HS256). Production must configure a JWKS URL or its own key.
DEV_SECRET = "dev-only-insecure-signing-key-change-me-0123456789"
DEV_WEBHOOK_SECRET = "dev-webhook-secret"  # the simulator's default; refused in production


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = DEFAULT_SQLITE_URL
    database_pool_size: int = 10
    # PostgreSQL connections older than this are replaced at checkout (no ping per checkout: adapters.ledger.db).
    database_pool_recycle_seconds: int = Field(default=1800, ge=10)
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = False

    # Auth: JWTs verified against issuer and audience, with a JWKS URL (production) or a local key.
    auth_issuer: str = "https://login.randers.dk"
    auth_audience: str = "mit-betalingsoverblik"
    auth_jwks_url: str | None = None
    auth_secret: SecretStr | None = Field(default=None, description="HS256 key (development)")
    auth_public_key: str | None = Field(default=None, description="PEM public key (RS256/ES256)")
    auth_algorithms: list[str] = ["RS256", "ES256", "HS256"]
    auth_cpr_claim: str = "cpr"
    # Caseworkers' roles (issue 12, item 7; docs/caseworkers.md): the read-only role reads (look-ups, portfolio,
    # queues, search); the acting role reads and acts (approve, cancel, act on a citizen's behalf). The plain
    # caseworker role is the acting one, so tokens issued before the split keep working.
    auth_caseworker_role: str = "caseworker"
    auth_caseworker_read_role: str = "caseworker.read"
    auth_caseworker_act_role: str = "caseworker.act"
    auth_unit_claim: str = "unit"  # the token claim naming a caseworker's unit, shown in the access log
    auth_leeway_seconds: int = 30
    auth_token_ttl_seconds: int = 8 * 3600
    # Identity (issue 11): staff tokens from their own issuer/audience when set (then a citizen token can never be
    # a caseworker's, nor the other way round); the longest lifetime a token may have (exp - iat/nbf, and exp -
    # now); the HMAC key of citizens' pseudonyms (idempotency scope; default: the HS256 key; required otherwise).
    auth_staff_issuer: str | None = None
    auth_staff_audience: str | None = None
    auth_max_token_lifetime_seconds: int = Field(default=12 * 3600, ge=60)
    identity_pseudonym_key: SecretStr | None = None

    # Gældsstyrelsen (the Danish Debt Collection Agency)
    gaeldst_url: str = "http://127.0.0.1:8001"
    gaeldst_timeout_seconds: float = 0.8
    gaeldst_connect_timeout_seconds: float = 0.3
    gaeldst_max_retries: int = 2
    gaeldst_cache_ttl_seconds: float = 30.0
    gaeldst_breaker_threshold: int = 5
    gaeldst_breaker_ttl_seconds: float = 15.0
    gaeldst_token: SecretStr | None = None
    gaeldst_client_cert: str | None = None
    gaeldst_client_key: str | None = None
    gaeldst_ca_bundle: str | None = None

    # Payment provider (card, MobilePay, Betalingsservice)
    payments_url: str = "http://127.0.0.1:8002"
    payments_api_key: SecretStr | None = None
    payments_webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    payments_timeout_seconds: float = 5.0
    # The provider client's circuit breaker (per process): open after this many consecutive failed calls, one
    # probe after the ttl. A refusal (4xx) is an answer, not a failure.
    payments_breaker_threshold: int = Field(default=5, ge=1)
    payments_breaker_ttl_seconds: float = Field(default=15.0, gt=0)
    payments_poll_interval_seconds: float = 30.0  # 0 turns the poll off
    payments_poll_min_age_seconds: float = 10.0  # leave young payments to their webhooks
    # Installments over time (docs/domain-rules.md): when draws are created, how long MobilePay retries a
    # failed charge, and when an unpaid installment makes a plan lapse (misligholdt).
    draw_lead_bank_days: int = Field(default=5, ge=1, le=20)
    invoice_lead_bank_days: int = Field(default=10, ge=1, le=30)
    draw_retry_days: int = Field(default=3, ge=0, le=14)
    plan_default_grace_days: int = Field(default=14, ge=0, le=90)
    # Caseworkers' work queue PENDING_ENROLMENTS (issue 12): a Betalingsservice enrolment still PENDING after this
    # many days needs a look (the bank usually confirms a mandate within days; docs/caseworkers.md).
    queue_enrolment_pending_days: int = Field(default=14, ge=0, le=365)
    # How many claims each worker sweep asks Gældsstyrelsen about to keep the ledger's last known collection status
    # (the caseworkers' portfolio counts by it), least recently asked first; 0 turns it off.
    collection_check_batch_size: int = Field(default=500, ge=0, le=5000)
    worker_interval_seconds: float = Field(default=60.0, gt=0)
    # One-off payments (docs/api.md): how the status poll treats open payments.
    payments_poll_batch_size: int = Field(default=200, ge=1, le=5000)
    payments_expire_created_after_seconds: float = Field(default=1800.0, ge=600.0)
    payments_max_provider_refusals: int = Field(default=10, ge=1, le=1000)
    # Run the worker inside the gateway process too (``gateway dev`` does; production runs ``gateway worker``).
    worker_in_process: bool = False

    # GraphQL
    graphiql: bool | None = None  # default: on in development, off in production
    graphiql_demo_token: str | None = None  # set by `gateway dev` only: pre-filled in GraphiQL's headers
    max_query_depth: int = 12
    response_cache_ttl_seconds: float = 10.0  # citizens' read queries; 0 turns the cache off
    response_cache_max_bytes: int = 64 * 1024 * 1024
    max_page_size: int = 100
    # The compiled read path (docs/compiled-reads.md): trusted query documents answered from rows directly.
    compiled_reads: bool = True
    # Shadow mode: this share of compiled answers is also run the ordinary way, after the response; a difference
    # is logged (``compiled.mismatch``, without any value of the answers).
    compiled_shadow_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    # HTTP edge (issue 11): body limits, the server's timeouts and concurrency, rate limits. A reverse proxy in
    # front adds TLS and its own limits (README).
    graphql_max_body_bytes: int = Field(default=100 * 1024, ge=1024)  # 413 above it, before reading further
    webhook_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    http_keep_alive_timeout_seconds: int = Field(default=5, ge=1)  # idle between requests
    http_request_read_timeout_seconds: float = Field(default=10.0, gt=0)  # a request's head and body must arrive
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024)  # the request line and headers
    http_limit_concurrency: int = Field(default=1000, ge=1)  # connections; above it new requests get 503
    http_graceful_shutdown_seconds: int = Field(default=20, ge=0)
    # Draining (issue 13): on SIGTERM `serve` answers /readyz with 503 this long while still serving, so a load
    # balancer stops sending before the server stops accepting. Default: 0 in development, 5 s otherwise.
    http_drain_seconds: float | None = Field(default=None, ge=0)
    redis_url: str | None = None  # shares the rate limits across processes; in-process buckets without it
    rate_limit_enabled: bool = True
    rate_limit_citizen_per_second: float = Field(default=5.0, gt=0)
    rate_limit_citizen_burst: int = Field(default=100, ge=1)
    rate_limit_caseworker_per_second: float = Field(default=20.0, gt=0)
    rate_limit_caseworker_burst: int = Field(default=300, ge=1)
    rate_limit_anonymous_per_second: float = Field(default=5.0, gt=0)  # per client address
    rate_limit_anonymous_burst: int = Field(default=60, ge=1)
    rate_limit_key_prefix: str = "gateway:ratelimit:"  # Redis keys (one Redis may serve several deployments)

    # Operations (issue 13; docs/operations.md). /metrics on the API's port: with a token it needs
    # `Authorization: Bearer <token>`; without one it is open in development and 404 otherwise. With a metrics
    # port, /metrics is served there instead (on metrics_host) and not on the API's port at all.
    metrics_token: SecretStr | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)  # `gateway worker`'s own /metrics
    # OpenTelemetry traces, off by default; OTLP over HTTP (protobuf) to the endpoint (the collector's base URL,
    # e.g. http://otel-collector:4318; unset: the OTEL_EXPORTER_OTLP_* environment variables decide).
    tracing_enabled: bool = False
    tracing_otlp_endpoint: str | None = None
    tracing_service_name: str = "betalingsoverblik-gateway"
    tracing_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    # GraphQL limits and cost (issue 11; docs/api.md "Limits and cost"). Over any of them: QUERY_TOO_COMPLEX.
    max_aliases: int = Field(default=30, ge=0)
    max_query_tokens: int = Field(default=4000, ge=100)
    max_fragment_spreads: int = Field(default=200, ge=0)  # as written in the document
    max_selections: int = Field(default=4000, ge=1)  # fields and fragments once every fragment is expanded
    max_merge_work: int = Field(default=10_000, ge=1)  # same-named fields compared by validation (quadratic)
    cost_budget_anonymous: int = Field(default=500, ge=0)
    cost_budget_citizen: int = Field(default=5_000, ge=0)
    cost_budget_caseworker: int = Field(default=20_000, ge=0)
    max_objects_per_request: int = Field(default=20_000, ge=1)  # items of lists actually resolved
    query_cost_in_extensions: bool = True  # extensions.cost on every response
    max_cached_document_bytes: int = Field(default=20 * 1024, ge=0)  # larger documents are parsed every time
    introspection: Literal["on", "off", "caseworkers"] | None = None  # default: on in development, else caseworkers
    # Trusted documents (docs/trusted-documents.md): citizens and anonymous callers may run only the repository's
    # trusted documents (by id or by their full text); caseworkers keep arbitrary queries. Off unless set: turn it
    # on once every client in the field sends trusted documents.
    trusted_documents_only_for_citizens: bool = False

    # The citizens' web page (src/web, docs/web.md), served at / by the same app. ``web_api_url``: where the page
    # sends its GraphQL requests; unset, it calls this very app in-process (httpx's ASGI transport), through the
    # same HTTP edge, auth and limits as any client. The session cookie is encrypted and signed with a key derived
    # from ``web_session_secret``; production serves the page only when it is set (development derives one).
    web_enabled: bool = True
    web_api_url: str | None = None
    web_session_secret: SecretStr | None = None
    # The web page's OpenID Connect sign-in (production; src/web/oidc.py): authorization code flow with PKCE against
    # the municipality's identity broker. On when an issuer (or a discovery URL) and a client id are set. The
    # development sign-in of the demo citizens exists only in development with the local HS256 key, never in
    # production, whatever these say.
    web_oidc_issuer: str | None = None  # discovery at <issuer>/.well-known/openid-configuration
    web_oidc_discovery_url: str | None = None  # the discovery document's URL, if not under the issuer
    web_oidc_client_id: str | None = None
    web_oidc_client_secret: SecretStr | None = None
    web_oidc_redirect_url: str | None = None  # default: <public_url>/log-ind/mitid/callback
    web_oidc_scopes: str = "openid profile"

    # GraphQL subscriptions (docs/subscriptions.md): graphql-transport-ws on /graphql. How status events reach
    # every gateway process: "auto" is PostgreSQL LISTEN/NOTIFY on a PostgreSQL ledger and in-process on SQLite.
    events_backend: Literal["auto", "memory", "postgres", "redis"] = "auto"
    events_channel: str = Field(default="gateway_status", pattern=r"^[a-z_][a-z0-9_:]{0,62}$")
    subscriptions_max_per_connection: int = Field(default=20, ge=1, le=1000)
    subscriptions_connection_init_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _development_public_url_follows_the_port(self) -> Settings:
        """In development an unset public URL is where the gateway listens: ``GATEWAY_PORT=8100 make run`` must send
        the payment simulator's webhooks and the checkout's return to 8100, not to whatever answers on 8000."""
        if self.is_development and "public_url" not in self.model_fields_set:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104 - compared, not bound
            self.public_url = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
        return self

    @model_validator(mode="after")
    def _events_backend_is_possible(self) -> Settings:
        if self.events_backend == "postgres" and not self.database_url.startswith("postgresql"):
            raise ValueError("GATEWAY_EVENTS_BACKEND=postgres needs a PostgreSQL GATEWAY_DATABASE_URL")
        if self.events_backend == "redis" and not self.redis_url:
            raise ValueError("GATEWAY_EVENTS_BACKEND=redis needs GATEWAY_REDIS_URL")
        return self

    @property
    def events(self) -> Literal["memory", "postgres", "redis"]:
        """The status events' bus: ``events_backend``, with "auto" resolved by the database."""
        if self.events_backend != "auto":
            return self.events_backend
        return "postgres" if self.database_url.startswith("postgresql") else "memory"

    @model_validator(mode="after")
    def _production_is_configured(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            if not (self.auth_jwks_url or self.auth_public_key or self.auth_secret):
                raise ValueError("production needs GATEWAY_AUTH_JWKS_URL or a key")
            if self.auth_secret and self.auth_secret.get_secret_value() == DEV_SECRET:
                raise ValueError("the development signing key must not be used in production")
            if self.payments_webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET:
                raise ValueError("production needs its own GATEWAY_PAYMENTS_WEBHOOK_SECRET")
        return self

    @property
    def is_development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT

    @property
    def graphiql_enabled(self) -> bool:
        return self.is_development if self.graphiql is None else self.graphiql

    @property
    def drain_seconds(self) -> float:
        if self.http_drain_seconds is not None:
            return self.http_drain_seconds
        return 0.0 if self.is_development else 5.0

    @cached_property
    def signing_secret(self) -> str | None:
        """The HS256 key: configured, or the development default (never in production)."""
        if self.auth_secret is not None:
            return self.auth_secret.get_secret_value()
        if self.is_development and not (self.auth_jwks_url or self.auth_public_key):
            return DEV_SECRET
        return None

    @property
    def cursor_key(self) -> bytes:
        """The key of keyset cursors' query fingerprints (a citizen search by CPR must not carry a digest anyone
        could reverse): the pseudonym key, else the HS256 key, so that every gateway process accepts the others'."""
        if self.identity_pseudonym_key is not None:
            return self.identity_pseudonym_key.get_secret_value().encode()
        return (self.signing_secret or "").encode()

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url.removeprefix(prefix))
        return None
