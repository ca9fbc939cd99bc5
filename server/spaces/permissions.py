"""Who may do what in a space: one function per permission, each raising when refused.

The service functions call these before changing anything, so a refused action is refused
whatever page, form or API call it came through (templates only hide what these forbid).
"""

from __future__ import annotations

from ..errors import NotAuthorized, NotSignedIn
from .model import Invitation, Role, Space


def signed_in(actor: str | None) -> str:
    if not actor:
        raise NotSignedIn("Please sign in with your WebID first.")
    return actor


def can_view(space: Space, actor: str | None) -> bool:
    return bool(actor) and (
        space.participant(actor) is not None or space.pending_invitation_for(actor) is not None
    )


def require_view(space: Space, actor: str | None) -> str:
    actor = signed_in(actor)
    if not can_view(space, actor):
        raise NotAuthorized("You are not part of this space.")
    return actor


def require_owner(space: Space, actor: str | None) -> str:
    actor = require_view(space, actor)
    if actor != space.owner:
        raise NotAuthorized("Only the space's owner can do this.")
    return actor


def require_participant(space: Space, actor: str | None) -> str:
    actor = require_view(space, actor)
    if space.participant(actor) is None:
        raise NotAuthorized(
            "Only participants of this space can do this; accept your invitation first."
        )
    return actor


def require_role(space: Space, actor: str | None, role: Role) -> str:
    actor = require_participant(space, actor)
    participant = space.participant(actor)
    if participant is None or role not in participant.roles:
        raise NotAuthorized(f"Only a {role.label.lower()} of this space can do this.")
    return actor


def require_invitee(invitation: Invitation, actor: str | None) -> str:
    actor = signed_in(actor)
    if actor != invitation.webid:
        raise NotAuthorized(
            "This invitation is for another WebID; sign in with the WebID it was sent to."
        )
    return actor
