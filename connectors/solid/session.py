"""A Solid session: one identity, its DPoP key, its tokens, and how to keep them fresh.

A session is what `SolidClient` sends requests with. It renews its access token a minute
before expiry, or at once when a server refuses it, by the refresh grant (with the same DPoP
key the refresh token is bound to) or, for a service's own identity, by asking for new client
credentials tokens. Several threads may share one session; only one of them renews at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import requests

from . import errors
from .dpop import DPoPAuth, DPoPKey, ProofFactory, ServerState
from .http import Http
from .oidc import (
    ClientAuth,
    IssuerMetadata,
    LoginResult,
    TokenSet,
    client_credentials_grant,
    fetch_issuer_metadata,
    refresh_grant,
    webid_of_access_token,
)

#: Renew this many seconds before the access token expires, so no request races the expiry.
REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class RefreshState:
    """What must be stored to resume a session later: the refresh token *and* its DPoP key.

    A DPoP-bound refresh token is useless with any other key (RFC 9449 section 5), so the two
    are kept together. Both are secrets: store this encrypted (the control plane does).
    """

    issuer: str
    client_id: str
    webid: str
    refresh_token: str = field(repr=False)
    dpop_key_pem: bytes = field(repr=False)
    client_secret: str | None = field(default=None, repr=False)


class SolidSession:
    """An authenticated (or anonymous) identity for talking to Solid servers."""

    def __init__(
        self,
        *,
        http: Http | None = None,
        key: DPoPKey | None = None,
        metadata: IssuerMetadata | None = None,
        client: ClientAuth | None = None,
        tokens: TokenSet | None = None,
        webid: str | None = None,
        renew_by_client_credentials: bool = False,
        clock: Callable[[], float] = time.time,
    ):
        self.http = http or Http()
        self.key = key or DPoPKey.generate()
        self.proofs = ProofFactory(self.key, ServerState(clock))
        self.metadata = metadata
        self.client = client
        self.webid = webid
        self._tokens = tokens
        self._renew_by_client_credentials = renew_by_client_credentials
        self._clock = clock
        self._lock = threading.Lock()
        self.auth: DPoPAuth | None = DPoPAuth(self.proofs, self) if tokens else None

    # --- Ways in ------------------------------------------------------------------------------

    @classmethod
    def anonymous(cls, http: Http | None = None) -> SolidSession:
        """No identity: only public resources are readable."""
        return cls(http=http)

    @classmethod
    def from_client_credentials(
        cls,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        http: Http | None = None,
        key: DPoPKey | None = None,
        clock: Callable[[], float] = time.time,
    ) -> SolidSession:
        """Log in as a service with client credentials issued by the identity provider."""
        http = http or Http()
        metadata = fetch_issuer_metadata(http, issuer)
        client = ClientAuth(client_id, client_secret)
        session = cls(
            http=http,
            key=key,
            metadata=metadata,
            client=client,
            clock=clock,
            renew_by_client_credentials=True,
        )
        tokens = client_credentials_grant(http, metadata, client, session.proofs, now=clock())
        session._adopt(tokens, webid_of_access_token(tokens.access_token))
        return session

    @classmethod
    def from_login(
        cls,
        result: LoginResult,
        *,
        metadata: IssuerMetadata,
        key: DPoPKey,
        client: ClientAuth,
        http: Http | None = None,
        clock: Callable[[], float] = time.time,
    ) -> SolidSession:
        """The session of a person who just completed an authorization-code login.

        `key` must be the key whose proofs obtained `result`: the tokens are bound to it.
        """
        session = cls(http=http, key=key, metadata=metadata, client=client, clock=clock)
        session._adopt(result.tokens, result.webid)
        return session

    @classmethod
    def from_refresh_state(
        cls,
        state: RefreshState,
        *,
        http: Http | None = None,
        clock: Callable[[], float] = time.time,
    ) -> SolidSession:
        """Resume a stored session: refresh at once, with the key the token is bound to."""
        http = http or Http()
        key = DPoPKey.from_pem(state.dpop_key_pem)
        client = ClientAuth(state.client_id, state.client_secret)
        metadata = fetch_issuer_metadata(http, state.issuer)
        session = cls(
            http=http, key=key, metadata=metadata, client=client, webid=state.webid, clock=clock
        )
        fresh = refresh_grant(
            http, metadata, state.refresh_token, client, session.proofs, now=clock()
        )
        if fresh.refresh_token is None:  # the provider did not rotate it: keep using ours
            fresh = replace(fresh, refresh_token=state.refresh_token)
        session._adopt(fresh, state.webid)
        return session

    # --- TokenSource (used by DPoPAuth) -------------------------------------------------------

    def access_token(self) -> str:
        tokens = self._tokens
        if tokens is None:
            raise errors.Unauthenticated("This session is not signed in.")
        if tokens.expires_within(REFRESH_MARGIN_SECONDS, self._clock()):
            with self._lock:
                current = self._tokens
                assert current is not None
                if current.expires_within(REFRESH_MARGIN_SECONDS, self._clock()):
                    self._renew_locked()
        assert self._tokens is not None
        return self._tokens.access_token

    def renew(self, rejected_token: str) -> bool:
        with self._lock:
            if self._tokens is not None and self._tokens.access_token != rejected_token:
                return True  # another thread renewed while this request was in flight
            try:
                self._renew_locked()
            except errors.SolidError:
                return False
            return True

    # --- Use ----------------------------------------------------------------------------------

    @property
    def is_authenticated(self) -> bool:
        return self._tokens is not None

    @property
    def tokens(self) -> TokenSet | None:
        return self._tokens

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:
        return self.http.request(method, url, auth=self.auth, **kwargs)  # type: ignore[arg-type]

    def refresh_state(self) -> RefreshState:
        """What to store to resume this session later; raise if it cannot be resumed."""
        tokens = self._tokens
        if not (tokens and tokens.refresh_token and self.metadata and self.client and self.webid):
            raise errors.Unauthenticated("This session has no refresh token to store.")
        return RefreshState(
            issuer=self.metadata.issuer,
            client_id=self.client.client_id,
            webid=self.webid,
            refresh_token=tokens.refresh_token,
            dpop_key_pem=self.key.to_pem(),
            client_secret=self.client.client_secret,
        )

    def __repr__(self) -> str:
        who = self.webid or ("anonymous" if self._tokens is None else "unknown WebID")
        return f"SolidSession({who})"

    # --- Internals ----------------------------------------------------------------------------

    def _adopt(self, tokens: TokenSet, webid: str | None) -> None:
        self._tokens = tokens
        self.webid = webid or self.webid
        self.auth = DPoPAuth(self.proofs, self)

    def _renew_locked(self) -> None:
        tokens, metadata, client = self._tokens, self.metadata, self.client
        if metadata is None or client is None:
            raise errors.Unauthenticated("This session cannot renew its tokens; sign in again.")
        now = self._clock()
        if tokens is not None and tokens.refresh_token:
            fresh = refresh_grant(
                self.http, metadata, tokens.refresh_token, client, self.proofs, now=now
            )
            self._tokens = tokens.merged_with(fresh)
        elif self._renew_by_client_credentials:
            self._tokens = client_credentials_grant(
                self.http, metadata, client, self.proofs, now=now
            )
        else:
            raise errors.Unauthenticated("The session has expired; please sign in again.")
