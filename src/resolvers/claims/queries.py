"""Claims' root fields: ``contacts`` — Betalingskontoret (R8), each sending department (R7), Gældsstyrelsen (R15)."""

from __future__ import annotations

import strawberry

from adapters.ledger import queries as q
from gateway.domain.contacts import COLLECTION_AGENCY, PAYMENTS_OFFICE
from resolvers.claims.types import Department
from resolvers.common.contacts import ContactDetails, contact_details
from resolvers.context import Info


@strawberry.type(description="Where citizens get help.")
class Contacts:
    payments_office: ContactDetails = strawberry.field(description="Betalingskontoret, Randers Kommune (R8).")
    collection_agency: ContactDetails = strawberry.field(description="Gældsstyrelsen (R14, R15).")

    @strawberry.field(description="The departments that send claims; questions about a bill go to its sender (R7).")
    async def departments(self, info: Info) -> list[Department]:
        async with info.context.db.read() as conn:
            rows = await q.all_departments(conn)
        return [Department.from_row(r) for r in rows]


@strawberry.type
class ContactsQueries:
    @strawberry.field(description="Betalingskontoret, the sending departments and Gældsstyrelsen, with phone hours.")
    def contacts(self) -> Contacts:
        return Contacts(
            payments_office=contact_details(PAYMENTS_OFFICE), collection_agency=contact_details(COLLECTION_AGENCY)
        )
