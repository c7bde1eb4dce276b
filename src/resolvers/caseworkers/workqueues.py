"""``workQueue``: Betalingskontoret's work queues as connections (issue 12, item 2), and ``CitizenSummary``, how
lists show a citizen (the CPR masked).

Each queue is one statement per page plus one for ``totalCount`` (``adapters.ledger.workplace``), ordered oldest
first by (date, key) and paged by keyset: a cursor holds the last item's position and the query it came from, so a
page never shifts when items are added or leave, and a cursor of another queue, filter or field is refused
(``CURSOR_FROM_ANOTHER_QUERY``). The objects an item is about load through the request's DataLoaders, batched.
Every citizen a page shows is written to the access log.

``resolveWorkQueueItem``: a caseworker marks an item resolved (``gateway.usecases.workqueues``); it leaves the open
queue and shows, with the mark, under ``filter: {resolved: true}``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import strawberry

from adapters.ledger import workplace as w
from adapters.ledger.queries import CitizenRow
from gateway.domain.clock import COPENHAGEN, today, utcnow
from gateway.domain.cpr import Cpr
from gateway.domain.errors import bad_input
from gateway.domain.workqueues import Queue
from gateway.usecases.idempotency import Outcome
from gateway.usecases.workqueues import ResolveRequest
from resolvers.caseworkers.access_log import log_caseworker_access
from resolvers.caseworkers.queries import draw_or_none, plan_or_none
from resolvers.claims.types import Claim
from resolvers.common import ids
from resolvers.common.acting import actor_of
from resolvers.common.errors import UserError, user_errors
from resolvers.common.permissions import CaseworkerCanRead
from resolvers.common.types import Connection, Edge, Money, check_first, decode_keyset, keyset_page_info, money
from resolvers.context import Context, Info
from resolvers.loaders.base import present
from resolvers.payments.types import Payment, PaymentMethod
from resolvers.plans.draws import Draw
from resolvers.plans.types import Installment, InstallmentPlan

strawberry.enum(Queue, name="WorkQueue", description="Betalingskontoret's work queues.")


@strawberry.type(
    description="A citizen as lists show them: the CPR masked (DDMMYY-xxxx). The full CPR only on the citizen's "
    "own view: node(id:) with this id, or citizen(cpr:), both logged."
)
class CitizenSummary:
    id: strawberry.ID = strawberry.field(description="The Citizen's global ID.")
    name: str
    masked_cpr: str = strawberry.field(description="DDMMYY-xxxx.")

    @classmethod
    def from_row(cls, r: CitizenRow) -> CitizenSummary:
        return cls(id=strawberry.ID(ids.encode("Citizen", r.id)), name=r.name, masked_cpr=Cpr(r.cpr).masked)


@strawberry.input(description="Narrow a work queue. Dates are Danish calendar days, inclusive.")
class WorkQueueFilter:
    citizen_id: strawberry.ID | None = strawberry.field(default=None, description="One citizen's items only.")
    start: date | None = strawberry.field(default=None, name="from", description="Items from this day on.")
    end: date | None = strawberry.field(default=None, name="to", description="Items up to and including this day.")
    resolved: bool = strawberry.field(
        default=False,
        description="false (the default): the open items. true: the items a caseworker marked resolved "
        "(resolveWorkQueueItem), each with its resolution.",
    )


ITEM_TYPE = "WorkQueueItem"


def item_id(queue: Queue, key1: int, key2: int) -> strawberry.ID:
    """An item's opaque ID: its queue and its keys there (what ``resolveWorkQueueItem`` names it by)."""
    return strawberry.ID(ids.encode_compound(ITEM_TYPE, queue.value, key1, key2))


def decode_item_id(text: str) -> tuple[Queue, tuple[int, int]] | None:
    """The queue and keys an item's ID names, or None when it names none."""
    parts = ids.decode_compound(text, ITEM_TYPE, 3)
    if parts is None or parts[0] not in Queue.__members__:
        return None
    key1, key2 = ids.key_or_none(parts[1]), ids.key_or_none(parts[2])
    return None if key1 is None or key2 is None else (Queue(parts[0]), (key1, key2))


@strawberry.type(description="A caseworker marked the item resolved: who, when and their note for colleagues.")
class WorkQueueResolution:
    resolved_at: datetime
    caseworker_id: str = strawberry.field(description="The caseworker's id, as their token said.")
    caseworker_name: str | None = strawberry.field(description="Their name, where their token said it.")
    note: str = strawberry.field(description="For colleagues; never shown to the citizen.")


