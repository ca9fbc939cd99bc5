"""Attestation providers (who makes evidence) and the registry of verifiers (who checks it).

A provider runs next to the datacage and vouches for its measurement and key. A verifier runs at
the pod provider and checks one provider's proof. Verifiers are plugins, registered by provider
name like Redash's query runners: `register(cls)`; `verify_evidence` looks the name up. A
provider whose verifier is not installed is refused with a sentence saying so, never accepted.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .enclave_key import EnclaveKey
from .errors import UnknownProvider
from .evidence import Evidence
from .measurement import Measurement

if TYPE_CHECKING:
    from .trust import TrustPolicy


class AttestationProvider(Protocol):
    """Makes evidence that `measurement` runs behind `key` (at the datacage)."""

    name: str

    def attest(
        self, key: EnclaveKey, measurement: Measurement, now: datetime | None = None
    ) -> Evidence: ...


class EvidenceVerifier(Protocol):
    """Checks one provider's proof (at the pod provider); raises an `AttestationError`."""

    provider: str
    #: Shown in messages: e.g. "AMD SEV-SNP".
    label: str
    #: True only for verifiers that check a hardware root of trust.
    hardware_backed: bool

    def verify(
        self, evidence: Evidence, policy: TrustPolicy, now: datetime | None = None
    ) -> object: ...


_VERIFIERS: dict[str, type[EvidenceVerifier]] = {}


def register(verifier: type[EvidenceVerifier]) -> type[EvidenceVerifier]:
    """Make `verifier` the checker of its provider's evidence (usable as a class decorator)."""
    _VERIFIERS[verifier.provider] = verifier
    return verifier


def verifier_for(provider: str) -> EvidenceVerifier:
    verifier = _VERIFIERS.get(provider)
    if verifier is None:
        known = ", ".join(sorted(_VERIFIERS)) or "none"
        raise UnknownProvider(
            f"The evidence comes from the attestation provider {provider!r}, which this "
            f"verifier does not know (known: {known})."
        )
    return verifier()


def registered_providers() -> list[str]:
    return sorted(_VERIFIERS)
