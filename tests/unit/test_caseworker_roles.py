"""Caseworkers' roles (issue 12, item 7): reading and acting are separate permissions, mapped from the token's
roles by exact match; the plain caseworker role (tokens from before the split) reads and acts."""

from __future__ import annotations

import pytest

from gateway.auth import AuthError, TokenVerifier
from gateway.domain.viewers import CaseworkerPermission, CaseworkerViewer, CitizenViewer
from gateway.settings import Settings

READ, ACT = CaseworkerPermission.READ, CaseworkerPermission.ACT
ANNA = "1507804321"


@pytest.mark.parametrize(
    ("roles", "permissions"),
    [
        ("caseworker", {READ, ACT}),
        ("caseworker.act", {READ, ACT}),  # acting means looking at what one acts on
        ("caseworker.read", {READ}),
        (["x", "caseworker.read"], {READ}),
        (["caseworker.read", "caseworker.act"], {READ, ACT}),
    ],
)
def test_roles_map_to_permissions(roles: str | list[str], permissions: set[CaseworkerPermission]) -> None:
    viewer = TokenVerifier(Settings()).viewer_from_claims({"sub": "cw-1", "roles": roles})
    assert isinstance(viewer, CaseworkerViewer)
    assert viewer.permissions == permissions
    assert viewer.may(READ) and viewer.may(ACT) == (ACT in permissions)


@pytest.mark.parametrize("roles", ["caseworker.readonly", "Caseworker.Read", "caseworker.read ", ["dashboard"], []])
def test_an_unknown_role_is_nobody(roles: str | list[str]) -> None:
    """Without a known role and without a CPR the token is nobody's: refused (the request sees nothing)."""
    with pytest.raises(AuthError):
        TokenVerifier(Settings()).viewer_from_claims({"sub": "cw-1", "roles": roles})


def test_role_names_are_settings() -> None:
    settings = Settings(auth_caseworker_read_role="bk-laes", auth_caseworker_act_role="bk-handl")
    verifier = TokenVerifier(settings)
    reader = verifier.viewer_from_claims({"sub": "cw-1", "role": "bk-laes"})
    assert isinstance(reader, CaseworkerViewer) and reader.permissions == {READ}
    actor = verifier.viewer_from_claims({"sub": "cw-1", "role": "bk-handl"})
    assert isinstance(actor, CaseworkerViewer) and actor.permissions == {READ, ACT}
    with pytest.raises(AuthError):  # the default names mean nothing once renamed
        verifier.viewer_from_claims({"sub": "cw-1", "role": "caseworker.read"})


def test_a_read_role_with_a_cpr_is_refused() -> None:
    with pytest.raises(AuthError):
        TokenVerifier(Settings()).viewer_from_claims({"sub": "x", "roles": ["caseworker.read"], "cpr": ANNA})
    citizen = TokenVerifier(Settings()).viewer_from_claims({"sub": "x", "roles": ["dashboard"], "cpr": ANNA})
    assert isinstance(citizen, CitizenViewer)


def test_unit_claim_is_carried() -> None:
    verifier = TokenVerifier(Settings())
    viewer = verifier.viewer_from_claims({"sub": "cw-1", "role": "caseworker", "unit": " Betalingskontoret "})
    assert isinstance(viewer, CaseworkerViewer) and viewer.unit == "Betalingskontoret"
    bare = verifier.viewer_from_claims({"sub": "cw-1", "role": "caseworker", "unit": 7})
    assert isinstance(bare, CaseworkerViewer) and bare.unit is None


def test_a_viewer_built_without_permissions_may_do_nothing() -> None:
    viewer = CaseworkerViewer(caseworker_id="cw-1", name=None)
    assert not viewer.may(READ) and not viewer.may(ACT)
