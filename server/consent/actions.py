"""What a person does with their consent, one action each: accept, withdraw, remove the grant.

The views of `server.web.consent`, `server.web.my_data` and `server.web.api` parse the request,
call one of these, and render what it returns; the work and its rules live here, as the space
actions live in `server.spaces.actions`. The person's pod session (a `SolidClient` made from
their sign-in) is passed in: holding it belongs to the web session, using it to this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from connectors.solid import SolidClient, SolidSession
from connectors.solid import errors as solid_errors
from connectors.solid.http import Http
from connectors.solid.oidc import IssuerMetadata, fetch_webid_profile

from ..errors import PodRefused, WrongState
from ..spaces.model import Space, SpaceStatus
from .give import give_consent
from .model import Consent
from .pod_check import PodCheck, check_consent, expected_grant
from .resolve import Found, find_requested, storage_of
from .store import ConsentStore
from .vault import TokenVault, VaultError
from .withdraw import mark_withdrawn, remove_from_pod

log = logging.getLogger(__name__)

#: Why the person's consent ends when they withdraw it themselves.
YOU_WITHDREW = "You withdrew it."
_UNREACHABLE_PROVIDER = "reaching your identity provider to remove the access from your pod"


class ClosedToConsent(WrongState):
    """The space takes no consent now (not active, or no datacage identity configured)."""


class ShownChanged(WrongState):
    """What would be shared is no longer what the person was shown: nothing was granted.

    Carries what would be shared now, so the page can show it again."""

    def __init__(self, found: list[Found]):
        super().__init__(
            "What would be shared changed since the page was shown (the space's terms or the "
            "data in your pod). Nothing was granted. Please look again."
        )
        self.found = found


@dataclass(frozen=True)
class Removal:
    """How taking a consent's grant out of the pod went.

    `attempted` is False when there was nothing to take out; `sign_in` names the identity
    provider the person must sign in at first (nothing was done yet); `left` says, in the
    person's words, what could not be done (empty when all was)."""

    attempted: bool = False
    left: list[str] = field(default_factory=list)
    sign_in: IssuerMetadata | None = None


@dataclass(frozen=True)
class Withdrawn:
    consent: Consent  # the record as stored, withdrawn
    removal: Removal | None  # None: the pod was not asked (the API cannot sign the person in)


