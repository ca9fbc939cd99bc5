"""The long-lived objects one application shares between requests, made on first use.

Nothing is opened when the app is created (a command like `datacage config-reference` never
touches the registry), and everything is built from the configuration as it stands at the
first request, so a test may still adjust PUBLIC_URL after `create_app`.
"""

from __future__ import annotations

import atexit
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

from connectors.solid.http import Http
from connectors.solid.oidc import IssuerMetadata, JwksCache, fetch_issuer_metadata
from connectors.solid.oidc.access_token import AccessTokenVerifier

from .algorithms import BundleStore
from .audit import AuditTrail
from .consent.renewal import notify_renewals
from .consent.store import ConsentStore
from .consent.vault import PodSessions, TokenVault
from .dashboard import Dashboard
from .delivery import DestinationStore
from .push.service import PushService
from .registry import Registry, open_registry
from .runs.actions import Runs
from .runs.store import RunStore
from .spaces.actions import Spaces

_EXTENSION = "datacage"
#: Identity provider metadata and keys are re-read after this long (key rotation, moves).
ISSUER_CACHE_SECONDS = 300.0


def data_dir(app: Flask) -> Path:
    return Path(app.config.get("DATA_DIR") or app.instance_path)


@dataclass
class _Issuer:
    metadata: IssuerMetadata
    jwks: JwksCache
    fetched: float


class IssuerCache:
    """Metadata and signing keys per identity provider, shared by every sign-in."""

    def __init__(self, http: Http):
        self.http = http
        self._issuers: dict[str, _Issuer] = {}
        self._lock = threading.Lock()

    def get(self, issuer: str) -> tuple[IssuerMetadata, JwksCache]:
        with self._lock:
            cached = self._issuers.get(issuer)
        if cached is None or time.monotonic() - cached.fetched > ISSUER_CACHE_SECONDS:
            metadata = fetch_issuer_metadata(self.http, issuer)
            cached = _Issuer(metadata, JwksCache(self.http, metadata.jwks_uri), time.monotonic())
            with self._lock:
                self._issuers[issuer] = cached
        return cached.metadata, cached.jwks


class Services:
    def __init__(self, app: Flask):
        config = app.config
        self.http = Http()
        self.data_dir = data_dir(app)
        self._config = {k: config.get(k) for k in config if k.startswith("REGISTRY_")}
        self._registry: Registry | None = None
        self._lock = threading.Lock()
        self.bundles = BundleStore(self.data_dir / "bundles")
        self.issuers = IssuerCache(self.http)
        trusted = config["TRUSTED_ISSUERS"].split()
        self.access_tokens = AccessTokenVerifier(self.http, trusted_issuers=trusted or None)
        self.audit = AuditTrail(self.registry, config["PUBLIC_URL"])
        self.spaces = Spaces(
            self.registry,
            self.bundles,
            self.http,
            config["PUBLIC_URL"],
            max_bundle_bytes=int(config["MAX_BUNDLE_MIB"]) * 2**20,
            audit=self.audit,
        )

        self.consents = ConsentStore(self.registry, config["PUBLIC_URL"], audit=self.audit)
        self.spaces.on_activated.append(
            lambda space: notify_renewals(
                self.consents, space, self.http, config["PUBLIC_URL"], self.spaces.clock()
            )
        )
        self.destinations = DestinationStore(self.registry)  # result delivery (issue 6)
        self.runs = Runs(
            RunStore(self.registry, config["PUBLIC_URL"]),
            self.spaces,
            self.consents,
            datacage_webid=lambda: config.get("DATACAGE_WEBID") or "",
            destinations=self.destinations,
            audit=self.audit,
        )
        self.push = PushService(  # organisations' pushed datasets (docs/push.md)
            self.registry,
            self.spaces,
            config["PUBLIC_URL"],
            datacage_webid=lambda: config.get("DATACAGE_WEBID") or "",
            clock=self.spaces.clock,
        )
        self.dashboard = Dashboard(
            self.registry, self.spaces, self.consents, self.runs.store, self.push, self.audit
        )
        self.pod_sessions = PodSessions(self.data_dir)
        self.vault = TokenVault(self.data_dir)

    def registry(self) -> Registry:
        with self._lock:
            if self._registry is None:
                path = self._config.get("REGISTRY_PATH") or str(self.data_dir / "registry")
                self._registry = open_registry(
                    path=path,
                    sparql_query_url=self._config.get("REGISTRY_SPARQL_QUERY_URL"),
                    sparql_update_url=self._config.get("REGISTRY_SPARQL_UPDATE_URL"),
                )
                atexit.register(self.close)
            return self._registry

    def close(self) -> None:
        with self._lock:
            if self._registry is not None:
                self._registry.close()
                self._registry = None


_CREATE_LOCK = threading.Lock()


def services(app: Flask | None = None) -> Services:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get(_EXTENSION)
    if found is None:
        with _CREATE_LOCK:
            found = app.extensions.get(_EXTENSION)
            if found is None:
                found = app.extensions[_EXTENSION] = Services(app)
    return found
