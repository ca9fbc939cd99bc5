"""Finding who vouches for a WebID, and what that identity provider offers.

- Solid-OIDC section 4 (WebID profile): the profile lists its trusted issuers with
  `solid:oidcIssuer`; a login is only believed for a WebID whose profile names the issuer.
- OpenID Connect Discovery 1.0 section 4: the issuer's `/.well-known/openid-configuration`,
  whose `issuer` must equal the URL we asked (section 4.3).
- The issuer's JWKS, cached, fetched again when a token names a key we do not know (key
  rotation), at most once a minute.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag

import jwt
from rdflib import URIRef

from vocab import PIM, SOLID

from .. import errors
from ..http import Http, raise_for_status
from ..rdf import ACCEPT_RDF, parse_graph

_JWKS_REFETCH_INTERVAL = 60.0
_METADATA_LIMIT = 256 * 1024


@dataclass(frozen=True)
class WebIdProfile:
    webid: str
    issuers: tuple[str, ...]
    storages: tuple[str, ...]


def normalise_issuer(issuer: str) -> str:
    """Issuers are compared as exact strings; we only forgive a missing trailing slash."""
    return issuer if issuer.endswith("/") else issuer + "/"


def fetch_webid_profile(http: Http, webid: str) -> WebIdProfile:
    """Read a WebID profile document and the issuers and storages it declares."""
    if not webid.startswith(("https://", "http://")):
        raise errors.DiscoveryError(f"{webid!r} is not a WebID: a WebID is an http(s) URL.")
    document, _ = urldefrag(webid)
    response = http.request("GET", document, headers={"Accept": ACCEPT_RDF}, what="WebID profile")
    raise_for_status(response, f"The WebID profile {document}")
    body = http.read(response, limit=_METADATA_LIMIT * 4)
    graph = parse_graph(body, response.headers.get("Content-Type"), document)
    subject = URIRef(webid)
    issuers = sorted({str(o) for o in graph.objects(subject, SOLID.oidcIssuer)})
    storages = sorted({str(o) for o in graph.objects(subject, PIM.storage)})
    return WebIdProfile(webid, tuple(issuers), tuple(storages))


def issuers_of_webid(http: Http, webid: str) -> list[str]:
    """The identity providers a WebID trusts; raise if it names none."""
    profile = fetch_webid_profile(http, webid)
    if not profile.issuers:
        raise errors.DiscoveryError(
            f"The WebID profile of {webid} names no identity provider (solid:oidcIssuer)."
        )
    return list(profile.issuers)


def check_issuer_for_webid(http: Http, webid: str, issuer: str) -> None:
    """Raise unless the WebID's own profile trusts `issuer` (Solid-OIDC, WebID profile check).

    Without this, any identity provider could sign in as any WebID.
    """
    trusted = {normalise_issuer(i) for i in issuers_of_webid(http, webid)}
    if normalise_issuer(issuer) not in trusted:
        raise errors.LoginFailed(
            f"The identity provider {issuer} is not one that {webid} trusts; "
            "its profile does not list it as solid:oidcIssuer."
        )


@dataclass(frozen=True)
class IssuerMetadata:
    """The parts of an OpenID Provider's configuration we use."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str | None = None
    end_session_endpoint: str | None = None
    scopes_supported: tuple[str, ...] = ()
    grant_types_supported: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def fetch_issuer_metadata(http: Http, issuer: str) -> IssuerMetadata:
    url = normalise_issuer(issuer) + ".well-known/openid-configuration"
    response = http.request("GET", url, headers={"Accept": "application/json"}, what=url)
    raise_for_status(response, f"The identity provider's configuration at {url}")
    data = _json(http.read(response, limit=_METADATA_LIMIT))
    if not isinstance(data, dict):
        raise errors.DiscoveryError(
            f"The identity provider at {issuer} publishes a configuration that is not a JSON "
            "object."
        )
    try:
        metadata = IssuerMetadata(
            issuer=str(data["issuer"]),
            authorization_endpoint=str(data["authorization_endpoint"]),
            token_endpoint=str(data["token_endpoint"]),
            jwks_uri=str(data["jwks_uri"]),
            registration_endpoint=data.get("registration_endpoint"),
            end_session_endpoint=data.get("end_session_endpoint"),
            scopes_supported=_strings(data.get("scopes_supported")),
            grant_types_supported=_strings(data.get("grant_types_supported")),
            raw=data,
        )
    except (KeyError, TypeError) as exc:
        raise errors.DiscoveryError(
            f"The identity provider at {issuer} publishes an incomplete configuration "
            f"(missing {exc})."
        ) from exc
    if normalise_issuer(metadata.issuer) != normalise_issuer(issuer):
        raise errors.DiscoveryError(
            f"The configuration at {url} names a different issuer ({metadata.issuer}); "
            "refusing it (OpenID Connect Discovery section 4.3)."
        )
    return metadata


class JwksCache:
    """An issuer's signing keys by `kid`, refreshed on an unknown `kid` at most once a minute."""

    def __init__(self, http: Http, jwks_uri: str, clock: Callable[[], float] = time.monotonic):
        self._http = http
        self._uri = jwks_uri
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            if kid not in self._keys and self._may_refetch():
                self._fetch()
            try:
                return self._keys[kid] if kid is not None else self._only_key()
            except KeyError:
                raise errors.InvalidIdToken(
                    f"The token is signed with a key ({kid}) the identity provider does not "
                    "publish."
                ) from None

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > _JWKS_REFETCH_INTERVAL

    def _only_key(self) -> jwt.PyJWK:
        keys = list(self._keys.values())
        if len(keys) != 1:
            raise KeyError(None)
        return keys[0]

    def _fetch(self) -> None:
        response = self._http.request("GET", self._uri, headers={"Accept": "application/json"})
        raise_for_status(response, f"The identity provider's keys at {self._uri}")
        data = _json(self._http.read(response, limit=_METADATA_LIMIT))
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in data.get("keys", []) if isinstance(data, dict) else []:
            if entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type we cannot use is simply not a candidate
        self._keys = keys
        self._fetched_at = self._clock()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise errors.DiscoveryError("The identity provider answered with invalid JSON.") from exc


def _strings(value: Any) -> tuple[str, ...]:
    """A metadata list of strings; anything else (a bare string, a number) counts as absent."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))
