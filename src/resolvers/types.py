"""Temporary re-exports for modules that still import from here (the mutation modules); use the domain packages."""

from resolvers.common.types import Connection, Money, check_page, money, paginate
from resolvers.payments.types import Payment, PaymentKind, PaymentMethod, PaymentMethodKind
from resolvers.plans.types import InstallmentPlan, InstallmentPlanStatus

__all__ = [
    "Connection",
    "InstallmentPlan",
    "InstallmentPlanStatus",
    "Money",
    "Payment",
    "PaymentKind",
    "PaymentMethod",
    "PaymentMethodKind",
    "check_page",
    "money",
    "paginate",
]
