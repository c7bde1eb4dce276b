from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.allocation import (
    Allocation,
    AllocationResult,
    ClaimBalance,
    Component,
    allocate_payment,
    split_outstanding,
)

FEE, INTEREST, PRINCIPAL = Component.FEE, Component.INTEREST, Component.PRINCIPAL


def bal(claim_id: str, due: date, fees: int = 0, interest: int = 0, principal: int = 0) -> ClaimBalance:
    return ClaimBalance(claim_id, due, fees, interest, principal)


# --- allocate_payment ---------------------------------------------------------------------------


def test_within_claim_fees_then_interest_then_principal() -> None:
    r = allocate_payment(1_000, [bal("a", date(2025, 1, 1), fees=100, interest=200, principal=5_000)])
    assert r == AllocationResult(
        (Allocation("a", FEE, 100), Allocation("a", INTEREST, 200), Allocation("a", PRINCIPAL, 700)), 0
    )


def test_across_claims_oldest_due_first_regardless_of_input_order() -> None:
    newer = bal("a", date(2025, 6, 1), fees=50, principal=1_000)
    older = bal("b", date(2025, 1, 1), interest=30, principal=500)
    r = allocate_payment(600, [newer, older])
    assert r.allocations == (
        Allocation("b", INTEREST, 30),
        Allocation("b", PRINCIPAL, 500),
        Allocation("a", FEE, 50),
        Allocation("a", PRINCIPAL, 20),
    )
    assert r.unallocated_oere == 0


def test_same_due_date_ties_broken_by_claim_id() -> None:
    d = date(2025, 1, 1)
    r = allocate_payment(150, [bal("z", d, principal=100), bal("m", d, principal=100)])
    assert r.allocations == (Allocation("m", PRINCIPAL, 100), Allocation("z", PRINCIPAL, 50))


def test_overpayment_is_unallocated() -> None:
    r = allocate_payment(10_000, [bal("a", date(2025, 1, 1), fees=100, principal=900)])
    assert sum(a.amount_oere for a in r.allocations) == 1_000
    assert r.unallocated_oere == 9_000


def test_zero_components_are_omitted() -> None:
    r = allocate_payment(500, [bal("a", date(2025, 1, 1), principal=500), bal("b", date(2025, 2, 1))])
    assert r.allocations == (Allocation("a", PRINCIPAL, 500),)


def test_no_claims_everything_unallocated() -> None:
    assert allocate_payment(100, []) == AllocationResult((), 100)


@pytest.mark.parametrize("amount", [0, -1])
def test_amount_must_be_positive(amount: int) -> None:
    with pytest.raises(ValueError):
        allocate_payment(amount, [bal("a", date(2025, 1, 1), principal=100)])


def test_negative_component_rejected() -> None:
    with pytest.raises(ValueError):
        allocate_payment(100, [bal("a", date(2025, 1, 1), principal=-1)])


def test_duplicate_claim_rejected() -> None:
    with pytest.raises(ValueError):
        allocate_payment(100, [bal("a", date(2025, 1, 1), principal=1), bal("a", date(2025, 1, 1), principal=1)])


balances = st.lists(
    st.builds(
        ClaimBalance,
        claim_id=st.text(alphabet="abcdefgh", min_size=1, max_size=3),
        due_on=st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)),
        fees_oere=st.integers(min_value=0, max_value=10_000),
        interest_oere=st.integers(min_value=0, max_value=10_000),
        principal_oere=st.integers(min_value=0, max_value=1_000_000),
    ),
    max_size=8,
    unique_by=lambda c: c.claim_id,
)


