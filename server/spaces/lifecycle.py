"""The space's state machine and what approvals mean.

    draft --submit--> awaiting approval --(everyone approved the current terms)--> active
                        ^                                                            |
                        +---------------(terms changed, or a new participant)--------+
    any state but closed --close--> closed (final)

An approval names the digest of the exact terms it approves (`model.terms_digest`). When the
terms change, every approval of the old terms is voided for good, even if the terms later
change back: an approval is a decision about what someone saw, not about a digest.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import WrongState
from .model import Role, Space, SpaceStatus

_DESCRIPTIONS = {
    SpaceStatus.DRAFT: "being set up",
    SpaceStatus.AWAITING_APPROVAL: "waiting for approvals",
    SpaceStatus.ACTIVE: "active",
    SpaceStatus.CLOSED: "closed",
}


def describe(status: SpaceStatus) -> str:
    return _DESCRIPTIONS[status]


def require_open(space: Space) -> None:
    if space.status is SpaceStatus.CLOSED:
        raise WrongState("This space is closed; nothing in it can change any more.")


def missing_for_approval(space: Space) -> list[str]:
    """What must still happen before participants can be asked to approve, in plain words."""
    missing = []
    if space.algorithm is None:
        missing.append("A code provider must register the algorithm.")
    for role in Role:
        if not space.holders_of(role):
            missing.append(f"Nobody in the space is a {role.label.lower()} yet.")
    return missing


def submit(space: Space) -> None:
    require_open(space)
    if space.status is not SpaceStatus.DRAFT:
        raise WrongState(f"This space is already {describe(space.status)}.")
    missing = missing_for_approval(space)
    if missing:
        raise WrongState("The space is not ready for approval: " + " ".join(missing))
    space.status = SpaceStatus.AWAITING_APPROVAL


def require_approvable(space: Space, terms_digest_seen: str) -> None:
    require_open(space)
    if space.status is SpaceStatus.DRAFT:
        raise WrongState("This space is still being set up; its owner must ask for approval first.")
    current = space.terms_digest
    if current is None or terms_digest_seen != current:
        raise WrongState(
            "The terms changed since you looked at them; please review them again and approve."
        )


def close(space: Space, now: datetime) -> None:
    require_open(space)
    space.status = SpaceStatus.CLOSED
    space.closed_at = now


def settle(space: Space, now: datetime) -> None:
    """After any change: void approvals of other terms, then move between awaiting and active."""
    current = space.terms_digest
    for approval in space.approvals:
        if approval.standing and approval.terms_digest != current:
            approval.voided_at = now
    if space.status in (SpaceStatus.AWAITING_APPROVAL, SpaceStatus.ACTIVE):
        ready = current is not None and not missing_for_approval(space)
        everyone = ready and not space.missing_approvals
        space.status = SpaceStatus.ACTIVE if everyone else SpaceStatus.AWAITING_APPROVAL
