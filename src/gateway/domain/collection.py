"""What Gældsstyrelsen's state of a claim means here (R14; domain.md "Facts from Danish practice")."""

from __future__ import annotations

from enum import StrEnum


class CollectionStatus(StrEnum):
    NOT_AT_COLLECTION = "NOT_AT_COLLECTION"
    AT_COLLECTION = "AT_COLLECTION"
    RETURNED = "RETURNED"
    UNKNOWN = "UNKNOWN"


# Gældsstyrelsen's own states -> ours. RECEIVED and UNDER_COLLECTION mean the claim has been sent for
# collection (marked *). PAID and WRITTEN_OFF are settled at Gældsstyrelsen: the claim stays theirs.
# REJECTED and NOT_RECEIVED never left the municipality; RETURNED is the municipality's again (a plan is
# possible again).
_AGENCY_TO_STATUS = {
    "NOT_RECEIVED": CollectionStatus.NOT_AT_COLLECTION,
    "REJECTED": CollectionStatus.NOT_AT_COLLECTION,
    "RECEIVED": CollectionStatus.AT_COLLECTION,
    "UNDER_COLLECTION": CollectionStatus.AT_COLLECTION,
    "PAID": CollectionStatus.AT_COLLECTION,
    "WRITTEN_OFF": CollectionStatus.AT_COLLECTION,
    "RETURNED": CollectionStatus.RETURNED,
}

MARKER = "*"


def status_from_agency_state(state: str | None) -> CollectionStatus:
    if state is None:
        return CollectionStatus.UNKNOWN
    return _AGENCY_TO_STATUS.get(state, CollectionStatus.UNKNOWN)


def marker(status: CollectionStatus) -> str | None:
    return MARKER if status is CollectionStatus.AT_COLLECTION else None
