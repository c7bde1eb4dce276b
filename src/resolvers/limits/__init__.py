"""Query limits and cost (docs/api.md "Limits and cost"): what a document may ask for, and what it costs."""

from resolvers.limits.cost import CostModel, operation_cost
from resolvers.limits.extension import (
    BoundedParserCache,
    LimitsConfig,
    QueryLimits,
    TooComplex,
    count_list_objects,
)
from resolvers.limits.shape import Shape, ShapeLimits, analyse

__all__ = [
    "BoundedParserCache",
    "CostModel",
    "LimitsConfig",
    "QueryLimits",
    "Shape",
    "ShapeLimits",
    "TooComplex",
    "analyse",
    "count_list_objects",
    "operation_cost",
]
