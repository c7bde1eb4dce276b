"""The composition root's wiring: every adapter and use-case a process needs, built once from the settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from adapters.events import LocalEvents, PostgresEvents, RedisEvents
from adapters.gaeldst.client import GaeldstClient, GaeldstConfig, GaeldstUnavailable
from adapters.ledger.db import Database
from adapters.ledger.store import SqlLedger
from adapters.payments.client import PaymentsClient
from gateway.auth import TokenVerifier
from gateway.domain.collection import status_from_agency_state
from gateway.metrics import GatewayMetrics, count_statement
from gateway.settings import Settings
from gateway.tracing import instrument_database, instrument_http_clients, provider_from_settings
from gateway.usecases.access import AccessLog
from gateway.usecases.draws import DrawPolicy, Draws
from gateway.usecases.enrolments import Enrolments
from gateway.usecases.payments import PaymentPolicy, Payments
from gateway.usecases.plans import InstallmentPlans
from gateway.usecases.ports import CollectionStatusUnavailable, StatusEvents
from gateway.usecases.provider_events import ProviderEvents
from gateway.usecases.workqueues import WorkQueues

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


class GaeldstStatuses:
    """``CollectionStatuses`` on the Gældsstyrelsen client: its states as our CollectionStatus names."""

    def __init__(self, client: GaeldstClient) -> None:
        self.client = client

    async def statuses(self, references: Sequence[str]) -> Mapping[str, str]:
        try:
            states = await self.client.fetch_states(list(references))
        except GaeldstUnavailable:
            raise CollectionStatusUnavailable from None
        return {ref: status_from_agency_state(s.state.value).value for ref, s in states.items()}


@dataclass
class Services:
    """Everything a request may use, created once per process in the lifespan."""

    settings: Settings
    db: Database
    ledger: SqlLedger
    gaeldst: GaeldstClient
    payments_client: PaymentsClient
    verifier: TokenVerifier
    plans: InstallmentPlans
    work_queues: WorkQueues
    payments: Payments
    enrolments: Enrolments
    provider_events: ProviderEvents
    access_log: AccessLog
    draws: Draws
    events: StatusEvents
    metrics: GatewayMetrics
    tracer_provider: TracerProvider | None = None  # OpenTelemetry (gateway.tracing); None: tracing is off
    owns_tracer_provider: bool = False

    async def aclose(self) -> None:
        await self.events.aclose()
        await self.gaeldst.aclose()
        await self.payments_client.aclose()
        await self.db.dispose()
        if self.tracer_provider is not None and self.owns_tracer_provider:
            self.tracer_provider.shutdown()  # exports what is still buffered


def gaeldst_config(settings: Settings, metrics: GatewayMetrics | None = None) -> GaeldstConfig:
    cert = (
        (settings.gaeldst_client_cert, settings.gaeldst_client_key or settings.gaeldst_client_cert)
        if settings.gaeldst_client_cert
        else None
    )
    return GaeldstConfig(
        base_url=settings.gaeldst_url,
        timeout_seconds=settings.gaeldst_timeout_seconds,
        connect_timeout=settings.gaeldst_connect_timeout_seconds,
        max_retries=settings.gaeldst_max_retries,
        cache_ttl_seconds=settings.gaeldst_cache_ttl_seconds,
        breaker_threshold=settings.gaeldst_breaker_threshold,
        breaker_ttl_seconds=settings.gaeldst_breaker_ttl_seconds,
        bearer_token=settings.gaeldst_token.get_secret_value() if settings.gaeldst_token else None,
        client_cert=cert,
        ca_bundle=settings.gaeldst_ca_bundle,
        observer=metrics.upstream("gaeldst") if metrics is not None else None,
    )


def build_events(settings: Settings) -> StatusEvents:
    """The subscriptions' event bus: between processes on PostgreSQL or Redis, in-process on SQLite."""
    if settings.events == "postgres":
        return PostgresEvents(settings.database_url, settings.events_channel)
    if settings.events == "redis":
        assert settings.redis_url is not None  # checked by the settings
        return RedisEvents(settings.redis_url, settings.events_channel)
    return LocalEvents()


def build_services(
    settings: Settings, metrics: GatewayMetrics | None = None, tracer_provider: TracerProvider | None = None
) -> Services:
    """Every adapter and use-case; ``metrics`` records what they do (a registry of its own unless given), and
    ``tracer_provider`` (else the settings' one, if tracing is on) gets their SQL and HTTP spans."""
    metrics = metrics if metrics is not None else GatewayMetrics()
    provider = tracer_provider if tracer_provider is not None else provider_from_settings(settings)
    db = Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_recycle_seconds=settings.database_pool_recycle_seconds,
    )
    db.on_statement(count_statement)
    events = build_events(settings)
    ledger = SqlLedger(db, events)
    gaeldst = GaeldstClient(gaeldst_config(settings, metrics))
    provider_client = PaymentsClient(
        settings.payments_url,
        api_key=settings.payments_api_key.get_secret_value() if settings.payments_api_key else None,
        timeout=settings.payments_timeout_seconds,
        observer=metrics.upstream("payments"),
        breaker_threshold=settings.payments_breaker_threshold,
        breaker_ttl_seconds=settings.payments_breaker_ttl_seconds,
    )
    payments = Payments(
        ledger,
        provider_client,
        PaymentPolicy(
            poll_batch=settings.payments_poll_batch_size,
            expire_created_after=timedelta(seconds=settings.payments_expire_created_after_seconds),
            max_refusals=settings.payments_max_provider_refusals,
        ),
    )
    statuses = GaeldstStatuses(gaeldst)
    enrolments = Enrolments(ledger, provider_client, settings.public_url, statuses)
    draws = Draws(
        ledger,
        provider_client,
        statuses,
        enrolments,
        DrawPolicy(
            lead_bank_days=settings.draw_lead_bank_days,
            invoice_lead_bank_days=settings.invoice_lead_bank_days,
            retry_days=settings.draw_retry_days,
            grace_days=settings.plan_default_grace_days,
            collection_check_batch=settings.collection_check_batch_size,
        ),
    )
    if provider is not None:
        instrument_database(db, provider)
        instrument_http_clients([gaeldst.http, provider_client.http], provider)
    return Services(
        settings=settings,
        db=db,
        ledger=ledger,
        gaeldst=gaeldst,
        payments_client=provider_client,
        verifier=TokenVerifier(settings),
        plans=InstallmentPlans(ledger, statuses, enrolments),
        work_queues=WorkQueues(ledger, enrolment_pending_days=settings.queue_enrolment_pending_days),
        payments=payments,
        enrolments=enrolments,
        provider_events=ProviderEvents(ledger, payments, enrolments, draws),
        access_log=AccessLog(ledger),
        draws=draws,
        events=events,
        metrics=metrics,
        tracer_provider=provider,
        owns_tracer_provider=provider is not None and tracer_provider is None,
    )
