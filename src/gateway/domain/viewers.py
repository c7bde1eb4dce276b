"""Who is asking: an anonymous caller, a citizen (by CPR) or a caseworker. Built by the token verifier."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.domain.cpr import Cpr

PSEUDONYM_LENGTH = 32  # hex characters: 128 bits, no collision between any two people


def citizen_pseudonym(cpr: Cpr, key: bytes) -> str:
    """A stable name for the person behind ``cpr`` that reveals nothing of it: a keyed hash, because the space of
    CPR numbers is small enough to hash in full, so an unkeyed digest would give the number back."""
    return hmac.new(key, b"gateway citizen actor v1:" + cpr.value.encode(), hashlib.sha256).hexdigest()[
        :PSEUDONYM_LENGTH
    ]


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
    pseudonym: str  # citizen_pseudonym(cpr, the deployment's key)
    name: str | None = None  # the token's name claim, if the identity broker sends one
    kind: str = "citizen"

    @property
    def actor_key(self) -> str:
        # Idempotency keys and plan authors are scoped per person (the CPR), never per token subject: two tokens
        # with one subject and two CPR numbers are two people. The CPR itself is not stored a second time.
        return f"citizen:{self.pseudonym}"


class CaseworkerPermission(StrEnum):
    """What a caseworker's token allows (issue 12, item 7): reading citizens' data (look-ups, the portfolio, the
    work queues, search), and acting on it (approving, cancelling, acting on a citizen's behalf). The token's roles
    map to these in ``gateway.auth``; the GraphQL fields check them with permission classes."""

    READ = "READ"
    ACT = "ACT"


@dataclass(frozen=True, slots=True)
class CaseworkerViewer:
    caseworker_id: str
    name: str | None
    # Fail closed: a viewer built without permissions may do nothing (the token verifier always sets them).
    permissions: frozenset[CaseworkerPermission] = field(default_factory=frozenset)
    unit: str | None = None  # the caseworker's organisational unit, when the token names one (the access log)
    kind: str = "caseworker"

    @property
    def actor_key(self) -> str:
        return f"caseworker:{self.caseworker_id}"

    def may(self, permission: CaseworkerPermission) -> bool:
        return permission in self.permissions


Viewer = Anonymous | CitizenViewer | CaseworkerViewer
