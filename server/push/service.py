"""The control plane's side of push: evidence the datacage publishes, datasets providers register.

The control plane never sees a dataset's contents or any key that opens it: it relays the
datacage's evidence (which providers verify themselves, against their own trust policy) and
records where each encrypted dataset is and what it was encrypted for, so that a run's job can
name them. Checks raise domain errors; `server.push.api` turns them into HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.registry import connector_types

from ..attestation import AttestationError, parse_evidence, public_key_sha256
from ..errors import NotAuthorized, NotFound, ValidationFailed, WrongState
from ..keyrelease.errors import StatementRefused
from ..keyrelease.statement import parse_statement
from ..registry import Registry, RegistryConflict, guard
from ..spaces import permissions
from ..spaces.actions import Spaces, new_id
from ..spaces.model import Role, Space, SpaceStatus
from .grants import check_grant
from .records import (
    COLUMN_TYPES,
    FORMATS,
    PublishedEvidence,
    PushedDataset,
    datasets_from_graph,
    datasets_graph_name,
    datasets_to_graph,
    evidence_from_graph,
    evidence_graph_name,
    evidence_to_graph,
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,119}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_GRANT_CHARS = 8192
MAX_COLUMNS = 500
MAX_DATASETS_PER_SPACE = 100
_ATTEMPTS = 5

_WANTED = """
SELECT DISTINCT ?digest WHERE {
  GRAPH ?g {
    ?g a dcg:CollaborationSpace ; dcg:algorithm ?a ; dcg:status ?status .
    ?a dcg:digest ?digest .
    FILTER (?status != dcg:SpaceClosed)
  }
}
"""


class PushService:
    def __init__(
        self,
        registry: Callable[[], Registry],
        spaces: Spaces,
        public_url: str,
        datacage_webid: Callable[[], str],
        clock: Callable[[], datetime],
    ):
        self._registry = registry
        self.spaces = spaces
        self.public_url = public_url
        self.datacage_webid = datacage_webid
        self.clock = clock

    # --- The datacage publishes its evidence --------------------------------------------------

    def wanted_digests(self, actor: str | None) -> list[str]:
        """Bundle digests the datacage should attest to: each open space's current algorithm."""
        self._require_datacage(actor)
        rows = self._call(lambda r: r.select(_WANTED))
        return sorted({str(row["digest"]) for row in rows})

    def publish(
        self,
        actor: str | None,
        evidence: str,
        public_key_pem: str,
        fleet_key: dict[str, str] | None = None,
    ) -> PublishedEvidence:
        """Keep the datacage's evidence for providers; with `fleet_key`, the key service's
        statement of the fleet key they seal to (they check its signature themselves)."""
        self._require_datacage(actor)
        try:
            parsed = parse_evidence(evidence.encode())
        except AttestationError as exc:
            raise ValidationFailed({"evidence": [str(exc)]}) from None
        key = _public_key(public_key_pem)
        if not hmac.compare_digest(public_key_sha256(key), parsed.report_data):
            raise ValidationFailed(
                {"public_key": ["This is not the key the evidence vouches for (report_data)."]}
            )
        if fleet_key is not None:
            _check_fleet_key(fleet_key, parsed.measurement.bundle_digest)
        published = PublishedEvidence(
            bundle_digest=parsed.measurement.bundle_digest,
            evidence=evidence,
            public_key_pem=public_key_pem,
            evidence_sha256=hashlib.sha256(evidence.encode()).hexdigest(),
            published_at=self.clock(),
            fleet_key=fleet_key,
        )
        name = evidence_graph_name(self.public_url, published.bundle_digest)
        graph = evidence_to_graph(name, published)
        for _ in range(_ATTEMPTS):
            revision = self._call(lambda r: r.revision(name))
            try:
                self._call(lambda r, n=revision: r.write(name, graph, expected_revision=n))
                return published
            except RegistryConflict:
                continue
        raise WrongState("Evidence is being published by someone else right now; try again.")

    # --- Providers fetch it and register what they pushed -------------------------------------

    def evidence_for(self, space_id: str, actor: str | None) -> tuple[Space, PublishedEvidence]:
        """The latest evidence for the space's current algorithm (data providers only)."""
        space = self.spaces.get(space_id, actor)
        permissions.require_role(space, actor, Role.DATA_PROVIDER)
        return space, self._evidence_of(space)

    def register(self, space_id: str, actor: str | None, fields: dict[str, Any]) -> PushedDataset:
        space = self.spaces.get(space_id, actor)
        actor = permissions.require_role(space, actor, Role.DATA_PROVIDER)
        if space.status is SpaceStatus.CLOSED:
            raise WrongState("This space is closed; no datasets can be added.")
        checked = _check_fields(fields)
        check_grant(
            checked["connector"],
            checked["location"],
            checked["grant"],
            provider=actor,
            datacage_webid=self.datacage_webid(),
            http=self.spaces.http,
        )
        published = self._evidence_of(space)
        if not any(
            hmac.compare_digest(checked["key_sha256"], known) for known in _sealable(published)
        ):
            raise ValidationFailed(
                {
                    "key_sha256": [
                        "The dataset was encrypted to a datacage key that no longer exists "
                        "(the datacage restarted and published a new one); push it again."
                    ]
                }
            )
        name = datasets_graph_name(space.iri)
        for _ in range(_ATTEMPTS):
            stored = self._call(lambda r: r.read(name))
            datasets = datasets_from_graph(space.iri, stored.graph) if stored else []
            same = next((d for d in datasets if d.name == checked["name"]), None)
            if same is not None and same.provider != actor:
                raise ValidationFailed(
                    {"name": ["Another provider of this space already uses this dataset name."]}
                )
            if same is None and len(datasets) >= MAX_DATASETS_PER_SPACE:
                raise ValidationFailed({"": [f"A space holds at most {MAX_DATASETS_PER_SPACE}."]})
            dataset_id = same.id if same else "dataset-" + new_id()
            dataset = PushedDataset(
                id=dataset_id,
                iri=f"{space.iri}/datasets/{dataset_id}",
                provider=actor,
                registered_at=self.clock(),
                **checked,
            )
            # A second push of the same name replaces the first (a new key, new data).
            kept = [d for d in datasets if d.name != dataset.name] + [dataset]
            graph = datasets_to_graph(space.iri, kept)
            revision = stored.revision if stored else 0
            try:
                self._call(lambda r, g=graph, n=revision: r.write(name, g, expected_revision=n))
                return dataset
            except RegistryConflict:
                continue
        raise WrongState("Others are registering datasets right now; please try again.")

    def of_space(self, space_id: str, actor: str | None) -> list[PushedDataset]:
        space = self.spaces.get(space_id, actor)
        permissions.require_view(space, actor)
        return self.datasets(space.iri)

    def datasets(self, space_iri: str) -> list[PushedDataset]:
        """Every dataset of the space, grants included: for the job and the overview."""
        stored = self._call(lambda r: r.read(datasets_graph_name(space_iri)))
        return datasets_from_graph(space_iri, stored.graph) if stored else []

    # --- Plumbing -----------------------------------------------------------------------------

    def _evidence_of(self, space: Space) -> PublishedEvidence:
        if space.algorithm is None:
            raise WrongState("This space has no algorithm yet, so no datacage has attested for it.")
        name = evidence_graph_name(self.public_url, space.algorithm.digest)
        stored = self._call(lambda r: r.read(name))
        if stored is None:
            raise NotFound(
                "The datacage has not published evidence for this space's algorithm yet; it does "
                "so when it starts and every few minutes. Try again shortly."
            )
        return evidence_from_graph(name, stored.graph)

    def _require_datacage(self, actor: str | None) -> str:
        expected = self.datacage_webid()
        if not expected:
            raise WrongState("This deployment names no datacage (DATACAGE_WEBID is not set).")
        if actor != expected:
            raise NotAuthorized("Only this deployment's datacage may publish evidence.")
        return actor

    def _call(self, operation):
        return guard.call(self._registry, operation)


