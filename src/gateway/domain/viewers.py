"""Who is asking: an anonymous caller, a citizen (by CPR) or a caseworker. Built by the token verifier."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.cpr import Cpr


@dataclass(frozen=True, slots=True)
class Anonymous:
    kind: str = "anonymous"

    @property
    def actor_key(self) -> str:
        return "anonymous"


@dataclass(frozen=True, slots=True)
class CitizenViewer:
    cpr: Cpr
    subject: str
    kind: str = "citizen"

    @property
    def actor_key(self) -> str:
        # Idempotency keys and audit rows are scoped per actor without storing the CPR twice.
        return f"citizen:{self.subject}"


@dataclass(frozen=True, slots=True)
class CaseworkerViewer:
    caseworker_id: str
    name: str | None
    kind: str = "caseworker"

    @property
    def actor_key(self) -> str:
        return f"caseworker:{self.caseworker_id}"


Viewer = Anonymous | CitizenViewer | CaseworkerViewer
