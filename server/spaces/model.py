"""A collaboration space as the service layer sees it: plain data, no RDF and no HTTP.

`server.spaces.rdf` maps these to and from the space's named graph in the registry; the
service functions in `server.spaces.actions` change them under the rules in
`server.spaces.permissions` and `server.spaces.lifecycle`.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from rdflib import URIRef

from datafuse.noise import DifferentialPrivacy
from vocab import DCG


class Role(enum.Enum):
    """The parts a participant can play; one participant may hold several."""

    DATA_PROVIDER = DCG.DataProviderRole
    CODE_PROVIDER = DCG.CodeProviderRole
    DATA_CONSUMER = DCG.DataConsumerRole

    @property
    def slug(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @classmethod
    def from_slug(cls, slug: str) -> Role:
        for role in cls:
            if role.slug == slug:
                return role
        raise ValueError(slug)


class SpaceStatus(enum.Enum):
    DRAFT = DCG.SpaceDraft
    AWAITING_APPROVAL = DCG.SpaceAwaitingApproval
    ACTIVE = DCG.SpaceActive
    CLOSED = DCG.SpaceClosed

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


class InvitationStatus(enum.Enum):
    PENDING = DCG.InvitationPending
    ACCEPTED = DCG.InvitationAccepted
    WITHDRAWN = DCG.InvitationWithdrawn


@dataclass(frozen=True)
class DataRequest:
    """One thing individuals are asked to share: a pod path or an RDF class, in plain words."""

    description: str
    path: str | None = None  # relative to the person's pod root; a trailing '/' is a container
    rdf_class: str | None = None


_ACCEPTED_MEASUREMENT = re.compile(r"(sev-snp|tdx):[0-9a-f]{96}")
DEFAULT_CONSENT_PERIOD = "P1Y"
#: The k threshold unless a space says otherwise: no aggregate in a result covers fewer people.
DEFAULT_MIN_INDIVIDUALS = 5


@dataclass(frozen=True)
class Terms:
    """What participants agree to; changing any of it voids every approval given so far."""

    purposes: tuple[str, ...]
    legal_basis: str
    retention: str  # an ISO 8601 duration such as P90D
    data_requests: tuple[DataRequest, ...]
    # Last, with defaults, so terms built before consent existed (and spaces stored then) still
    # read: how long each individual's consent lasts, and whether the algorithm runs repeatedly,
    # reading consented data again at every run until the person withdraws or consent expires.
    consent_period: str = DEFAULT_CONSENT_PERIOD  # an ISO 8601 duration, like retention
    recurring: bool = False
    # The k threshold the output gate enforces: every aggregate in a result must cover at least
    # this many individuals. Spaces stored before it existed read with the default.
    min_individuals: int = DEFAULT_MIN_INDIVIDUALS
    # Calibrated noise on every figure (docs/datafuse.md): the epsilon of each run and the
    # bounds values are clamped to. None: no noise, suppression only.
    privacy: DifferentialPrivacy | None = None
    # Launch measurements of datacage releases the participants accept ("sev-snp:<96 hex>",
    # "tdx:<96 hex>"), recomputable from the release (docs/attestation.md). Empty: none named.
    accepted_measurements: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for value in self.accepted_measurements:
            if not _ACCEPTED_MEASUREMENT.fullmatch(value):
                raise ValueError(
                    f"An accepted measurement is written sev-snp:<96 hex> or tdx:<96 hex>, "
                    f"not {value[:60]!r}."
                )


@dataclass
class Participant:
    webid: str
    roles: frozenset[Role]
    joined_at: datetime


@dataclass
class Invitation:
    id: str
    webid: str
    roles: frozenset[Role]
    invited_at: datetime
    invited_by: str
    status: InvitationStatus = InvitationStatus.PENDING
    answered_at: datetime | None = None


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: object
    description: str


@dataclass(frozen=True)
class Algorithm:
    digest: str  # sha256:<hex> of the bundle's canonical form
    name: str
    version: str
    description: str
    entry_point: str
    events: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    output_shape_digest: str  # sha256:<hex> of the SHACL shapes file inside the bundle
    registered_by: str
    registered_at: datetime

    @property
    def hex(self) -> str:
        return self.digest.removeprefix("sha256:")


@dataclass
class Approval:
    id: str
    webid: str
    terms_digest: str
    algorithm_digest: str
    approved_at: datetime
    voided_at: datetime | None = None

    @property
    def standing(self) -> bool:
        return self.voided_at is None


@dataclass
class Space:
    id: str
    iri: str
    name: str
    description: str
    owner: str
    created_at: datetime
    terms: Terms
    status: SpaceStatus = SpaceStatus.DRAFT
    participants: list[Participant] = field(default_factory=list)
    invitations: list[Invitation] = field(default_factory=list)
    algorithms: list[Algorithm] = field(default_factory=list)  # oldest first
    current_algorithm: str | None = None  # a digest from `algorithms`
    approvals: list[Approval] = field(default_factory=list)
    closed_at: datetime | None = None
    revision: int = 0  # the registry revision this was read at

    # --- Reading ----------------------------------------------------------------------------

    def participant(self, webid: str) -> Participant | None:
        return next((p for p in self.participants if p.webid == webid), None)

    def pending_invitation_for(self, webid: str) -> Invitation | None:
        return next(
            (
                i
                for i in self.invitations
                if i.webid == webid and i.status is InvitationStatus.PENDING
            ),
            None,
        )

    def invitation(self, invitation_id: str) -> Invitation | None:
        return next((i for i in self.invitations if i.id == invitation_id), None)

    @property
    def pending_invitations(self) -> list[Invitation]:
        return [i for i in self.invitations if i.status is InvitationStatus.PENDING]

    def holders_of(self, role: Role) -> list[str]:
        return sorted(p.webid for p in self.participants if role in p.roles)

    @property
    def algorithm(self) -> Algorithm | None:
        return next((a for a in self.algorithms if a.digest == self.current_algorithm), None)

    def algorithm_by_digest(self, digest: str) -> Algorithm | None:
        return next((a for a in self.algorithms if a.digest == digest), None)

    @property
    def consumers(self) -> list[str]:
        return self.holders_of(Role.DATA_CONSUMER)

    @property
    def terms_digest(self) -> str | None:
        """The digest of the exact tuple participants approve, or None while incomplete."""
        algorithm = self.algorithm
        if algorithm is None:
            return None
        return terms_digest(self, algorithm)

    def standing_approval_of(self, webid: str) -> Approval | None:
        current = self.terms_digest
        return next(
            (
                a
                for a in self.approvals
                if a.webid == webid and a.standing and a.terms_digest == current
            ),
            None,
        )

    @property
    def missing_approvals(self) -> list[str]:
        return [p.webid for p in self.participants if self.standing_approval_of(p.webid) is None]


def terms_digest(space: Space, algorithm: Algorithm) -> str:
    """sha256 over a canonical JSON of everything an approval covers.

    The issue's tuple (algorithm digest, purposes, output shape, consumers) plus the rest of
    the terms individuals will consent to (legal basis, retention, the data requested, how long
    consent lasts, whether runs repeat, the smallest group a result may describe, the
    differential-privacy noise if any): a data provider
    who approved reading one file once has not approved reading another, or reading it every month
    for years, or results about groups of two.
    """
    document = {
        "space": space.iri,
        "algorithm": algorithm.digest,
        "outputShape": algorithm.output_shape_digest,
        "purposes": sorted(space.terms.purposes),
        "consumers": space.consumers,
        "legalBasis": space.terms.legal_basis,
        "retention": space.terms.retention,
        "consentPeriod": space.terms.consent_period,
        "recurring": space.terms.recurring,
        "minIndividuals": space.terms.min_individuals,
        "dataRequests": [
            [r.path or "", r.rdf_class or "", r.description] for r in space.terms.data_requests
        ],
    }
    if space.terms.privacy is not None:
        # Only when set: spaces without the term keep the digest their participants approved.
        document["differentialPrivacy"] = space.terms.privacy.as_json()
    if space.terms.accepted_measurements:  # absent when empty: older digests stay the same
        document["acceptedMeasurements"] = sorted(space.terms.accepted_measurements)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def role_iri(role: Role) -> URIRef:
    return URIRef(role.value)