class ConsentActions:
    def __init__(
        self,
        store: ConsentStore,
        vault: TokenVault,
        http: Http,
        issuer_metadata: Callable[[str], IssuerMetadata],
        datacage_webid: Callable[[], str],
        clock: Callable[[], datetime],
    ):
        self.store = store
        self.vault = vault
        self.http = http
        self.issuer_metadata = issuer_metadata
        self.datacage_webid = datacage_webid
        self.clock = clock

    # --- Giving consent --------------------------------------------------------------------------

    def why_closed(self, space: Space) -> str | None:
        """Why this space cannot take consent now, or None if it can."""
        if space.status is not SpaceStatus.ACTIVE:
            return {
                SpaceStatus.DRAFT: "This space is still being set up; it cannot take consent yet.",
                SpaceStatus.AWAITING_APPROVAL: "This space is waiting for its participants to "
                "approve its terms; it cannot take consent yet.",
                SpaceStatus.CLOSED: "This space has closed; it takes no more consent.",
            }[space.status]
        if not self.datacage_webid():
            return (
                "This server has no datacage identity configured yet, so no consent can be given."
            )
        return None

    def preview(self, space: Space, person: SolidClient) -> list[Found]:
        """What the space's data requests find in the person's pod, to show before they grant."""
        self._require_open(space)
        try:
            with person.reads_once():
                return find_requested(person, person.webid or "", space.terms.data_requests)
        except solid_errors.SolidError as exc:
            raise PodRefused(
                f"Your pod could not be read to show you what would be shared: {exc}"
            ) from exc

    def accept(
        self, space: Space, person: SolidClient, *, terms_digest: str, resources: list[str]
    ) -> Consent:
        """Grant exactly what the person was shown (`terms_digest`, `resources`), or nothing.

        Raises `ShownChanged` when the terms or the pod changed since the page was made: what
        you saw is what you grant."""
        self._require_open(space)
        # One request of the person: their profile, pod root and each resource's description
        # are read once here (and again on the next page: what is granted is checked afresh).
        with person.reads_once():
            return self._accept(space, person, terms_digest, resources)

    def _accept(
        self, space: Space, person: SolidClient, terms_digest: str, resources: list[str]
    ) -> Consent:
        webid = person.webid or ""
        try:
            storage = storage_of(person, webid)
            found = find_requested(person, webid, space.terms.data_requests, storage=storage)
        except solid_errors.SolidError as exc:
            raise PodRefused(
                f"Your pod could not be read, so nothing was granted or recorded: {exc}"
            ) from exc
        shareable = [f.resource for f in found if f.shareable and f.resource]
        if terms_digest != space.terms_digest or sorted(resources) != sorted(
            r.url for r in shareable
        ):
            raise ShownChanged(found)
        consent = give_consent(
            self.store,
            space,
            person,
            grantee=self.datacage_webid(),
            resources=shareable,
            storage=storage,
            clock=self.clock,
        )
        self._keep_refresh_token_if_recurring(person, consent)
        self._forget_tokens_of_replaced(space, consent)
        return consent

    def _require_open(self, space: Space) -> None:
        problem = self.why_closed(space)
        if problem:
            raise ClosedToConsent(problem)

    def _keep_refresh_token_if_recurring(self, person: SolidClient, consent: Consent) -> None:
        if not consent.recurring:
            return
        try:
            self.vault.put(consent.iri, person.session.refresh_state())
        except solid_errors.SolidError:
            # No refresh token issued: the grant is still taken back when the person withdraws
            # (they sign in then); the datacage stops reading at expiry in any case.
            log.info("no refresh token to keep", extra={"consent": consent.iri})

    def _forget_tokens_of_replaced(self, space: Space, consent: Consent) -> None:
        """A renewal replaced an older consent: once its grant left the pod, its token goes."""
        history = self.store.history(space.iri, consent.subject)
        for old in history.consents:
            if old.number != consent.number and old.grant_removed_at is not None:
                self.vault.delete(old.iri)

    # --- Withdrawing it --------------------------------------------------------------------------

    def own(self, key: str, actor: str) -> Consent:
        """The actor's own consent named `key`; for anyone else it does not exist (404)."""
        _, consent = self.store.find(key, actor)
        return consent

    def withdraw(
        self, key: str, actor: str, *, clean_pod: bool = False, issuer: str | None = None
    ) -> Withdrawn:
        """Withdraw at once in the registry (no later run reads the data); with `clean_pod`,
        then take the grant out of the pod as `remove_grant` does."""
        consent = self.own(key, actor)
        consent = mark_withdrawn(self.store, consent, reason=YOU_WITHDREW, now=self.clock())
        return Withdrawn(consent, self._remove(consent, issuer) if clean_pod else None)

    def remove_grant(self, key: str, actor: str, *, issuer: str | None = None) -> Removal:
        """Take an ended consent's grant out of the pod: with a kept refresh token at once,
        else `Removal.sign_in` says where the person signs in first (then `finish_removal`)."""
        consent = self.own(key, actor)
        if consent.counts_at(self.clock()):
            raise WrongState("This consent still counts; withdraw it to remove the access.")
        return self._remove(consent, issuer)

    def finish_removal(self, key: str, actor: str, person: SolidClient) -> list[str]:
        """After the sign-in `remove_grant` asked for: what could not be done (empty: all)."""
        consent = self.own(key, actor)
        left = remove_from_pod(self.store, person, consent, self.clock)
        if not left:
            self.vault.delete(consent.iri)
        return left

    def _remove(self, consent: Consent, issuer: str | None) -> Removal:
        if not consent.grant_may_remain:
            return Removal()
        kept = self._kept_session(consent)
        if kept is not None:
            try:
                left = remove_from_pod(self.store, kept, consent, self.clock)
                if not left:
                    self.vault.delete(consent.iri)
                return Removal(attempted=True, left=left)
            except solid_errors.SolidError:
                pass  # the kept sign-in no longer works: ask the person to sign in
        metadata = self.sign_in_at(consent.subject, issuer)
        if metadata is None:
            return Removal(attempted=True, left=[_UNREACHABLE_PROVIDER])
        return Removal(attempted=True, sign_in=metadata)

    def sign_in_at(self, webid: str, issuer: str | None = None) -> IssuerMetadata | None:
        """Where the person signs in to reach their pod: `issuer` (the one of their session)
        or the first their WebID profile names; None when it cannot be reached now."""
        try:
            if not issuer:
                issuers = fetch_webid_profile(self.http, webid).issuers
                if not issuers:
                    raise PodRefused("Your WebID profile names no identity provider to sign in at.")
                issuer = issuers[0]
            return self.issuer_metadata(issuer)
        except solid_errors.SolidError:
            return None

    # --- Checking the pod ------------------------------------------------------------------------

    def pod_checks(
        self, consents: list[Consent], person: SolidClient | None
    ) -> dict[str, PodCheck]:
        """What the pod's access lists grant, consent by consent, read through `person` (a
        check sign-in) or else each recurring consent's kept sign-in; unreadable ones left out."""
        now = self.clock()
        checks: dict[str, PodCheck] = {}
        for consent in consents:
            if not (expected_grant(consent, now) and consent.resources):
                continue
            client = person or self._kept_session(consent)
            if client is None:
                continue
            try:
                checks[consent.iri] = check_consent(client, consent, now)
            except solid_errors.SolidError:
                continue  # shown as not checked
        return checks

    def _kept_session(self, consent: Consent) -> SolidClient | None:
        """The refresh token kept for a recurring consent, as a client of the person's pod."""
        if not consent.recurring:
            return None
        try:
            kept = self.vault.get(consent.iri)
        except VaultError:
            return None
        if kept is None:
            return None
        try:
            return SolidClient(SolidSession.from_refresh_state(kept, http=self.http))
        except solid_errors.SolidError:
            return None