def _check_fleet_key(fleet_key: dict[str, str], bundle_digest: str) -> None:
    if set(fleet_key) != {"statement", "signature"} or not all(
        isinstance(v, str) for v in fleet_key.values()
    ):
        raise ValidationFailed({"fleet_key": ['Send {"statement": "...", "signature": "..."}.']})
    try:
        statement = parse_statement(fleet_key["statement"])
    except StatementRefused as exc:
        raise ValidationFailed({"fleet_key": [str(exc)]}) from None
    if statement.bundle_digest != bundle_digest:
        raise ValidationFailed({"fleet_key": ["The fleet key is for another bundle."]})


def _sealable(published: PublishedEvidence) -> list[str]:
    """Key hashes a dataset may be registered as sealed to: the enclave's, the fleet's."""
    keys = [public_key_sha256(_public_key(published.public_key_pem))]
    if published.fleet_key is not None:
        keys.append(parse_statement(published.fleet_key["statement"]).key_sha256)
    return keys


def _public_key(pem: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise ValidationFailed({"public_key": ["Not a PEM public key."]}) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValidationFailed({"public_key": ["The enclave key must be an EC P-256 key."]})
    return key


def check_schema(fmt: str, schema: object) -> dict[str, Any] | None:
    """The declared schema, checked: tables need columns of known types; graphs have none."""
    if fmt in ("turtle", "jsonld"):
        if schema is not None:
            raise ValueError("Graphs (turtle, jsonld) take no table schema.")
        return None
    if not isinstance(schema, dict) or set(schema) != {"columns"}:
        raise ValueError('A table needs a schema: {"columns": [{"name": ..., "type": ...}]}.')
    columns = schema["columns"]
    if not isinstance(columns, list) or not 1 <= len(columns) <= MAX_COLUMNS:
        raise ValueError(f"A table schema lists 1 to {MAX_COLUMNS} columns.")
    names = set()
    for number, column in enumerate(columns, start=1):
        if not isinstance(column, dict) or set(column) != {"name", "type"}:
            raise ValueError(f"Column {number} must be {{'name': ..., 'type': ...}}.")
        if not isinstance(column["name"], str) or not column["name"] or column["name"] in names:
            raise ValueError(f"Column {number} needs a name of its own.")
        if column["type"] not in COLUMN_TYPES:
            raise ValueError(
                f"Column {column['name']!r} has the type {str(column['type'])[:20]!r}; "
                f"use one of {', '.join(COLUMN_TYPES)}."
            )
        names.add(column["name"])
    return {"columns": [{"name": c["name"], "type": c["type"]} for c in columns]}


def _check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    problems: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    kinds = {
        "name": str,
        "connector": str,
        "location": str,
        "grant": dict,
        "format": str,
        "schema": (dict, type(None)),
        "ciphertext_digest": str,
        "size": int,
        "evidence_sha256": str,
        "key_sha256": str,
    }
    for name in fields.keys() - kinds.keys():
        bad(name, "Unknown field.")
    for name, kind in kinds.items():
        if (
            name not in fields
            or not isinstance(fields[name], kind)
            or isinstance(fields[name], bool)
        ):
            bad(name, "Missing, or of the wrong JSON type.")
    if problems:
        raise ValidationFailed(problems)
    if not _NAME.fullmatch(fields["name"]):
        bad("name", "Use 1-120 letters, digits, spaces, dots, dashes or underscores.")
    if fields["connector"] not in connector_types():
        bad("connector", f"Use one of {', '.join(connector_types())}.")
    if fields["format"] not in FORMATS:
        bad("format", f"Use one of {', '.join(FORMATS)}.")
    else:
        try:
            fields = {**fields, "schema": check_schema(fields["format"], fields["schema"])}
        except ValueError as exc:
            bad("schema", str(exc))
    grant = fields["grant"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in grant.items()) or (
        sum(len(k) + len(v) for k, v in grant.items()) > MAX_GRANT_CHARS
    ):
        bad("grant", f"A small JSON object of strings (at most {MAX_GRANT_CHARS} characters).")
    if not 0 < len(fields["location"]) <= 2000 or "?" in fields["location"]:
        bad("location", "Where it is kept, without a query (credentials go in the grant).")
    if not _DIGEST.fullmatch(fields["ciphertext_digest"]):
        bad("ciphertext_digest", "A sha256:<64 hex> digest.")
    for name in ("evidence_sha256", "key_sha256"):
        if not _HEX64.fullmatch(fields[name]):
            bad(name, "64 lowercase hex digits.")
    if fields["size"] < 0:
        bad("size", "A size in bytes.")
    if problems:
        raise ValidationFailed(problems)
    return fields
