"""The long-lived objects one application shares between requests, made on first use.

Nothing is opened when the app is created (a command like `datacage config-reference` never
touches the registry), and everything is built from the configuration as it stands at the
first request, so a test may still adjust PUBLIC_URL after `create_app`.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from connectors.solid.dpop_verify import SharedReplayCache
from connectors.solid.http import Http
from connectors.solid.oidc import IssuerMetadata, JwksCache, fetch_issuer_metadata
from connectors.solid.oidc.access_token import AccessTokenVerifier

from . import config as configuration
from .algorithms import BundleStore
from .audit import AuditTrail
from .audit.query_sandbox import QuerySlots
from .config import egress_policy
from .consent.actions import ConsentActions
from .consent.renewal import notify_renewals
from .consent.store import ConsentStore
from .consent.vault import PodSessions, TokenVault
from .dashboard import Dashboard
from .dashboard.overview import Overview
from .destinations import DestinationStore
from .push.service import PushService
from .registry import Registry, open_registry
from .runs.actions import Runs
from .runs.store import RunStore
from .spaces.actions import Spaces

_EXTENSION = "datacage"
#: Identity provider metadata and keys are re-read after this long (key rotation, moves).
ISSUER_CACHE_SECONDS = 300.0
#: Identity providers remembered at once; the least recently used is forgotten first.
ISSUER_CACHE_ENTRIES = 64


def data_dir(app: Flask) -> Path:
    return Path(app.config.get("DATA_DIR") or app.instance_path)


@dataclass
class _Issuer:
    metadata: IssuerMetadata
    jwks: JwksCache
    fetched: float


class IssuerCache:
    """Metadata and signing keys per identity provider, shared by every sign-in.

    Any visitor can name an issuer, so the cache is bounded: the least recently used entry
    goes when `max_entries` are held, and every entry is fetched again after `ttl` seconds.
    """

    def __init__(
        self,
        http: Http,
        *,
        max_entries: int = ISSUER_CACHE_ENTRIES,
        ttl: float = ISSUER_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[Http, str], IssuerMetadata] = fetch_issuer_metadata,
    ):
        self.http = http
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._fetch = fetch
        self._issuers: OrderedDict[str, _Issuer] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._issuers)

    def get(self, issuer: str) -> tuple[IssuerMetadata, JwksCache]:
        with self._lock:
            cached = self._issuers.get(issuer)
            if cached is not None and self._clock() - cached.fetched <= self.ttl:
                self._issuers.move_to_end(issuer)
                return cached.metadata, cached.jwks
        metadata = self._fetch(self.http, issuer)  # outside the lock: it may take seconds
        cached = _Issuer(metadata, JwksCache(self.http, metadata.jwks_uri), self._clock())
        with self._lock:
            self._issuers[issuer] = cached
            self._issuers.move_to_end(issuer)
            while len(self._issuers) > self.max_entries:
                self._issuers.popitem(last=False)
        return cached.metadata, cached.jwks


class Services:
    def __init__(self, app: Flask):
        config = app.config
        # Every outbound request a visitor can point somewhere goes through the egress policy.
        self.http = Http(session=egress_policy(config).session())
        self.data_dir = data_dir(app)
        self._config = {k: config.get(k) for k in config if k.startswith("REGISTRY_")}
        self._registry: Registry | None = None
        self._lock = threading.Lock()
        self.bundles = BundleStore(self.data_dir / "bundles")
        # Audit SPARQL queries at once, counted across every worker process of this server.
        self.audit_queries = QuerySlots(
            self.data_dir / "audit-queries", int(config["AUDIT_QUERY_SLOTS"])
        )
        self.issuers = IssuerCache(self.http)
        trusted = config["TRUSTED_ISSUERS"].split()
        # One replay cache for every worker process: a proof used once is used up everywhere.
        self.access_tokens = AccessTokenVerifier(
            self.http,
            trusted_issuers=trusted or None,
            replay=SharedReplayCache(self.data_dir / "shared" / "dpop-jti.sqlite3"),
        )
        self.audit = AuditTrail(self._opened_registry, config["PUBLIC_URL"])
        self.spaces = Spaces(
            self._opened_registry,
            self.bundles,
            self.http,
            config["PUBLIC_URL"],
            max_bundle_bytes=int(config["MAX_BUNDLE_MIB"]) * 2**20,
            audit=self.audit,
        )

        self.consents = ConsentStore(self._opened_registry, config["PUBLIC_URL"], audit=self.audit)
        self.spaces.on_activated.append(
            lambda space: notify_renewals(
                self.consents, space, self.http, config["PUBLIC_URL"], self.spaces.clock()
            )
        )
        self.destinations = DestinationStore(self._opened_registry)  # where consumers want results
        self.runs = Runs(
            RunStore(self._opened_registry, config["PUBLIC_URL"]),
            self.spaces,
            self.consents,
            datacage_webid=lambda: config.get("DATACAGE_WEBID") or "",
            destinations=self.destinations,
            audit=self.audit,
            lease_seconds=float(config.get("RUN_LEASE_SECONDS", 60.0)),
            max_claims=int(config.get("RUN_MAX_CLAIMS", 2)),
            dispatch=_fleet_dispatch(config.get("FLEET_BROKER_URL") or "", config),
        )
        self.push = PushService(  # organisations' pushed datasets (docs/push.md)
            self._opened_registry,
            self.spaces,
            config["PUBLIC_URL"],
            datacage_webid=lambda: config.get("DATACAGE_WEBID") or "",
            clock=lambda: datetime.now(UTC),
        )
        self.dashboard = Dashboard(
            self._opened_registry,
            self.spaces,
            self.consents,
            self.runs.store,
            self.push,
            self.audit,
        )
        # What a space's overview page reads, kept under the dashboard's stamp.
        self.overview = Overview(self._opened_registry, self.spaces, self.consents, self.push)
        self.pod_sessions = PodSessions(self.data_dir)
        self.vault = TokenVault(self.data_dir)
        # What a person does with their consent (accept, withdraw, remove the grant).
        self.consent_actions = ConsentActions(
            self.consents,
            self.vault,
            self.http,
            issuer_metadata=lambda issuer: self.issuers.get(issuer)[0],
            datacage_webid=lambda: config.get("DATACAGE_WEBID") or "",
            clock=lambda: datetime.now(UTC),
        )

    @property
    def registry(self) -> Registry:
        """The registry, opened on first use."""
        return self._opened_registry()

    def _opened_registry(self) -> Registry:
        """The registry, opened on first use: the factory every store holds, so making the
        services opens nothing (a command like `datacage config-reference` never touches it)."""
        with self._lock:
            if self._registry is None:
                path = self._config.get("REGISTRY_PATH") or str(self.data_dir / "registry")
                self._registry = open_registry(
                    path=path,
                    sparql_query_url=self._config.get("REGISTRY_SPARQL_QUERY_URL"),
                    sparql_update_url=self._config.get("REGISTRY_SPARQL_UPDATE_URL"),
                    virtuoso_url=self._config.get("REGISTRY_VIRTUOSO_URL"),
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


def _fleet_dispatch(broker_url: str, settings: Mapping[str, Any]):
    """The fleet's dispatch of started runs (server/fleet), when a broker is named."""
    if not broker_url:
        return None
    from .fleet.app import FleetSettings, dispatcher  # Celery only where a fleet is used

    return dispatcher(FleetSettings(broker_url, **configuration.fleet_periods(settings)))