@given(amount=st.integers(min_value=1, max_value=3_000_000), claims=balances)
def test_allocation_properties(amount: int, claims: list[ClaimBalance]) -> None:
    r = allocate_payment(amount, claims)
    total_outstanding = sum(c.fees_oere + c.interest_oere + c.principal_oere for c in claims)
    allocated = sum(a.amount_oere for a in r.allocations)
    # Sums to min(amount, outstanding); the rest is unallocated.
    assert allocated == min(amount, total_outstanding)
    assert allocated + r.unallocated_oere == amount
    assert r.unallocated_oere >= 0
    # Never more than outstanding, no zero allocations, one allocation per (claim, component).
    by_id = {c.claim_id: c for c in claims}
    limit = {FEE: "fees_oere", INTEREST: "interest_oere", PRINCIPAL: "principal_oere"}
    keys = [(a.claim_id, a.component) for a in r.allocations]
    assert len(set(keys)) == len(keys)
    for a in r.allocations:
        assert a.claim_id in by_id  # only ticked claims
        assert 0 < a.amount_oere <= getattr(by_id[a.claim_id], limit[a.component])
    # Order: allocations follow (due_on, claim_id, fee < interest < principal), and every component
    # before the last one touched is fully paid (nothing later is paid while something earlier is open).
    rank = {FEE: 0, INTEREST: 1, PRINCIPAL: 2}
    order = [(by_id[a.claim_id].due_on, a.claim_id, rank[a.component]) for a in r.allocations]
    assert order == sorted(order)
    if r.allocations:
        last = order[-1]
        for c in claims:
            for comp in Component:
                pos = (c.due_on, c.claim_id, rank[comp])
                owed = getattr(c, limit[comp])
                paid = sum(a.amount_oere for a in r.allocations if (a.claim_id, a.component) == (c.claim_id, comp))
                if pos < last:
                    assert paid == owed
                elif pos > last:
                    assert paid == 0
    if r.unallocated_oere > 0:
        assert allocated == total_outstanding


# --- split_outstanding --------------------------------------------------------------------------


def test_split_charges_only() -> None:
    assert split_outstanding([("CHARGE", 10_000), ("INTEREST", 300), ("FEE", 250)]) == (250, 300, 10_000)


def test_split_untagged_payment_applied_fees_interest_principal() -> None:
    entries = [("CHARGE", 10_000), ("FEE", 250), ("INTEREST", 300), ("PAYMENT", -1_000)]
    assert split_outstanding(entries) == (0, 0, 9_550)


def test_split_partial_payment_covers_fee_first() -> None:
    entries = [("CHARGE", 10_000), ("FEE", 250), ("INTEREST", 300), ("PAYMENT", -400)]
    assert split_outstanding(entries) == (0, 150, 10_000)


def test_split_negative_adjustment_is_an_untagged_credit() -> None:
    entries = [("CHARGE", 10_000), ("FEE", 250), ("ADJUSTMENT", -100)]
    assert split_outstanding(entries) == (150, 0, 10_000)


def test_split_positive_adjustment_adds_to_principal() -> None:
    assert split_outstanding([("CHARGE", 10_000), ("ADJUSTMENT", 500)]) == (0, 0, 10_500)


def test_split_tagged_credit_reduces_its_component() -> None:
    entries = [("CHARGE", 10_000), ("FEE", 250), ("INTEREST", 300), ("INTEREST", -300)]
    assert split_outstanding(entries) == (250, 0, 10_000)


def test_split_is_chronological_payment_before_later_fee() -> None:
    # The payment paid principal when it was posted; the later fee is still outstanding.
    entries = [("CHARGE", 10_000), ("PAYMENT", -2_000), ("FEE", 250)]
    assert split_outstanding(entries) == (250, 0, 8_000)


def test_split_overpayment_credit_carries_forward_then_clamps() -> None:
    entries = [("CHARGE", 1_000), ("PAYMENT", -1_500), ("FEE", 200)]
    assert split_outstanding(entries) == (0, 0, 0)
    assert split_outstanding([("CHARGE", 1_000), ("PAYMENT", -5_000)]) == (0, 0, 0)


def test_split_empty() -> None:
    assert split_outstanding([]) == (0, 0, 0)


def test_split_unknown_kind() -> None:
    with pytest.raises(ValueError):
        split_outstanding([("REFUND", 1)])


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["CHARGE", "INTEREST", "FEE", "PAYMENT", "ADJUSTMENT"]),
            st.integers(min_value=-100_000, max_value=100_000),
        ),
        max_size=20,
    )
)
def test_split_properties(entries: list[tuple[str, int]]) -> None:
    fees, interest, principal = split_outstanding(entries)
    assert fees >= 0 and interest >= 0 and principal >= 0
    # Never more outstanding than was ever charged, and the total is exactly the net balance when the
    # claim never went into credit.
    assert fees + interest + principal <= sum(a for _, a in entries if a > 0)
    running = 0
    ever_credit = False
    for _, a in entries:
        running += a
        ever_credit = ever_credit or running < 0
    if not ever_credit:
        assert fees + interest + principal == running
