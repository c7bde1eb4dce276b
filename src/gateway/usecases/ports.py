"""Ports: what the use-cases need from the outside world, as protocols the adapters satisfy.

The use-cases import only these (and the domain core); the composition root hands them the adapters
(``adapters.ledger.store.SqlLedger``, ``adapters.payments.client.PaymentsClient``, the Gældsstyrelsen
client). Rows coming back from the ledger are read by attribute (``row.outstanding_oere``); their shapes are
documented on the adapter's statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

from gateway.domain.plans import ScheduledInstallment
from gateway.domain.workqueues import Queue

Row = Any  # a ledger row read by attribute (SQLAlchemy's Row at run time)
PaymentMethodName = Literal["CARD", "MOBILEPAY"]
AgreementKind = Literal["MOBILEPAY_SUBSCRIPTION", "BETALINGSSERVICE"]


@dataclass(frozen=True)
class IdempotencyRecord:
    operation: str
    request_hash: str
    result: dict[str, Any]


class LedgerTx(Protocol):
    """The ledger as seen inside one transaction (or one read-only connection)."""

    # claims
    async def claims_with_outstanding(self, claim_ids: Sequence[int], *, lock: bool = False) -> list[Row]: ...
    async def entries_for_claims(self, claim_ids: Sequence[int]) -> list[Row]: ...

    # installment plans
    async def insert_plan(
        self,
        *,
        citizen_id: int,
        status: str,
        claims: Sequence[tuple[int, int]],
        principal_oere: int,
        monthly_oere: int,
        day_of_month: int,
        schedule: Sequence[ScheduledInstallment],
        excludes_future_interest: bool,
        assessment_requested: bool,
        created_by: str,
        now: datetime,
        terms_version: str | None = None,
        terms_accepted_via: str | None = None,
        assessment_reason: str | None = None,
    ) -> int: ...
    async def replace_schedule(self, plan_id: int, schedule: Sequence[ScheduledInstallment]) -> None: ...
    async def plan_for_update(self, plan_id: int) -> Row | None: ...
    async def plan_claim_rows(self, plan_id: int) -> list[Row]: ...
    async def approve(
        self,
        plan_id: int,
        *,
        by: str,
        note: str,
        now: datetime,
        principal_oere: int,
        months: int,
        message_to_citizen: str | None = None,
    ) -> None: ...
    async def reject(self, plan_id: int, *, by: str, note: str, message_to_citizen: str, now: datetime) -> None: ...
    async def counter_offer(
        self,
        plan_id: int,
        *,
        by: str,
        note: str,
        message_to_citizen: str,
        monthly_oere: int,
        months: int,
        now: datetime,
    ) -> None: ...
    async def accept_counter_offer(
        self,
        plan_id: int,
        *,
        now: datetime,
        principal_oere: int,
        monthly_oere: int,
        months: int,
        terms_version: str,
        terms_accepted_via: str,
    ) -> None: ...
    async def cancel(self, plan_id: int, *, by: str, now: datetime, reason: str | None = None) -> None: ...
    async def pending_plans(self) -> list[Row]: ...
    async def plan(self, plan_id: int) -> Row | None: ...

    # one-off payments
    async def insert_payment(
        self,
        *,
        citizen_id: int,
        method: str,
        amount_oere: int,
        return_url: str,
        claim_ids: Sequence[int],
        now: datetime,
    ) -> int: ...
    async def insert_payment_request(
        self, *, citizen_id: int, requested_by: str, claim_ids: Sequence[int], now: datetime
    ) -> int: ...
    async def payment_request(self, request_id: int) -> Row | None: ...
    async def payment_row(self, payment_id: int) -> Row | None: ...
    async def payment_for_update(self, payment_id: int) -> Row | None: ...
    async def payment_claim_ids(self, payment_id: int) -> list[int]: ...
    async def set_payment_provider(self, payment_id: int, *, provider_ref: str, redirect_url: str | None) -> None: ...
    async def update_payment(self, payment_id: int, **values: Any) -> None: ...
    async def post_allocations(
        self,
        *,
        payment_id: int | None = None,
        draw_id: int | None = None,
        posted_on: date,
        text: str,
        allocations: Sequence[tuple[int, str, int]],
        now: datetime,
    ) -> None: ...
    async def payments_to_poll(self, *, older_than: datetime, now: datetime, limit: int) -> list[Row]: ...
    async def note_payment_refusal(self, payment_id: int, *, refusals: int) -> None: ...
    async def payment_id_by_provider_ref(self, provider_ref: str) -> int | None: ...
    async def payment_id_by_provider_key(self, provider_key: str) -> int | None: ...

    # automatic payment (enrolments) and MobilePay accounts
    async def account(self, account_id: int) -> Row | None: ...
    async def account_by_provider_ref(self, citizen_id: int, provider_ref: str) -> Row | None: ...
    async def live_enrolment_conflicts(self, *, claim_ids: Sequence[int], plan_id: int | None) -> bool: ...
    async def insert_enrolment(
        self,
        *,
        citizen_id: int,
        kind: str,
        account_id: int | None,
        plan_id: int | None,
        claim_ids: Sequence[int],
        now: datetime,
    ) -> int: ...
    async def enrolment_row(self, enrolment_id: int) -> Row | None: ...
    async def enrolment_for_update(self, enrolment_id: int) -> Row | None: ...
    async def set_enrolment_provider(
        self, enrolment_id: int, *, provider_ref: str, confirmation_url: str | None
    ) -> None: ...
    async def update_enrolment(self, enrolment_id: int, *, live: bool, **values: Any) -> None: ...
    async def pending_enrolments(self, *, older_than: datetime, limit: int = 200) -> list[Row]: ...
    async def enrolments_to_poll(self, *, older_than: datetime, now: datetime, limit: int) -> list[Row]: ...
    async def live_enrolments_of_plan(self, plan_id: int) -> list[Row]: ...
    async def enrolment_id_by_provider_ref(self, provider_ref: str) -> int | None: ...

    # installments over time: draws, plans that end, claims that leave a plan
    async def installments_without_draw(self, *, due_until: date, limit: int = 500) -> list[Row]: ...
    async def bills_without_draw(self, *, due_until: date, limit: int = 500) -> list[Row]: ...
    async def drawn_installment_ids(self, plan_id: int) -> set[int]: ...
    async def plan_installments(self, plan_id: int) -> list[Row]: ...
    async def plan_live_claim_ids(self, plan_id: int) -> list[int]: ...
    async def paid_into_plan(self, plan_id: int) -> int: ...
    async def live_plans(self, *, statuses: Sequence[str] = ("ACTIVE",)) -> list[Row]: ...
    async def live_plan_claims(self) -> list[Row]: ...
    # The last known collection status per claim (the caseworkers' portfolio counts by it)
    async def claims_to_check(self, *, limit: int) -> list[Row]: ...
    async def record_collection_statuses(self, statuses: Mapping[int, str], *, now: datetime) -> None: ...
    async def insert_draw(
        self,
        *,
        draw_key: str,
        citizen_id: int,
        plan_id: int | None,
        installment_id: int | None,
        enrolment_id: int | None,
        claim_id: int | None,
        channel: str,
        status: str,
        amount_oere: int,
        due_on: date,
        now: datetime,
    ) -> int | None: ...
    async def draw_row(self, draw_id: int) -> Row | None: ...
    async def draw_for_update(self, draw_id: int) -> Row | None: ...
    async def draw_id_by_provider_ref(self, provider_ref: str) -> int | None: ...
    async def draw_id_by_provider_key(self, provider_key: str) -> int | None: ...
    async def update_draw(self, draw_id: int, **values: Any) -> None: ...
    async def draws_to_submit(self, *, limit: int = 500) -> list[Row]: ...
    async def open_draws(self, *, due_before: date, limit: int = 500) -> list[Row]: ...
    async def open_draws_of_plan(self, plan_id: int) -> list[Row]: ...
    async def overdue_invoices(self, *, due_before: date, limit: int = 500) -> list[Row]: ...
    async def draws_by_status(self, status: str, *, due_before: date, limit: int = 500) -> list[Row]: ...
    async def end_plan(self, plan_id: int, *, status: str, reason: str, now: datetime) -> None: ...
    async def release_claim(self, plan_id: int, claim_id: int, *, reason: str, now: datetime) -> None: ...
    async def reschedule_undrawn(self, plan_id: int, schedule: Sequence[ScheduledInstallment]) -> None: ...
    async def notify_citizen(
        self,
        *,
        citizen_id: int,
        code: str,
        dedupe_key: str,
        now: datetime,
        plan_id: int | None = None,
        draw_id: int | None = None,
        claim_id: int | None = None,
        payment_request_id: int | None = None,
    ) -> bool: ...
    async def add_caseworker_item(
        self,
        *,
        kind: str,
        dedupe_key: str,
        citizen_id: int,
        now: datetime,
        plan_id: int | None = None,
        draw_id: int | None = None,
        claim_id: int | None = None,
    ) -> bool: ...

    # provider events (webhooks)
    async def record_event(self, *, event_id: str, event_type: str, now: datetime) -> bool: ...
    async def event_seen(self, event_id: str) -> bool: ...

    # idempotency keys
    async def idempotency_record(self, actor: str, key: str) -> IdempotencyRecord | None: ...
    async def claim_idempotency_key(
        self, actor: str, key: str, *, operation: str, request_hash: str, now: datetime
    ) -> None: ...
    async def store_idempotent_result(self, actor: str, key: str, result: dict[str, Any]) -> None: ...

    # access log
    async def log_access(
        self,
        *,
        caseworker_id: str,
        citizen_ids: Iterable[int | None],
        operation: str,
        request_id: str | None,
        now: datetime,
        actor_name: str | None = None,
        actor_unit: str | None = None,
        purpose: str | None = None,
    ) -> None: ...

    # work queues (a caseworker's mark)
    async def work_queue_item(
        self, queue: Queue, key1: int, key2: int, *, today: date, pending_before: datetime
    ) -> Row | None: ...
    async def mark_work_queue_item_resolved(
        self,
        *,
        queue: Queue,
        key1: int,
        key2: int,
        citizen_id: int,
        by: str,
        name: str | None,
        note: str,
        now: datetime,
    ) -> int: ...


class Ledger(Protocol):
    """The municipal ledger: read-only connections and write transactions."""

    def read(self) -> AbstractAsyncContextManager[LedgerTx]: ...
    def transaction(self) -> AbstractAsyncContextManager[LedgerTx]: ...
    def is_conflict(self, exc: BaseException) -> bool:
        """A unique violation or a serialization failure: worth evaluating the mutation once more."""
        ...


class CollectionStatusUnavailable(Exception):
    """Gældsstyrelsen could not be asked (down, slow, breaker open)."""


class CollectionStatuses(Protocol):
    """Gældsstyrelsen's status per claim reference, as ``CollectionStatus`` names."""

    async def statuses(self, references: Sequence[str]) -> Mapping[str, str]:
        """Raises CollectionStatusUnavailable when Gældsstyrelsen cannot be asked."""
        ...


