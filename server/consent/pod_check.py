"""What a person's pod really grants the datacage, read from its access lists, next to the record.

My data shows the record (what this server believes it granted and took back) and, where it
has a session with the person's pod, what the pod's access list says now: the record can be
wrong (the person edited their access list, a removal failed half-way, another app changed it),
and the person should see the pod's own answer, not ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connectors.solid import AccessMode, SolidClient
from connectors.solid import errors as solid_errors

from .model import Consent


@dataclass(frozen=True)
class ResourceCheck:
    url: str
    own: bool | None  # this consent's own grant of Read is in the access list (None: unknown)
    reads: bool | None  # the datacage can read it by any grant at all (None: unknown)
    problem: str | None = None

    def differs(self, expected: bool) -> bool:
        """Does the pod disagree with the record? Expected: the datacage can read it. Not
        expected: this consent's own grant is gone (another consent's may rightly remain)."""
        if self.own is None or self.reads is None:
            return False
        return not self.reads if expected else self.own


@dataclass(frozen=True)
class PodCheck:
    consent_iri: str
    expected: bool  # the record says the datacage holds Read under this consent
    resources: tuple[ResourceCheck, ...]

    @property
    def differs(self) -> bool:
        return any(r.differs(self.expected) for r in self.resources)

    @property
    def incomplete(self) -> bool:
        return any(r.own is None for r in self.resources)


def expected_grant(consent: Consent, now: datetime) -> bool:
    """Should the pod still hold this consent's Read, by the record?"""
    return consent.counts_at(now) or consent.grant_may_remain


def check_consent(person: SolidClient, consent: Consent, now: datetime) -> PodCheck:
    """Read each resource's access list with the person's own session."""
    checks = []
    for resource in consent.resources:
        try:
            control = person.access_control(resource.url)
            own = AccessMode.READ in control.labelled_modes(consent.grantee, consent.iri)
            reads = AccessMode.READ in control.agent_modes(consent.grantee)
            checks.append(ResourceCheck(resource.url, own, reads))
        except solid_errors.NotFound:
            checks.append(ResourceCheck(resource.url, False, False, "It is no longer in your pod."))
        except solid_errors.SolidError as exc:
            checks.append(
                ResourceCheck(resource.url, None, None, f"Its access list could not be read: {exc}")
            )
    return PodCheck(consent.iri, expected_grant(consent, now), tuple(checks))
