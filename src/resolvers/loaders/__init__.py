"""The request's DataLoaders: one typed attribute per relation, grouped per domain (``citizens``, ``claims``,
``plans``, ``payments``); each is made on first use and caches for the request only.

They sit below every GraphQL package (they know the ledger's read queries, never a GraphQL type), so that the
context can carry them without the domain packages importing each other through it.
"""

from __future__ import annotations

from adapters.ledger.db import Database
from resolvers.loaders.citizens import CitizenLoaders
from resolvers.loaders.claims import ClaimLoaders
from resolvers.loaders.payments import PaymentLoaders
from resolvers.loaders.plans import PlanLoaders


class Loaders(CitizenLoaders, ClaimLoaders, PlanLoaders, PaymentLoaders):
    def __init__(self, db: Database) -> None:
        self.db = db