class UpstreamObserver(Protocol):
    """What an upstream client tells about its own calls (the composition root records them as metrics).

    ``outcome`` is a short, bounded code (``ok``, ``TIMEOUT``, ``HTTP_503``, ``rejected``, ...), never a value
    from a request or an answer; ``state`` is a circuit breaker's state (``closed``, ``half-opened``,
    ``opened``). ``seconds`` is None for a call that never left (the breaker was open)."""

    def request(self, outcome: str, seconds: float | None) -> None: ...
    def breaker(self, state: str) -> None: ...


class ProviderUnavailable(Exception):
    """The payment provider could not be reached, answered nonsense, or its breaker is open (retry later, same key)."""


class ProviderRejected(Exception):
    """The payment provider refused the request (its error code in ``code``)."""

    code: str


class ProviderPayment(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def amount_oere(self) -> int: ...
    @property
    def captured_oere(self) -> int: ...
    @property
    def redirect_url(self) -> str | None: ...


class ProviderAgreement(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def confirmation_url(self) -> str | None: ...
    @property
    def mobilepay_account_ref(self) -> str | None: ...


class ProviderCharge(Protocol):
    """A MobilePay Recurring charge, or a Betalingsservice payment instruction."""

    @property
    def id(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def amount_oere(self) -> int: ...
    @property
    def captured_oere(self) -> int: ...
    @property
    def failure_reason(self) -> str | None: ...


class PaymentProvider(Protocol):
    """The payment provider (ePayment, Recurring and Betalingsservice shaped). Every write is idempotent by key."""

    async def create_payment(
        self,
        *,
        idempotency_key: str,
        reference: str,
        amount_oere: int,
        method: PaymentMethodName,
        return_url: str,
        description: str,
    ) -> ProviderPayment: ...
    async def get_payment(self, payment_id: str) -> ProviderPayment: ...
    async def capture_payment(self, payment_id: str, *, amount_oere: int, idempotency_key: str) -> ProviderPayment: ...
    async def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment: ...
    async def create_agreement(
        self,
        *,
        idempotency_key: str,
        kind: AgreementKind,
        customer_ref: str,
        mobilepay_account_ref: str | None,
        description: str,
        return_url: str | None,
    ) -> ProviderAgreement: ...
    async def get_agreement(self, agreement_id: str) -> ProviderAgreement: ...
    async def stop_agreement(self, agreement_id: str, *, idempotency_key: str) -> ProviderAgreement: ...
    async def create_charge(
        self,
        agreement_id: str,
        *,
        idempotency_key: str,
        amount_oere: int,
        due: date,
        retry_days: int,
        description: str,
        reference: str,
    ) -> ProviderCharge: ...
    async def get_charge(self, charge_id: str) -> ProviderCharge: ...
    async def list_charges(self, agreement_id: str) -> Sequence[ProviderCharge]: ...
    async def cancel_charge(self, charge_id: str, *, idempotency_key: str) -> ProviderCharge: ...


# --- status events (GraphQL subscriptions) -------------------------------------------------------------------

StatusKind = Literal["payment", "enrolment", "plan"]


@dataclass(frozen=True)
class StatusChange:
    """A payment's, enrolment's or plan's status was written: its ledger id and the new status, never anything
    about the citizen (the events cross process boundaries: PostgreSQL NOTIFY, Redis)."""

    kind: StatusKind
    key: int
    status: str


class ChangeSignal(Protocol):
    async def wait(self) -> None:
        """Return once a change of the watched object has arrived since the previous ``wait`` (changes that arrive
        while the caller is busy are not lost: they make the next ``wait`` return at once, as one)."""
        ...


class StatusEvents(Protocol):
    """Status changes, from the process that committed them to the subscribers in every gateway process.

    The ledger publishes a transaction's changes once it has committed (``adapters.ledger.store.SqlLedger``);
    subscriptions watch one object each and read it again when told it changed."""

    async def publish(self, changes: Sequence[StatusChange]) -> None: ...
    def watch(self, kind: StatusKind, key: int) -> AbstractAsyncContextManager[ChangeSignal]:
        """Watch one object for as long as the block runs (events from the moment the block is entered)."""
        ...

    async def aclose(self) -> None: ...
