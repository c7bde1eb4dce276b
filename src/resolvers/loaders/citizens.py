"""The citizens' loaders: citizens by id and by CPR number, and their access log."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property, partial

from adapters.ledger import queries as q
from adapters.ledger.db import Database
from adapters.ledger.queries import (
    AccessLogRow,
    CitizenNoticeRow,
    CitizenRow,
    PaymentRequestClaimRow,
    PaymentRequestRow,
)
from gateway.domain.clock import utcnow
from resolvers.loaders.base import RowByKey, RowsByKey

# How long what happened (a missed draw, an invoice sent, a plan ended) stays among a citizen's notices.
NOTICE_DAYS = 45


class CitizenLoaders:
    db: Database

    @cached_property
    def citizen(self) -> RowByKey[int, CitizenRow]:
        return RowByKey(self.db, q.citizens_by_ids, lambda r: r.id)

    @cached_property
    def citizen_by_cpr(self) -> RowByKey[str, CitizenRow]:
        """Keyed by the CPR number's ten digits: never logged, never in an ID."""
        return RowByKey(self.db, None, lambda r: r.cpr, keyed=self.db.fast.citizens_by_cprs)

    @cached_property
    def access_log_by_citizen(self) -> RowsByKey[int, AccessLogRow]:
        """Who looked at a citizen's data, newest first."""
        return RowsByKey(self.db, q.access_log_by_citizen_ids, lambda r: r.citizen_id)

    @cached_property
    def access_log_entry(self) -> RowByKey[int, AccessLogRow]:
        return RowByKey(self.db, q.access_log_by_ids, lambda r: r.id)

    @cached_property
    def recent_notices_by_citizen(self) -> RowsByKey[int, CitizenNoticeRow]:
        """What happened in the last NOTICE_DAYS days that the citizen is told about, newest first."""
        fetch = partial(q.notices_by_citizen_ids, since=utcnow() - timedelta(days=NOTICE_DAYS))
        return RowsByKey(self.db, fetch, lambda r: r.citizen_id)

    @cached_property
    def payment_request_claims(self) -> RowsByKey[int, PaymentRequestClaimRow]:
        """The claims a caseworker asked the citizen to pay (a PAYMENT_REQUESTED notice), per request."""
        return RowsByKey(self.db, q.payment_request_claims_by_request_ids, lambda r: r.request_id)

    @cached_property
    def payment_request(self) -> RowByKey[int, PaymentRequestRow]:
        return RowByKey(self.db, q.payment_requests_by_ids, lambda r: r.id)