@strawberry.type(description="An item of a work queue: what it is about and whose it is, oldest first.")
class WorkQueueItem:
    id: strawberry.ID = strawberry.field(
        description="The item: its queue and what it is about. Names it to resolveWorkQueueItem (not a Node)."
    )
    queue: Queue
    since: datetime | None = strawberry.field(
        description="When it entered the queue (plans, enrolments, payments, claims that left a plan)."
    )
    due_on: date | None = strawberry.field(description="The installment's or draw's due date (those queues).")
    amount: Money | None = strawberry.field(
        description="What is at stake: the plan's principal, the unpaid part of the installment, the draw's or "
        "payment's amount, or what the claim owed when it joined the plan."
    )
    citizen_pk: strawberry.Private[int]
    plan_pk: strawberry.Private[int | None]
    installment_pk: strawberry.Private[int | None]
    draw_pk: strawberry.Private[int | None]
    payment_pk: strawberry.Private[int | None]
    enrolment_pk: strawberry.Private[int | None]
    claim_pk: strawberry.Private[int | None]
    resolution: WorkQueueResolution | None = strawberry.field(
        description="The caseworker's mark, on an item marked resolved; null on an open item."
    )

    @classmethod
    def from_row(cls, queue: Queue, r: w.QueueItemRow) -> WorkQueueItem:
        stamped = isinstance(r.since, datetime)  # timestamp queues; the others are ordered by a due date
        resolution = None
        if r.resolved_at is not None:
            resolution = WorkQueueResolution(
                resolved_at=r.resolved_at,
                caseworker_id=r.resolved_by or "",
                caseworker_name=r.resolver_name,
                note=r.resolution_note or "",
            )
        return cls(
            id=item_id(queue, r.key1, r.key2),
            resolution=resolution,
            queue=queue,
            since=r.since if isinstance(r.since, datetime) else None,
            due_on=None if stamped else r.since,
            amount=money(r.amount_oere) if r.amount_oere is not None else None,
            citizen_pk=r.citizen_id,
            plan_pk=r.plan_id,
            installment_pk=r.installment_id,
            draw_pk=r.draw_id,
            payment_pk=r.payment_id,
            enrolment_pk=r.enrolment_id,
            claim_pk=r.claim_id,
        )

    @strawberry.field(description="Whose it is (CPR masked); its id opens the citizen's own view.")
    async def citizen(self, info: Info) -> CitizenSummary:
        return CitizenSummary.from_row(present(await info.context.loaders.citizen.load(self.citizen_pk)))

    @strawberry.field
    async def installment_plan(self, info: Info) -> InstallmentPlan | None:
        return await plan_or_none(info, self.plan_pk)

    @strawberry.field
    async def installment(self, info: Info) -> Installment | None:
        if self.installment_pk is None or self.plan_pk is None:
            return None
        plan = InstallmentPlan.from_row(present(await info.context.loaders.plan.load(self.plan_pk)))
        # Built through the plan, so that its paid part and status are computed one way only.
        return next((i for i in await plan.load_installments(info) if i.pk == self.installment_pk), None)

    @strawberry.field
    async def draw(self, info: Info) -> Draw | None:
        return await draw_or_none(info, self.draw_pk)

    @strawberry.field
    async def payment(self, info: Info) -> Payment | None:
        if self.payment_pk is None:
            return None
        return Payment.from_row(present(await info.context.loaders.payment.load(self.payment_pk)))

    @strawberry.field
    async def payment_method(self, info: Info) -> PaymentMethod | None:
        if self.enrolment_pk is None:
            return None
        return PaymentMethod.from_row(present(await info.context.loaders.enrolment.load(self.enrolment_pk)))

    @strawberry.field
    async def claim(self, info: Info) -> Claim | None:
        if self.claim_pk is None:
            return None
        return Claim.from_row(present(await info.context.loaders.claim.load(self.claim_pk)))


# The days a filter may name: any item's date is well within them (and their instants exist in UTC).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def _day_start(day: date) -> datetime:
    """The first instant of a Danish calendar day, in UTC (timestamps are compared in UTC)."""
    return datetime.combine(day, time(), COPENHAGEN).astimezone(UTC)


def _position(queue: Queue, parts: list[str]) -> tuple[datetime | date, int, int]:
    """The position a cursor of this queue holds; a cursor's scope is keyed but its position is not, so whatever
    a client edited there is checked like input (a key no ledger id can be, a timestamp without its offset)."""
    since_text, k1, k2 = parts
    keys = [ids.key_or_none(k) for k in (k1, k2)]
    try:
        since: datetime | date = (
            date.fromisoformat(since_text) if queue in w.DATE_ORDERED else datetime.fromisoformat(since_text)
        )
    except ValueError:
        raise bad_input("INVALID_CURSOR") from None
    if keys[0] is None or keys[1] is None or (isinstance(since, datetime) and since.tzinfo is None):
        raise bad_input("INVALID_CURSOR")
    return since, keys[0], keys[1]


