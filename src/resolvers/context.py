"""The per-request context handed to every resolver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from strawberry.types import Info as _Info

from adapters.gaeldst.client import GaeldstClient
from adapters.ledger.db import Database
from adapters.ledger.queries import CitizenRow
from gateway.domain.errors import ErrorCode, GatewayError, forbidden, unauthenticated
from gateway.domain.i18n import Language
from gateway.domain.viewers import Anonymous, CaseworkerPermission, CaseworkerViewer, CitizenViewer, Viewer
from gateway.settings import Settings
from gateway.usecases.access import AccessLog
from gateway.usecases.enrolments import Enrolments
from gateway.usecases.payments import Payments
from gateway.usecases.plans import InstallmentPlans
from gateway.usecases.ports import StatusEvents
from gateway.usecases.workqueues import WorkQueues
from resolvers.loaders import Loaders


class Services(Protocol):
    """What resolvers use, built by the composition root (``gateway.services``): the use-cases for writes, and
    the ledger and Gældsstyrelsen for the read path's DataLoaders."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def gaeldst(self) -> GaeldstClient: ...
    @property
    def plans(self) -> InstallmentPlans: ...
    @property
    def work_queues(self) -> WorkQueues: ...
    @property
    def payments(self) -> Payments: ...
    @property
    def enrolments(self) -> Enrolments: ...
    @property
    def access_log(self) -> AccessLog: ...
    @property
    def events(self) -> StatusEvents: ...


@dataclass
class Context:
    services: Services
    viewer: Viewer
    language: Language
    request_id: str
    loaders: Loaders
    # Set by resolvers that had to answer without Gældsstyrelsen; turned into one top-level error.
    upstream_unavailable: bool = False
    # "websocket": one context for a whole graphql-transport-ws connection (the subscriptions on it).
    transport: Literal["http", "websocket"] = "http"
    _viewer_citizen_id: int | None = field(default=None, repr=False)

    @property
    def db(self) -> Database:
        return self.services.db

    def require_viewer(self) -> CitizenViewer | CaseworkerViewer:
        if isinstance(self.viewer, Anonymous):
            raise unauthenticated()
        return self.viewer

    def require_citizen(self) -> CitizenViewer:
        viewer = self.require_viewer()
        if not isinstance(viewer, CitizenViewer):
            raise forbidden()
        return viewer

    def caseworker(self) -> CaseworkerViewer:
        """The caseworker of a field whose permission class (``resolvers.common.permissions``) let them in: who
        they are is needed for the access log. Raises FORBIDDEN should a field forget its permission class."""
        viewer = self.require_viewer()
        if not isinstance(viewer, CaseworkerViewer):
            raise forbidden("CASEWORKERS_ONLY")
        return viewer

    async def viewer_citizen_id(self) -> int | None:
        """The signed-in citizen's ledger id (None for caseworkers, or a citizen with no ledger record)."""
        viewer = self.require_viewer()
        if not isinstance(viewer, CitizenViewer):
            return None
        if self._viewer_citizen_id is None:
            self.know_viewer_citizen(await self.loaders.citizen_by_cpr.load(viewer.cpr.value))
        return self._viewer_citizen_id if self._viewer_citizen_id != -1 else None

    def know_viewer_citizen(self, row: CitizenRow | None) -> None:
        """The signed-in citizen's row (None: the ledger has no record of them), read by CPR; the compiled read
        path tells it too, so that a request it hands over to Strawberry does not read it again."""
        self._viewer_citizen_id = row.id if row is not None else -1
        if row is not None:
            self.loaders.citizen.prime(row.id, row)

    async def can_see_citizen(self, citizen_id: int) -> bool:
        """A citizen sees only their own data; a caseworker sees everyone's (and is logged)."""
        viewer = self.require_viewer()
        if isinstance(viewer, CaseworkerViewer):
            return viewer.may(CaseworkerPermission.READ)
        return await self.viewer_citizen_id() == citizen_id

    async def ensure_citizen(self, citizen_id: int) -> None:
        if not await self.can_see_citizen(citizen_id):
            raise GatewayError(ErrorCode.NOT_FOUND)


Info = _Info[Context, None]
