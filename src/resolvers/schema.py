"""The GraphQL schema: queries, mutations, and the extensions that guard and speed up execution."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import strawberry
import structlog
from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from gateway.domain.cpr import redact
from gateway.domain.errors import ErrorCode, GatewayError
from gateway.domain.i18n import Language, translate
from gateway.settings import Settings
from resolvers.caseworkers.acting import (
    ActingQueries,
    CancelInstallmentPlanOnBehalfInput,
    CreateInstallmentPlanOnBehalfInput,
    EnrolAutomaticPaymentOnBehalfInput,
    SendPaymentLinkInput,
    SendPaymentLinkPayload,
    StopAutomaticPaymentOnBehalfInput,
    cancel_installment_plan_on_behalf,
    create_installment_plan_on_behalf,
    enrol_automatic_payment_on_behalf,
    send_payment_link,
    stop_automatic_payment_on_behalf,
)
from resolvers.caseworkers.portfolio import PortfolioQueries
from resolvers.caseworkers.queries import CaseworkerItemQueries, CaseworkerQueries
from resolvers.caseworkers.search import SearchQueries
from resolvers.caseworkers.workqueues import (
    ResolveWorkQueueItemInput,
    ResolveWorkQueueItemPayload,
    WorkQueueQueries,
    resolve_work_queue_item,
)
from resolvers.citizens.queries import CitizenQueries
from resolvers.citizens.types import AccessLogEntry, Citizen
from resolvers.claims.queries import ContactsQueries
from resolvers.claims.types import Claim, Department
from resolvers.common.permissions import CaseworkerCanAct
from resolvers.common.types import SCALARS
from resolvers.context import Info
from resolvers.execution import FastExecutionContext, install_plain_attribute_resolvers
from resolvers.limits import BoundedParserCache, LimitsConfig, QueryLimits, count_list_objects
from resolvers.node import MAX_NODES, NodeQueries
from resolvers.payments.mutations import (
    EnrolAutomaticPaymentInput,
    PaymentMethodPayload,
    StartPaymentInput,
    StartPaymentPayload,
    StopAutomaticPaymentInput,
    enrol_automatic_payment,
    start_payment,
    stop_automatic_payment,
)
from resolvers.payments.types import MobilePayAccount, Payment, PaymentMethod
from resolvers.plans.mutations import (
    AcceptCounterOfferInput,
    ApproveInstallmentPlanInput,
    CancelInstallmentPlanInput,
    CounterOfferInstallmentPlanInput,
    CreateInstallmentPlanInput,
    DeclineCounterOfferInput,
    InstallmentPlanPayload,
    RejectInstallmentPlanInput,
    accept_counter_offer,
    approve_installment_plan,
    cancel_installment_plan,
    counter_offer_installment_plan,
    create_installment_plan,
    decline_counter_offer,
    reject_installment_plan,
)
from resolvers.plans.queries import PlanQueries
from resolvers.plans.types import Installment, InstallmentPlan
from resolvers.subscriptions import Subscription

log = structlog.get_logger(__name__)

UPSTREAM_MARK = "UPSTREAM_UNAVAILABLE"


# The root query from the domain packages' root fields, in the order the published schema lists them.
Query = merge_types(
    "Query",
    (
        NodeQueries,
        CitizenQueries,
        CaseworkerQueries,
        ContactsQueries,
        PlanQueries,
        CaseworkerItemQueries,
        PortfolioQueries,
        WorkQueueQueries,
        SearchQueries,
        ActingQueries,
    ),
)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create an installment plan (R11). Over 18 months only with requestAssessment "
        "(then PENDING_APPROVAL)."
    )
    async def create_installment_plan(self, info: Info, input: CreateInstallmentPlanInput) -> InstallmentPlanPayload:
        return await create_installment_plan(info, input)

    @strawberry.mutation(
        description="Approve a plan waiting for an individual assessment. Caseworkers allowed to act; logged.",
        permission_classes=[CaseworkerCanAct],
    )
    async def approve_installment_plan(self, info: Info, input: ApproveInstallmentPlanInput) -> InstallmentPlanPayload:
        return await approve_installment_plan(info, input)

    @strawberry.mutation(
        description="Reject a plan waiting for an individual assessment: REJECTED, its claims free again; the "
        "citizen is told why. Caseworkers only; logged.",
        permission_classes=[CaseworkerCanAct],
    )
    async def reject_installment_plan(self, info: Info, input: RejectInstallmentPlanInput) -> InstallmentPlanPayload:
        return await reject_installment_plan(info, input)

    @strawberry.mutation(
        description="Offer other terms for a plan waiting for an individual assessment (at least 350.00 DKK a month): "
        "COUNTER_OFFERED until the citizen accepts or declines. Caseworkers only; logged.",
        permission_classes=[CaseworkerCanAct],
    )
    async def counter_offer_installment_plan(
        self, info: Info, input: CounterOfferInstallmentPlanInput
    ) -> InstallmentPlanPayload:
        return await counter_offer_installment_plan(info, input)

    @strawberry.mutation(description="The citizen accepts a counter-offer: the plan becomes ACTIVE on its terms.")
    async def accept_counter_offer(self, info: Info, input: AcceptCounterOfferInput) -> InstallmentPlanPayload:
        return await accept_counter_offer(info, input)

    @strawberry.mutation(description="The citizen declines a counter-offer: the plan ends, its claims free again.")
    async def decline_counter_offer(self, info: Info, input: DeclineCounterOfferInput) -> InstallmentPlanPayload:
        return await decline_counter_offer(info, input)

    @strawberry.mutation(
        description="The citizen cancels their own pending, counter-offered or active plan; its claims become free "
        "for a new plan. (Caseworkers: cancelInstallmentPlanOnBehalf.)"
    )
    async def cancel_installment_plan(self, info: Info, input: CancelInstallmentPlanInput) -> InstallmentPlanPayload:
        return await cancel_installment_plan(info, input)

    @strawberry.mutation(
        description="Caseworkers, on the phone: create a plan for the citizen, who accepted the terms on the phone. "
        "Logged with its purpose.",
        permission_classes=[CaseworkerCanAct],
    )
    async def create_installment_plan_on_behalf(
        self, info: Info, input: CreateInstallmentPlanOnBehalfInput
    ) -> InstallmentPlanPayload:
        return await create_installment_plan_on_behalf(info, input)

    @strawberry.mutation(
        description="Caseworkers, on the phone: cancel the citizen's plan. Logged with its purpose.",
        permission_classes=[CaseworkerCanAct],
    )
    async def cancel_installment_plan_on_behalf(
        self, info: Info, input: CancelInstallmentPlanOnBehalfInput
    ) -> InstallmentPlanPayload:
        return await cancel_installment_plan_on_behalf(info, input)

    @strawberry.mutation(
        description="Caseworkers, on the phone: enrol the citizen's bills or plan in automatic payment. Logged with "
        "its purpose.",
        permission_classes=[CaseworkerCanAct],
    )
    async def enrol_automatic_payment_on_behalf(
        self, info: Info, input: EnrolAutomaticPaymentOnBehalfInput
    ) -> PaymentMethodPayload:
        return await enrol_automatic_payment_on_behalf(info, input)

    @strawberry.mutation(
        description="Caseworkers, on the phone: stop the citizen's automatic payment. Logged with its purpose.",
        permission_classes=[CaseworkerCanAct],
    )
    async def stop_automatic_payment_on_behalf(
        self, info: Info, input: StopAutomaticPaymentOnBehalfInput
    ) -> PaymentMethodPayload:
        return await stop_automatic_payment_on_behalf(info, input)

    @strawberry.mutation(
        description="Caseworkers, on the phone: send the citizen a link to pay ticked claims (a notice); the citizen "
        "pays in their own session. Logged with its purpose.",
        permission_classes=[CaseworkerCanAct],
    )
    async def send_payment_link(self, info: Info, input: SendPaymentLinkInput) -> SendPaymentLinkPayload:
        return await send_payment_link(info, input)

    @strawberry.mutation(
        description="Mark a work queue's item resolved, with a note for colleagues: it leaves the open queue (lapsed "
        "plans, failed payments and draws, claims gone to collection would otherwise stay for ever; a plan awaiting "
        "assessment is closed by deciding it). Caseworkers allowed to act; logged in the citizen's access log.",
        permission_classes=[CaseworkerCanAct],
    )
    async def resolve_work_queue_item(
        self, info: Info, input: ResolveWorkQueueItemInput
    ) -> ResolveWorkQueueItemPayload:
        return await resolve_work_queue_item(info, input)

    @strawberry.mutation(
        description="Pay ticked claims now by card or MobilePay (R3); send the citizen to redirectUrl."
    )
    async def start_payment(self, info: Info, input: StartPaymentInput) -> StartPaymentPayload:
        return await start_payment(info, input)

    @strawberry.mutation(description="Enrol bills or a plan in Betalingsservice or a MobilePay subscription (R4, R9).")
    async def enrol_automatic_payment(self, info: Info, input: EnrolAutomaticPaymentInput) -> PaymentMethodPayload:
        return await enrol_automatic_payment(info, input)

    @strawberry.mutation(description="Stop an automatic-payment enrolment. A stopped one never comes back.")
    async def stop_automatic_payment(self, info: Info, input: StopAutomaticPaymentInput) -> PaymentMethodPayload:
        return await stop_automatic_payment(info, input)


class UpstreamErrors(SchemaExtension):
    """Adds one ``UPSTREAM_UNAVAILABLE`` error when any resolver answered without Gældsstyrelsen."""

    def on_execute(self) -> Iterator[None]:
        yield
        ctx = self.execution_context.context
        result = self.execution_context.result
        if result is not None and getattr(ctx, "upstream_unavailable", False):
            result.errors = [*(result.errors or []), upstream_error()]


def upstream_error() -> GraphQLError:
    """The one top-level error of a request answered without Gældsstyrelsen (the compiled path's too)."""
    return GraphQLError(UPSTREAM_MARK, extensions={"code": ErrorCode.UPSTREAM_UNAVAILABLE.value})


class RequireOperationName(SchemaExtension):
    """A document with several operations must name the one to run (GraphQL spec, GetOperation)."""

    def on_validate(self) -> Iterator[None]:
        # Before the yield: Strawberry reads the validation errors before the hooks' after-parts run.
        ctx = self.execution_context
        document = ctx.graphql_document
        # ``operation_name`` falls back to the first operation's name; what the client sent is kept aside.
        if document is not None and not getattr(ctx, "_provided_operation_name", None):
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                error = GraphQLError("Must provide operation name if query contains multiple operations.")
                ctx.pre_execution_errors = [*(ctx.pre_execution_errors or []), error]
        yield


class SubscriptionsOverWebSocket(SchemaExtension):
    """Subscriptions run over WebSocket only, and only subscriptions do: queries and mutations go over HTTP, where
    the response cache, media types and HTTP's own limits apply (graphql-transport-ws could carry them too), and
    a subscription over HTTP would answer its first event only."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None:
            try:
                is_subscription = ctx.operation_type is OperationType.SUBSCRIPTION
            except RuntimeError:  # no such operation: graphql-core's validation says so
                is_subscription = None
            over_websocket = getattr(ctx.context, "transport", "http") == "websocket"
            if is_subscription is not None and is_subscription != over_websocket:
                key = "SUBSCRIPTIONS_ONLY" if over_websocket else "SUBSCRIPTIONS_OVER_WEBSOCKET"
                original = GatewayError(ErrorCode.BAD_USER_INPUT, key)
                error = GraphQLError(key, original_error=original)
                ctx.pre_execution_errors = [*(ctx.pre_execution_errors or []), error]
        yield


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            original = error.original_error
            # A GraphQLError as the original is graphql-core's coercion of a variable: the client's mistake.
            if original is not None and not isinstance(original, (GatewayError, GraphQLError)):
                log.error("graphql.unexpected_error", path=error.path, exc_info=original)


def build_schema(settings: Settings | None = None, extensions: Sequence[Any] = ()) -> Schema:
    """The schema with the limits of ``settings`` (without: the defaults; the SDL does not depend on them), and
    ``extensions`` of the composition root's (tracing) before ours."""
    settings = settings or Settings.model_construct()  # the defaults, not the environment (``export-schema``)
    limits = LimitsConfig.from_settings(settings, max_ids=MAX_NODES)
    max_tokens = settings.max_query_tokens
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        types=[
            Citizen,
            Claim,
            Department,
            InstallmentPlan,
            Installment,
            PaymentMethod,
            Payment,
            MobilePayAccount,
            AccessLogEntry,
        ],
        extensions=[
            *extensions,
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: BoundedParserCache(maxsize=256, max_document_bytes=limits.max_cached_document_bytes),
            # Shape, validation (cached), introspection by viewer and cost: in place of Strawberry's depth and
            # alias limiters, which expand every fragment spread again (exponential in nested fragments).
            lambda: QueryLimits(limits),
            RequireOperationName,
            SubscriptionsOverWebSocket,
            UpstreamErrors,
        ],
        execution_context_class=FastExecutionContext,
    )
    install_plain_attribute_resolvers(schema._schema)
    count_list_objects(schema._schema)
    return schema


