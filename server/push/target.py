"""The provider's side of attestation: fetch the datacage's published evidence, check it.

With a fleet, the answer also carries the key service's signed statement of a *fleet key*
(server/keyrelease): the provider checks it too (`check_fleet_key`) and seals to that key,
which the key service releases to any attested worker of the fleet.

The control plane only relays what the datacage published; the provider trusts none of it
until `verify_evidence` (server/attestation/verify.py) accepts the evidence against the
provider's *own* trust policy (the same TOML file a pod provider's admission check reads):
a known attestation provider's proof, fresh, for approved datacage code and an approved
algorithm bundle, and bound (report_data) to the public key served beside it. The evidence
hash is computed here from the bytes, never taken from the server.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..attestation import (
    AttestationError,
    TrustPolicy,
    VerifiedEvidence,
    public_key_sha256,
    verify_evidence,
)
from ..keyrelease.errors import StatementRefused
from ..keyrelease.statement import FleetKeyStatement, check_within, verify_statement
from .envelope import Context
from .errors import EvidenceRefused, PushError

MAX_ANSWER_BYTES = 256 * 1024


@dataclass(frozen=True)
class PushTarget:
    """A datacage key the provider has checked, and what a dataset for it is bound to."""

    space_iri: str
    public_key: ec.EllipticCurvePublicKey  # the fleet key when there is one, else the enclave's
    evidence_sha256: str
    verified: VerifiedEvidence
    fleet: FleetKeyStatement | None = None  # the key service's statement, checked

    def context(self, dataset_name: str) -> Context:
        return Context(
            space=self.space_iri,
            dataset=dataset_name,
            evidence_sha256=self.evidence_sha256,
            key_sha256=public_key_sha256(self.public_key),
        )


def check_target(
    answer: dict[str, Any], *, space_iri: str, policy: TrustPolicy, now: datetime
) -> PushTarget:
    """Check the control plane's `GET /api/spaces/<id>/push/evidence` answer; raise if not."""
    try:
        evidence = answer["evidence"].encode()
        pem = answer["public_key"].encode()
        served_space = answer["space"]
    except (KeyError, AttributeError, TypeError):
        raise EvidenceRefused("The control plane's answer has no evidence and key.") from None
    if served_space != space_iri:
        raise EvidenceRefused(
            f"The control plane answered for the space {str(served_space)[:120]}, not for "
            f"{space_iri[:120]}: nothing was encrypted."
        )
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise EvidenceRefused("The datacage's public key is not a PEM public key.") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise EvidenceRefused("The datacage's public key is not an EC P-256 key.")
    try:
        verified = verify_evidence(
            evidence, public_key_sha256=public_key_sha256(key), policy=policy, now=now
        )
    except AttestationError as exc:
        raise EvidenceRefused(
            f"The datacage's evidence does not verify against your trust policy: {exc} "
            "Nothing was encrypted or uploaded."
        ) from None
    evidence_sha256 = hashlib.sha256(evidence).hexdigest()
    if answer.get("fleet_key") is None:
        return PushTarget(space_iri, key, evidence_sha256, verified)
    fleet = check_fleet_key(answer["fleet_key"], verified, policy)
    return PushTarget(space_iri, fleet.public_key, evidence_sha256, verified, fleet)


def check_fleet_key(
    signed: object, verified: VerifiedEvidence, policy: TrustPolicy
) -> FleetKeyStatement:
    """The fleet key to seal to, once its statement is signed by a key service `policy`
    trusts, is for the bundle the evidence attests, and releases under no looser a policy."""
    try:
        statement = verify_statement(signed, policy.key_service_public_keys())
        check_within(statement, policy)
    except StatementRefused as exc:
        raise EvidenceRefused(
            f"The fleet key the datacage names is refused: {exc} Nothing was encrypted or uploaded."
        ) from None
    if statement.bundle_digest != verified.measurement.bundle_digest:
        raise EvidenceRefused(
            "The fleet key is for another algorithm bundle than the datacage's evidence "
            f"({statement.bundle_digest[:23]}..., evidence "
            f"{verified.measurement.bundle_digest[:23]}...): nothing was encrypted."
        )
    return statement


def parse_answer(data: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(data)
    except ValueError:
        raise PushError("The control plane answered with something that is not JSON.") from None
    if not isinstance(answer, dict):
        raise PushError("The control plane answered with something unexpected.")
    return answer
