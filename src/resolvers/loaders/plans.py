"""The installment plans' loaders: plans, their claims, their installments and what was paid into them."""

from __future__ import annotations

from functools import cached_property

from adapters.ledger import queries as q
from adapters.ledger.db import Database
from adapters.ledger.queries import (
    CaseworkerItemRow,
    DrawRow,
    InstallmentRow,
    LivePlanClaimRow,
    PaidIntoPlanRow,
    PlanClaimRow,
    PlanRow,
)
from resolvers.loaders.base import RowByKey, RowsByKey


class PlanLoaders:
    db: Database

    @cached_property
    def plan(self) -> RowByKey[int, PlanRow]:
        return RowByKey(self.db, q.plans_by_ids, lambda r: r.id)

    @cached_property
    def plans_by_citizen(self) -> RowsByKey[int, PlanRow]:
        """A citizen's plans, newest first."""
        return RowsByKey(self.db, q.plans_by_citizen_ids, lambda r: r.citizen_id)

    @cached_property
    def plan_claims(self) -> RowsByKey[int, PlanClaimRow]:
        """The claims in a plan."""
        return RowsByKey(self.db, q.plan_claims_by_plan_ids, lambda r: r.plan_id)

    @cached_property
    def live_plan_by_claim(self) -> RowsByKey[int, LivePlanClaimRow]:
        """The live plan a claim is in (at most one)."""
        return RowsByKey(self.db, q.live_plan_claims_by_claim_ids, lambda r: r.claim_id)

    @cached_property
    def installments_by_plan(self) -> RowsByKey[int, InstallmentRow]:
        """A plan's installments, by number."""
        return RowsByKey(self.db, q.installments_by_plan_ids, lambda r: r.plan_id)

    @cached_property
    def installment(self) -> RowByKey[int, InstallmentRow]:
        return RowByKey(self.db, q.installments_by_ids, lambda r: r.id)

    @cached_property
    def paid_into_plan(self) -> RowsByKey[int, PaidIntoPlanRow]:
        """What was paid on a plan's claims since it was made (no row: nothing)."""
        return RowsByKey(self.db, q.paid_into_plans, lambda r: r.plan_id)

    @cached_property
    def draws_by_plan(self) -> RowsByKey[int, DrawRow]:
        """A plan's draws (charges, Betalingsservice instructions, invoices), by due date."""
        return RowsByKey(self.db, q.draws_by_plan_ids, lambda r: r.plan_id)

    @cached_property
    def draws_by_enrolment(self) -> RowsByKey[int, DrawRow]:
        """The draws taken through an automatic-payment enrolment, by due date."""
        return RowsByKey(self.db, q.draws_by_enrolment_ids, lambda r: r.enrolment_id)

    @cached_property
    def draw(self) -> RowByKey[int, DrawRow]:
        return RowByKey(self.db, q.draws_by_ids, lambda r: r.id)

    @cached_property
    def caseworker_item(self) -> RowByKey[int, CaseworkerItemRow]:
        return RowByKey(self.db, q.caseworker_items_by_ids, lambda r: r.id)
