"""Payment provider adapter: card/MobilePay one-off payments, MobilePay subscriptions, Betalingsservice, and
the charges (recurring draws) on those agreements.

``client`` talks to the provider, ``webhooks`` verifies and parses its signed events, and
``simulator`` (imported explicitly, not from here) is a local stand-in for tests and development.
"""

from adapters.payments.client import (
    AgreementKind,
    AgreementState,
    BetalingsserviceReference,
    ChargeRequest,
    ChargeState,
    MalformedResponse,
    PaymentMethod,
    PaymentsCircuitOpen,
    PaymentsClient,
    PaymentsRejected,
    PaymentState,
    PaymentsUnavailable,
    ProviderAgreement,
    ProviderCharge,
    ProviderPayment,
    agreement_from_json,
    charge_from_json,
    payment_from_json,
)
from adapters.payments.webhooks import (
    SIGNATURE_HEADER,
    InvalidWebhookEvent,
    WebhookEvent,
    parse_event,
    sign,
    verify,
)

__all__ = [
    "SIGNATURE_HEADER",
    "AgreementKind",
    "AgreementState",
    "BetalingsserviceReference",
    "ChargeRequest",
    "ChargeState",
    "InvalidWebhookEvent",
    "MalformedResponse",
    "PaymentMethod",
    "PaymentState",
    "PaymentsCircuitOpen",
    "PaymentsClient",
    "PaymentsRejected",
    "PaymentsUnavailable",
    "ProviderAgreement",
    "ProviderCharge",
    "ProviderPayment",
    "WebhookEvent",
    "agreement_from_json",
    "charge_from_json",
    "parse_event",
    "payment_from_json",
    "sign",
    "verify",
]
