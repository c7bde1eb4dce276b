"""Demo data (``gateway seed``) and generated data for benchmarks (``gateway seed --citizens N``), both
written through the importer's write path (adapters/ledger/importer)."""

from adapters.ledger.seed.bulk import BULK_TITLES, FIRST_NAMES, LAST_NAMES, bulk_cpr, seed_bulk
from adapters.ledger.seed.demo import delete_citizens, demo_document, seed_demo
from adapters.ledger.seed.demo_data import (
    ANNA,
    BO,
    CAMILLA,
    DAVID,
    DEMO_CASEWORKER,
    DEMO_MOBILEPAY_ACCOUNTS,
    DEPARTMENTS,
    DemoClaim,
    _demo_citizens,
)

__all__ = [
    "ANNA",
    "BO",
    "BULK_TITLES",
    "CAMILLA",
    "DAVID",
    "DEMO_CASEWORKER",
    "DEMO_MOBILEPAY_ACCOUNTS",
    "DEPARTMENTS",
    "FIRST_NAMES",
    "LAST_NAMES",
    "DemoClaim",
    "_demo_citizens",
    "bulk_cpr",
    "delete_citizens",
    "demo_document",
    "seed_bulk",
    "seed_demo",
]
