"""The composition root's wiring: every adapter and use-case a process needs, built once from the settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from adapters.gaeldst.client import GaeldstClient, GaeldstConfig, GaeldstUnavailable
from adapters.ledger.db import Database
from adapters.ledger.store import SqlLedger
from adapters.payments.client import PaymentsClient
from gateway.auth import TokenVerifier
from gateway.domain.collection import status_from_agency_state
from gateway.settings import Settings
from gateway.usecases.access import AccessLog
from gateway.usecases.draws import DrawPolicy, Draws
from gateway.usecases.enrolments import Enrolments
from gateway.usecases.payments import PaymentPolicy, Payments
from gateway.usecases.plans import InstallmentPlans
from gateway.usecases.ports import CollectionStatusUnavailable
from gateway.usecases.provider_events import ProviderEvents


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
    payments: Payments
    enrolments: Enrolments
    provider_events: ProviderEvents
    access_log: AccessLog
    draws: Draws

    async def aclose(self) -> None:
        await self.gaeldst.aclose()
        await self.payments_client.aclose()
        await self.db.dispose()


def gaeldst_config(settings: Settings) -> GaeldstConfig:
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
    )


def build_services(settings: Settings) -> Services:
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
    ledger = SqlLedger(db)
    gaeldst = GaeldstClient(gaeldst_config(settings))
    provider = PaymentsClient(
        settings.payments_url,
        api_key=settings.payments_api_key.get_secret_value() if settings.payments_api_key else None,
        timeout=settings.payments_timeout_seconds,
    )
    payments = Payments(
        ledger,
        provider,
        PaymentPolicy(
            poll_batch=settings.payments_poll_batch_size,
            expire_created_after=timedelta(seconds=settings.payments_expire_created_after_seconds),
            max_refusals=settings.payments_max_provider_refusals,
        ),
    )
    statuses = GaeldstStatuses(gaeldst)
    enrolments = Enrolments(ledger, provider, settings.public_url, statuses)
    draws = Draws(
        ledger,
        provider,
        statuses,
        enrolments,
        DrawPolicy(
            lead_bank_days=settings.draw_lead_bank_days,
            invoice_lead_bank_days=settings.invoice_lead_bank_days,
            retry_days=settings.draw_retry_days,
            grace_days=settings.plan_default_grace_days,
        ),
    )
    return Services(
        settings=settings,
        db=db,
        ledger=ledger,
        gaeldst=gaeldst,
        payments_client=provider,
        verifier=TokenVerifier(settings),
        plans=InstallmentPlans(ledger, statuses, enrolments),
        payments=payments,
        enrolments=enrolments,
        provider_events=ProviderEvents(ledger, payments, enrolments, draws),
        access_log=AccessLog(ledger),
        draws=draws,
    )
