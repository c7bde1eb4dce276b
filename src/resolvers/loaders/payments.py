"""The payments' loaders: automatic-payment enrolments, MobilePay accounts, one-off payments, allocations."""

from __future__ import annotations

from functools import cached_property

from adapters.ledger import queries as q
from adapters.ledger.db import Database
from adapters.ledger.queries import (
    AllocationRow,
    EnrolmentClaimRow,
    EnrolmentRow,
    MobilePayAccountRow,
    PaymentClaimRow,
    PaymentRow,
)
from resolvers.loaders.base import RowByKey, RowsByKey


class PaymentLoaders:
    db: Database

    @cached_property
    def enrolment(self) -> RowByKey[int, EnrolmentRow]:
        return RowByKey(self.db, q.enrolments_by_ids, lambda r: r.id)

    @cached_property
    def enrolments_by_citizen(self) -> RowsByKey[int, EnrolmentRow]:
        """A citizen's enrolments, newest first."""
        return RowsByKey(self.db, q.enrolments_by_citizen_ids, lambda r: r.citizen_id)

    @cached_property
    def live_enrolment_by_plan(self) -> RowsByKey[int, EnrolmentRow]:
        """The live enrolment covering a plan (at most one)."""
        return RowsByKey(self.db, q.live_enrolments_by_plan_ids, lambda r: r.live_plan_id)

    @cached_property
    def live_enrolment_by_claim(self) -> RowsByKey[int, EnrolmentClaimRow]:
        """The live enrolment covering a claim (at most one)."""
        return RowsByKey(self.db, q.live_enrolment_claims_by_claim_ids, lambda r: r.claim_id)

    @cached_property
    def enrolment_claims(self) -> RowsByKey[int, EnrolmentClaimRow]:
        """The claims an enrolment covers."""
        return RowsByKey(self.db, q.enrolment_claims_by_enrolment_ids, lambda r: r.enrolment_id)

    @cached_property
    def account(self) -> RowByKey[int, MobilePayAccountRow]:
        return RowByKey(self.db, q.accounts_by_ids, lambda r: r.id)

    @cached_property
    def accounts_by_citizen(self) -> RowsByKey[int, MobilePayAccountRow]:
        return RowsByKey(self.db, q.accounts_by_citizen_ids, lambda r: r.citizen_id)

    @cached_property
    def payment(self) -> RowByKey[int, PaymentRow]:
        return RowByKey(self.db, q.payments_by_ids, lambda r: r.id)

    @cached_property
    def payments_by_citizen(self) -> RowsByKey[int, PaymentRow]:
        """A citizen's one-off payments, newest first."""
        return RowsByKey(self.db, q.payments_by_citizen_ids, lambda r: r.citizen_id)

    @cached_property
    def payment_claims(self) -> RowsByKey[int, PaymentClaimRow]:
        """The claims a payment was for."""
        return RowsByKey(self.db, q.payment_claims_by_payment_ids, lambda r: r.payment_id)

    @cached_property
    def allocations_by_payment(self) -> RowsByKey[int, AllocationRow]:
        """Where a captured payment went."""
        return RowsByKey(self.db, q.allocations_by_payment_ids, lambda r: r.payment_id)