@strawberry.type
class WorkQueueQueries:
    @strawberry.field(
        description="One of Betalingskontoret's work queues, oldest first, with stable cursors (a cursor of another "
        "queue or filter is refused). Caseworkers only (reading); the citizens shown are logged.",
        permission_classes=[CaseworkerCanRead],
    )
    async def work_queue(
        self,
        info: Info,
        queue: Queue,
        filter: WorkQueueFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[WorkQueueItem]:
        ctx = info.context
        limit = check_first(info, first)
        f = filter or WorkQueueFilter()
        citizen_pk = None
        if f.citizen_id is not None:
            try:
                citizen_pk = ids.decode_as(f.citizen_id, "Citizen")
            except ids.InvalidGlobalId:
                raise bad_input("INVALID_ID") from None
        days = [d for d in (f.start, f.end) if d is not None]
        if any(not FIRST_DAY <= d <= LAST_DAY for d in days) or (len(days) == 2 and days[0] > days[1]):
            raise bad_input("INVALID_DATE_RANGE", first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())
        scope = ids.query_scope(
            ctx.services.settings.cursor_key, "workQueue", queue.value, citizen_pk, f.start, f.end, f.resolved
        )
        parts = decode_keyset(after, scope, 3)
        position = _position(queue, parts) if parts is not None else None
        dated = queue in w.DATE_ORDERED
        until = f.end + timedelta(days=1) if f.end is not None else None
        query = w.QueueQuery(
            queue=queue,
            today=today(),
            pending_before=utcnow() - timedelta(days=ctx.services.settings.queue_enrolment_pending_days),
            citizen_id=citizen_pk,
            since_from=(f.start if dated else _day_start(f.start)) if f.start is not None else None,
            since_until=(until if dated else _day_start(until)) if until is not None else None,
            resolved=f.resolved,
        )
        async with ctx.db.read() as conn:
            rows = await w.queue_page(conn, query, after=position, limit=limit + 1)
            total = await w.queue_count(conn, query)
        page = rows[:limit]
        await log_caseworker_access(ctx, [r.citizen_id for r in page], "workQueue")
        edges = [
            Edge(
                cursor=ids.encode_keyset_cursor(scope, (r.since.isoformat(), r.key1, r.key2)),
                node=WorkQueueItem.from_row(queue, r),
            )
            for r in page
        ]
        return Connection(
            edges=edges,
            nodes=[e.node for e in edges],
            page_info=keyset_page_info(edges, len(rows) > limit, after),
            total_count=total,
        )


# --- resolveWorkQueueItem -----------------------------------------------------------------------------------


@strawberry.input(description="Mark a work queue's item resolved: it leaves the open queue.")
class ResolveWorkQueueItemInput:
    item_id: strawberry.ID = strawberry.field(description="The item's id (WorkQueueItem.id).")
    note: str = strawberry.field(
        description="What was done, for colleagues (required, at most 2,000 characters); never shown to the citizen."
    )
    idempotency_key: str


@strawberry.type
class ResolveWorkQueueItemPayload:
    item: WorkQueueItem | None = strawberry.field(description="The item, now with its resolution.")
    user_errors: list[UserError]


async def _resolved_item(ctx: Context, outcome: Outcome) -> WorkQueueItem | None:
    """The item a successful outcome names, as its queue shows it now."""
    if not outcome.ok:
        return None
    name, key1, key2 = outcome.result["workQueueItem"]
    queue = Queue(name)
    query = w.QueueQuery(
        queue=queue,
        today=today(),
        pending_before=utcnow() - timedelta(days=ctx.services.settings.queue_enrolment_pending_days),
    )
    async with ctx.db.read() as conn:
        row = await w.queue_item(conn, query, int(key1), int(key2))
    return WorkQueueItem.from_row(queue, row) if row is not None else None


async def resolve_work_queue_item(info: Info, input: ResolveWorkQueueItemInput) -> ResolveWorkQueueItemPayload:
    ctx = info.context
    caseworker = ctx.caseworker()
    named = decode_item_id(input.item_id)
    note = input.note.strip()
    outcome = await ctx.services.work_queues.resolve(
        ResolveRequest(
            caseworker_id=caseworker.caseworker_id,
            actor=caseworker.actor_key,
            queue=named[0] if named is not None else None,
            keys=named[1] if named is not None else None,
            note=note,
            idempotency_key=input.idempotency_key,
            payload={"itemId": input.item_id, "note": note},
            request_id=ctx.request_id,
            who=actor_of(caseworker),
        )
    )
    return ResolveWorkQueueItemPayload(
        item=await _resolved_item(ctx, outcome), user_errors=user_errors(outcome.errors, ctx.language)
    )
