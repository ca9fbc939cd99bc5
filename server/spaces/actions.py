"""The actions people take on spaces: the service layer every page and API call goes through.

Each action checks who is asking (`permissions`) and whether the space's state allows it
(`lifecycle`), then changes the space; `store.SpaceStore` runs it inside one atomic
compare-and-swap of the space's graph in the registry.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from connectors.solid import errors as solid_errors
from connectors.solid.http import Http
from connectors.solid.oidc import fetch_webid_profile

from ..algorithms import Bundle, BundleError, BundleStore, read_bundle
from ..audit.trail import AuditTrail, NoAudit
from ..errors import NotFound, Unavailable, ValidationFailed, WrongState
from ..registry import Registry
from . import lifecycle, permissions
from .model import (
    Algorithm,
    Approval,
    Invitation,
    InvitationStatus,
    Parameter,
    Participant,
    Role,
    Space,
    SpaceStatus,
)
from .store import SpaceStore
from .validation import SpaceFields, check_webid

log = logging.getLogger(__name__)


def new_id() -> str:
    """16 lowercase base32 characters (80 random bits): unguessable, and calm in a URL."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


class Spaces:
    """The spaces service. One per application; safe to share between request threads."""

    def __init__(
        self,
        registry: Callable[[], Registry],
        bundles: BundleStore,
        http: Http,
        public_url: str,
        *,
        max_bundle_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        audit: AuditTrail | None = None,  # each change below is appended once saved
    ):
        self.audit = audit or NoAudit()
        self.store = SpaceStore(registry, public_url, clock)
        self.bundles = bundles
        self.http = http
        self.public_url = public_url
        self.max_bundle_bytes = max_bundle_bytes
        self.clock = clock
        # Called with the space each time it becomes active (all participants approved its
        # current terms): consent uses it to ask for renewal of consents under earlier terms.
        self.on_activated: list[Callable[[Space], None]] = []

    # --- Reading ------------------------------------------------------------------------------

    def get(self, space_id: str, actor: str | None) -> Space:
        space = self.store.load(space_id)
        permissions.require_view(space, actor)
        return space

    def list_for(self, actor: str | None) -> list[Space]:
        actor = permissions.signed_in(actor)
        return self.store.of(actor)

    def bundle(self, space_id: str, actor: str | None, digest: str) -> Bundle:
        space = self.get(space_id, actor)
        if space.algorithm_by_digest(digest) is None:
            raise NotFound("This space has no algorithm with that digest.")
        try:
            return self.bundles.get(digest)
        except BundleError as exc:
            log.error("stored bundle failed verification", extra={"digest": digest})
            raise Unavailable(str(exc)) from exc

    # --- Changing -----------------------------------------------------------------------------

    def create(self, actor: str | None, fields: SpaceFields, owner_roles: frozenset[Role]) -> Space:
        actor = permissions.signed_in(actor)
        now = self.clock()
        space_id = new_id()
        space = Space(
            id=space_id,
            iri=self.store.iri_of(space_id),
            name=fields.name,
            description=fields.description,
            owner=actor,
            created_at=now,
            terms=fields.terms,
            participants=[Participant(actor, owner_roles, now)],
        )
        self.store.write(space)
        self.audit.record(space.iri, "space-created", actor, f"Space created: {space.name}.")
        log.info("space created", extra={"space": space.iri, "actor": actor})
        return space

    def update(self, space_id: str, actor: str | None, fields: SpaceFields) -> Space:
        def change(space: Space, now: datetime) -> None:
            permissions.require_owner(space, actor)
            lifecycle.require_open(space)
            space.name, space.description, space.terms = (
                fields.name,
                fields.description,
                fields.terms,
            )

        return self._audited(self.store.change(space_id, change), "space-edited", actor, "Edited.")

    def invite(
        self, space_id: str, actor: str | None, webid: str, roles: frozenset[Role]
    ) -> Invitation:
        space = self.get(space_id, actor)  # refuse strangers before fetching anything for them
        permissions.require_owner(space, actor)
        webid = check_webid(webid)
        self._check_webid_can_sign_in(webid)
        invitation = Invitation(new_id(), webid, roles, self.clock(), str(actor))

        def change(space: Space, now: datetime) -> None:
            permissions.require_owner(space, actor)
            lifecycle.require_open(space)
            if space.participant(webid):
                raise ValidationFailed({"webid": ["This WebID is already in the space."]})
            if space.pending_invitation_for(webid):
                raise ValidationFailed({"webid": ["This WebID is already invited."]})
            space.invitations.append(invitation)

        space = self.store.change(space_id, change)
        self._audited(space, "participant-invited", actor, f"Invited {webid}.", invitation.webid)
        return invitation

    def withdraw_invitation(self, space_id: str, actor: str | None, invitation_id: str) -> Space:
        def change(space: Space, now: datetime) -> None:
            permissions.require_owner(space, actor)
            lifecycle.require_open(space)
            invitation = _pending(space, invitation_id)
            invitation.status, invitation.answered_at = InvitationStatus.WITHDRAWN, now

        space = self.store.change(space_id, change)
        return self._audited(space, "invitation-withdrawn", actor, "An invitation was withdrawn.")

    def accept(self, space_id: str, actor: str | None, invitation_id: str) -> Space:
        def change(space: Space, now: datetime) -> None:
            invitation = space.invitation(invitation_id)
            if invitation is None or not permissions.can_view(space, actor):
                raise NotFound("There is no such invitation for you.")
            permissions.require_invitee(invitation, actor)
            lifecycle.require_open(space)
            invitation = _pending(space, invitation_id)
            invitation.status, invitation.answered_at = InvitationStatus.ACCEPTED, now
            space.participants.append(Participant(invitation.webid, invitation.roles, now))

        return self._audited(
            self.store.change(space_id, change), "participant-joined", actor, "Joined."
        )

    def register_algorithm(self, space_id: str, actor: str | None, data: bytes) -> Algorithm:
        space = self.get(space_id, actor)
        permissions.require_role(space, actor, Role.CODE_PROVIDER)
        lifecycle.require_open(space)
        if len(data) > self.max_bundle_bytes:
            raise ValidationFailed(
                {"bundle": [f"The bundle is larger than {self.max_bundle_bytes // 2**20} MiB."]}
            )
        try:
            bundle = read_bundle(data)
        except BundleError as exc:
            raise ValidationFailed({"bundle": exc.problems}) from None
        self.bundles.put(
            bundle
        )  # content-addressed and read-only: safe even if the write below loses
        algorithm = _algorithm_of(bundle, str(actor), self.clock())

        def change(space: Space, now: datetime) -> None:
            permissions.require_role(space, actor, Role.CODE_PROVIDER)
            lifecycle.require_open(space)
            if space.algorithm_by_digest(algorithm.digest) is None:
                space.algorithms.append(algorithm)
            space.current_algorithm = algorithm.digest

        space = self.store.change(space_id, change)
        self._audited(space, "algorithm-registered", actor, f"Algorithm {algorithm.digest}.")
        log.info("algorithm registered", extra={"space": space.iri, "digest": algorithm.digest})
        return space.algorithm or algorithm

    def submit_for_approval(self, space_id: str, actor: str | None) -> Space:
        def change(space: Space, now: datetime) -> None:
            permissions.require_owner(space, actor)
            lifecycle.submit(space)

        space = self.store.change(space_id, change)
        return self._audited(space, "terms-submitted", actor, "Terms submitted for approval.")

    def approve(self, space_id: str, actor: str | None, terms_digest_seen: str) -> Space:
        before: list[SpaceStatus] = []

        def change(space: Space, now: datetime) -> None:
            before[:] = [space.status]  # as read by the attempt that wins
            webid = permissions.require_participant(space, actor)
            lifecycle.require_approvable(space, terms_digest_seen)
            if space.standing_approval_of(webid) is None:
                space.approvals.append(
                    Approval(new_id(), webid, terms_digest_seen, str(space.current_algorithm), now)
                )

        space = self.store.change(space_id, change)
        self._audited(space, "terms-approved", actor, f"Approved terms {terms_digest_seen}.")
        if space.status is SpaceStatus.ACTIVE and before != [SpaceStatus.ACTIVE]:
            for listener in self.on_activated:
                try:
                    listener(space)
                except Exception:  # the approval is saved; a listener's failure is only logged
                    log.exception("activation listener failed", extra={"space": space.iri})
        return space

    def withdraw_approval(self, space_id: str, actor: str | None) -> Space:
        def change(space: Space, now: datetime) -> None:
            webid = permissions.require_participant(space, actor)
            lifecycle.require_open(space)
            approval = space.standing_approval_of(webid)
            if approval is None:
                raise WrongState("You have no standing approval of the current terms to withdraw.")
            approval.voided_at = now

        space = self.store.change(space_id, change)
        return self._audited(space, "approval-withdrawn", actor, "Approval withdrawn.")

    def close(self, space_id: str, actor: str | None) -> Space:
        def change(space: Space, now: datetime) -> None:
            permissions.require_owner(space, actor)
            lifecycle.close(space, now)

        return self._audited(self.store.change(space_id, change), "space-closed", actor, "Closed.")

    def _audited(self, space: Space, action: str, actor: str | None, summary: str, *about: str):
        self.audit.record(space.iri, action, actor, summary, *about)
        return space

    def _check_webid_can_sign_in(self, webid: str) -> None:
        """A WebID that cannot sign in could never accept: say so now, not after a week."""
        try:
            issuers = fetch_webid_profile(self.http, webid).issuers
        except solid_errors.SolidError as exc:
            raise ValidationFailed(
                {"webid": [f"We could not read the WebID profile at {webid}: {exc}"]}
            ) from None
        if not issuers:
            raise ValidationFailed(
                {
                    "webid": [
                        "This WebID's profile names no Solid identity provider "
                        "(solid:oidcIssuer), so its owner could not sign in to accept."
                    ]
                }
            )


def _pending(space: Space, invitation_id: str) -> Invitation:
    invitation = space.invitation(invitation_id)
    if invitation is None:
        raise NotFound("There is no such invitation.")
    if invitation.status is not InvitationStatus.PENDING:
        state = "accepted" if invitation.status is InvitationStatus.ACCEPTED else "withdrawn"
        raise WrongState(f"This invitation was already {state}.")
    return invitation


def _algorithm_of(bundle: Bundle, actor: str, now: datetime) -> Algorithm:
    manifest = bundle.manifest
    shape_bytes = bundle.files[manifest.output_shape]
    return Algorithm(
        digest=bundle.digest,
        name=manifest.name,
        version=manifest.version,
        description=manifest.description,
        entry_point=manifest.entry_point,
        events=tuple(manifest.events),
        parameters=tuple(
            Parameter(p.name, p.type, p.default, p.description) for p in manifest.parameters
        ),
        output_shape_digest="sha256:" + hashlib.sha256(shape_bytes).hexdigest(),
        registered_by=actor,
        registered_at=now,
    )