_TOKEN_LIMIT_HINT = "document contains more than"


def format_error(error: GraphQLError, language: Language) -> dict[str, object]:
    """Client-facing form of an error: a translated message and a fixed ``extensions.code``.

    Unexpected exceptions become INTERNAL with no detail (no stack traces or SQL reach a client).
    """
    formatted: dict[str, object] = {}
    original = error.original_error
    if isinstance(original, GatewayError):
        code = original.code.value
        message = translate(original.message_key, language, **original.params)
        if detail := getattr(original, "detail", None):  # which limit, in graphql-core's language (English)
            message = f"{message} {detail}"
    elif original is not None and error.path:
        # An exception in a resolver that no rule anticipated: no detail reaches the client.
        code, message = ErrorCode.INTERNAL.value, translate("INTERNAL", language)
    elif error.message == UPSTREAM_MARK:
        code, message = ErrorCode.UPSTREAM_UNAVAILABLE.value, translate("UPSTREAM_UNAVAILABLE", language)
    elif _TOKEN_LIMIT_HINT in error.message.lower():
        detail = error.message.removeprefix("Syntax Error: ")
        code, message = ErrorCode.QUERY_TOO_COMPLEX.value, f"{translate('QUERY_TOO_COMPLEX', language)} {detail}"
    else:
        # Syntax, validation and variable errors: graphql-core's own (English) wording says precisely what is
        # wrong.
        code, message = ErrorCode.BAD_USER_INPUT.value, redact(error.message)
    formatted["message"] = message
    if error.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        formatted["path"] = list(error.path)
    formatted["extensions"] = {"code": code}
    return formatted
