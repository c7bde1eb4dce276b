"""Money in: posting a captured payment or a charged draw to the ledger, allocated as domain.md says (only the
claims it was for; fees, then interest, then principal; oldest due date first; never below zero)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from gateway.domain.allocation import ClaimBalance, allocate_payment, split_outstanding
from gateway.domain.clock import today
from gateway.usecases.ports import LedgerTx


def _entry_for_split(kind: str, component: str | None, amount: int) -> tuple[str, int]:
    # A payment tagged with the component it settled counts against that component (see split_outstanding).
    if kind in ("PAYMENT", "ADJUSTMENT") and amount < 0 and component:
        return {"FEE": "FEE", "INTEREST": "INTEREST", "PRINCIPAL": "CHARGE"}[component], amount
    return kind, amount


async def post_to_claims(
    tx: LedgerTx,
    claim_ids: Sequence[int],
    amount_oere: int,
    *,
    text: str,
    now: datetime,
    payment_id: int | None = None,
    draw_id: int | None = None,
) -> int:
    """Post ``amount_oere`` received for ``claim_ids`` (locked here until the caller commits); returns what
    could not be allocated because the claims owed less (0 normally)."""
    claims = await tx.claims_with_outstanding(claim_ids, lock=True)
    entries = await tx.entries_for_claims(claim_ids)
    balances = []
    for claim in claims:
        fees, interest, principal = split_outstanding(
            _entry_for_split(e.kind, e.component, e.amount_oere) for e in entries if e.claim_id == claim.id
        )
        # The components never exceed what is outstanding in total (a claim can't go below zero).
        total = max(claim.outstanding_oere, 0)
        fees = min(fees, total)
        interest = min(interest, total - fees)
        principal = min(principal, total - fees - interest)
        balances.append(ClaimBalance(str(claim.id), claim.due_on, fees, interest, principal))
    if amount_oere <= 0:
        return 0
    result = allocate_payment(amount_oere, balances)
    await tx.post_allocations(
        payment_id=payment_id,
        draw_id=draw_id,
        posted_on=today(),
        text=text,
        allocations=[(int(a.claim_id), a.component.value, a.amount_oere) for a in result.allocations],
        now=now,
    )
    return result.unallocated_oere
