"""Installment plans' root fields: the terms, the preview, and the caseworkers' queue of plans awaiting approval."""

from __future__ import annotations

import strawberry

from gateway.domain.terms import CURRENT_TERMS_VERSION, MAX_TERMS_VERSION_LENGTH
from resolvers.common.permissions import CaseworkerCanRead
from resolvers.common.types import Connection
from resolvers.context import Info
from resolvers.plans.mutations import (
    InstallmentPlanInput,
    InstallmentPlanPreview,
    plans_awaiting_approval,
    preview_installment_plan,
)
from resolvers.plans.types import InstallmentPlan, PlanTerms, plan_terms


@strawberry.type
class PlanQueries:
    @strawberry.field(
        description="The terms of an installment plan (R11) in the request's language: the current version, or a "
        "published one by its version (null for a version never published). Public, like contacts."
    )
    def plan_terms(self, info: Info, version: str | None = None) -> PlanTerms | None:
        if version is not None and len(version) > MAX_TERMS_VERSION_LENGTH:
            return None
        return plan_terms(version or CURRENT_TERMS_VERSION, info)

    @strawberry.field(
        description="The plan a citizen would get for these claims, and whether it is allowed. Changes nothing."
    )
    async def preview_installment_plan(self, info: Info, input: InstallmentPlanInput) -> InstallmentPlanPreview:
        return await preview_installment_plan(info, input)

    @strawberry.field(
        description="Plans waiting for a caseworker's individual assessment, oldest first. Caseworkers only.",
        permission_classes=[CaseworkerCanRead],
    )
    async def installment_plans_awaiting_approval(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[InstallmentPlan]:
        return await plans_awaiting_approval(info, first, after)
