"""Who may use a field, declared next to it (issue 12, item 7): ``permission_classes=[...]`` on the field.

Strawberry runs a field's permission classes before its resolver (and before its arguments are used), and the
schema shows each as a directive on the field (``@CaseworkerCanRead``), so the SDL documents who may call what.
The errors keep the API's format: anonymous is ``UNAUTHENTICATED``; a citizen on a caseworker's field, or a
read-only caseworker on an acting field, is ``FORBIDDEN`` (``extensions.code``, translated message).

Permission instances are shared by every request, so they keep no state: ``has_permission`` raises
``UNAUTHENTICATED`` itself and answers False for what is forbidden; ``on_unauthorized`` then raises ``FORBIDDEN``
with the class's message key.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from gateway.domain.errors import forbidden, unauthenticated
from gateway.domain.viewers import Anonymous, CaseworkerPermission, CaseworkerViewer, CitizenViewer, Viewer
from resolvers.context import Info


def _viewer(info: Info) -> CitizenViewer | CaseworkerViewer:
    viewer: Viewer = info.context.viewer
    if isinstance(viewer, Anonymous):
        raise unauthenticated()
    return viewer


class _Permission(BasePermission):
    message_key = "FORBIDDEN"

    def allows(self, viewer: CitizenViewer | CaseworkerViewer) -> bool:
        raise NotImplementedError

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return self.allows(_viewer(info))

    def on_unauthorized(self) -> None:
        raise forbidden(self.message_key)


class CaseworkerCanRead(_Permission):
    """A caseworker whose role allows reading citizens' data (the read-only role, the acting one)."""

    message_key = "CASEWORKERS_ONLY"

    def allows(self, viewer: CitizenViewer | CaseworkerViewer) -> bool:
        return isinstance(viewer, CaseworkerViewer) and viewer.may(CaseworkerPermission.READ)


class CaseworkerCanAct(_Permission):
    """A caseworker whose role allows acting (approving, cancelling, acting on a citizen's behalf). A citizen is
    told the field is for caseworkers; a read-only caseworker that their role may only read."""

    message_key = "CASEWORKER_ACT_REQUIRED"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = _viewer(info)
        if not isinstance(viewer, CaseworkerViewer):
            raise forbidden("CASEWORKERS_ONLY")
        return viewer.may(CaseworkerPermission.ACT)


class CitizenOrCaseworkerCanAct(_Permission):
    """The citizen themself (their own objects: the resolver scopes them), or a caseworker allowed to act."""

    message_key = "CITIZENS_OR_ACTING_CASEWORKERS_ONLY"

    def allows(self, viewer: CitizenViewer | CaseworkerViewer) -> bool:
        return isinstance(viewer, CitizenViewer) or viewer.may(CaseworkerPermission.ACT)
