"""``Subscription``: a payment's, an automatic payment's (enrolment's) or a plan's status, live.

Each field watches one object by its global ID and yields the object: first as it is when the subscription
starts (so a client never misses a change between reading a page and subscribing), then each time its status
changes, and completes after a final status (nothing follows one). Who may watch what is exactly ``node(id:)``:
a citizen their own objects, a caseworker anybody's (logged once per subscription, as a look-up); for an ID that
does not exist or is somebody else's the one event is ``null``, as ``node`` answers, and the subscription ends.

Events carry ledger ids only; the object is read again from the ledger for every event, with new DataLoaders
(the connection's context lives as long as the WebSocket, and a loader's cache must not outlive one event).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import strawberry

from gateway.domain import enrolments, payment_states, plan_states
from gateway.domain.errors import ErrorCode, GatewayError
from gateway.domain.viewers import CaseworkerViewer
from gateway.usecases.ports import StatusKind
from resolvers.caseworkers.access_log import log_caseworker_access
from resolvers.common import ids
from resolvers.common.types import Node
from resolvers.context import Info
from resolvers.loaders import Loaders
from resolvers.node import load_node
from resolvers.payments.types import Payment, PaymentMethod
from resolvers.plans.types import InstallmentPlan


@dataclass(frozen=True)
class _Watched:
    type_name: str  # the global ID's type
    kind: StatusKind  # the status events' kind
    is_final: Callable[[str], bool]
    operation: str  # the access log's name for a caseworker's subscription


PAYMENT = _Watched("Payment", "payment", lambda s: s in payment_states.FINAL_STATUSES, "paymentUpdated")
PAYMENT_METHOD = _Watched(
    "PaymentMethod", "enrolment", lambda s: s in enrolments.TERMINAL_STATUSES, "paymentMethodUpdated"
)
PLAN = _Watched("InstallmentPlan", "plan", lambda s: s in plan_states.TERMINAL_STATUSES, "installmentPlanUpdated")


async def _current(info: Info, watched: _Watched, key: int) -> tuple[Node | None, int | None]:
    ctx = info.context
    ctx.loaders = Loaders(ctx.db)  # fresh rows for this event (see the module's docstring)
    return await load_node(info, watched.type_name, key)


def _status(node: Any) -> str:
    return str(node.status.value)


# Each field closes ``watch`` as soon as it is itself closed (the client's ``complete``, a closed socket), so the
# object is no longer watched; an abandoned generator would keep its watcher until garbage collection.


async def watch(info: Info, global_id: str, watched: _Watched) -> AsyncGenerator[Any, None]:
    ctx = info.context
    ctx.require_viewer()
    try:
        key = ids.decode_as(global_id, watched.type_name)
    except ids.InvalidGlobalId:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_ID") from None
    # Watching before the first read: a change committed in between wakes the loop below.
    async with ctx.services.events.watch(watched.kind, key) as changes:
        node, owner = await _current(info, watched, key)
        if node is None:
            yield None
            return
        if isinstance(ctx.viewer, CaseworkerViewer):
            await log_caseworker_access(ctx, [owner], watched.operation)
        last = _status(node)
        yield node
        while not watched.is_final(last):
            await changes.wait()
            node, _ = await _current(info, watched, key)
            if node is None:  # gone (never happens to these: the ledger keeps them)
                return
            if _status(node) != last:
                last = _status(node)
                yield node


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="A one-off payment as it is now, then each time its status changes, until a final status "
        "(CAPTURED, FAILED, CANCELLED, EXPIRED). null (once) for an ID that is not the viewer's to see."
    )
    async def payment_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Payment | None, None]:
        async with aclosing(watch(info, id, PAYMENT)) as nodes:
            async for node in nodes:
                yield node

    @strawberry.subscription(
        description="An automatic-payment enrolment (Betalingsservice or a MobilePay subscription) as it is now, "
        "then each time its status changes, until it is REJECTED, STOPPED or EXPIRED. null (once) for an ID that "
        "is not the viewer's to see."
    )
    async def payment_method_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[PaymentMethod | None, None]:
        async with aclosing(watch(info, id, PAYMENT_METHOD)) as nodes:
            async for node in nodes:
                yield node

    @strawberry.subscription(
        description="An installment plan as it is now, then each time its status changes, until it is "
        "COMPLETED, DEFAULTED, CANCELLED or REJECTED. null (once) for an ID that is not the viewer's to see."
    )
    async def installment_plan_updated(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[InstallmentPlan | None, None]:
        async with aclosing(watch(info, id, PLAN)) as nodes:
            async for node in nodes:
                yield node
