"""A caseworker as the access log names them, for the use-cases (``gateway.domain.acting``)."""

from __future__ import annotations

from gateway.domain.acting import Actor
from gateway.domain.viewers import CaseworkerViewer


def actor_of(caseworker: CaseworkerViewer) -> Actor:
    """Id, and the name and unit the caseworker's token carries (the citizen's access log shows those)."""
    return Actor(caseworker_id=caseworker.caseworker_id, name=caseworker.name, unit=caseworker.unit)
