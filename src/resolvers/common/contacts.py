"""How to reach someone (ContactDetails, with phone hours): Betalingskontoret, a department, Gældsstyrelsen."""

from __future__ import annotations

from enum import Enum

import strawberry

from gateway.domain.contacts import ContactInfo


@strawberry.enum
class Weekday(Enum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


@strawberry.type(description="When a phone line is open, local Danish time.")
class PhoneHours:
    weekday: Weekday
    opens: str = strawberry.field(description='"09:00"')
    closes: str = strawberry.field(description='"12:00"')


@strawberry.type(description="How to reach someone: Betalingskontoret, a sending department or Gældsstyrelsen.")
class ContactDetails:
    name: str
    phone: str | None
    email: str | None
    address: str | None
    web: str | None
    phone_hours: list[PhoneHours]


def contact_details(c: ContactInfo) -> ContactDetails:
    return ContactDetails(
        name=c.name,
        phone=c.phone,
        email=c.email,
        address=c.address,
        web=c.web,
        phone_hours=[PhoneHours(weekday=Weekday(h.weekday), opens=h.opens, closes=h.closes) for h in c.phone_hours],
    )
