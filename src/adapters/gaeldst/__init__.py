"""Gældsstyrelsen (Danish Debt Collection Agency) adapter: claim collection status (R14)."""

from adapters.gaeldst.client import (
    ClaimCollection,
    CollectionState,
    GaeldstClient,
    GaeldstConfig,
    GaeldstStats,
    GaeldstUnavailable,
)

__all__ = [
    "ClaimCollection",
    "CollectionState",
    "GaeldstClient",
    "GaeldstConfig",
    "GaeldstStats",
    "GaeldstUnavailable",
]
