"""A run as the control plane records it: what was asked, how far the datacage got, how it ended."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from vocab import DCG

from ..protocol.outcomes import Note, Outcome, Refusal, Stage, stage_wording
from ..protocol.pull_progress import PodServerProgress


class RunStatus(enum.Enum):
    QUEUED = DCG.RunQueued
    RUNNING = DCG.RunRunning
    SUCCEEDED = DCG.RunSucceeded
    FAILED = DCG.RunFailed

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @property
    def finished(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED)


@dataclass(frozen=True)
class Attestation:
    """What the datacage's evidence said when it claimed the run (checked by the pods, too)."""

    provider: str
    code_measurement: str
    bundle_digest: str
    key_sha256: str
    evidence: str = ""  # the evidence document itself, so anyone can check it later


@dataclass
class Run:
    id: str
    iri: str
    space_id: str
    space_iri: str
    algorithm_digest: str
    terms_digest: str
    requested_by: str
    requested_at: datetime
    status: RunStatus = RunStatus.QUEUED
    stage: str = Stage.WAITING.value  # a code of `outcomes.Stage`
    progress: float = 0.0  # 0..1, in the fixed steps of `outcomes.overall_progress`
    datacage: str | None = None  # the WebID that claimed it
    attestation: Attestation | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    individuals_included: int = 0  # consents in force when the run was planned
    individuals_read: int = 0  # 0 when fewer than the space's k were read (never shown)
    # The control plane's own words (a run it would not hand out); never the datacage's.
    problems: list[str] = field(default_factory=list)
    outcome: Outcome | None = None  # how it ended, once it has (`outcomes`)
    refusal: Refusal | None = None  # with OUTPUT_REFUSED: the gate's rule and shape path
    notes: list[Note] = field(default_factory=list)
    gate_passed: bool | None = None
    result_digest: str | None = None
    result_size: int | None = None
    pull_transport: str | None = None  # "tls", or "plain-http" (a development setting)
    # The pull, per pod server: planned at the claim, counted by the datacage (`pull_progress`).
    pod_servers: list[PodServerProgress] = field(default_factory=list)
    # The claiming datacage's lease (`leases`): until when it holds the run, the SHA-256 of the
    # token it must present, and how many claims the run has seen (each one a new token).
    lease_until: datetime | None = None
    lease_digest: str | None = None
    claims: int = 0
    revision: int = 0

    @property
    def stage_wording(self) -> str:
        return stage_wording(self.stage)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or datetime.now(self.started_at.tzinfo)
        return (end - self.started_at).total_seconds()


@dataclass(frozen=True)
class RunSummary:
    """What a dashboard shows of a run, read for all of a space's runs in one query."""

    iri: str
    status: RunStatus
    requested_at: datetime
    algorithm_digest: str
    individuals_included: int
    individuals_read: int
    started_at: datetime | None = None
    finished_at: datetime | None = None
    gate_passed: bool | None = None
    attestation_provider: str | None = None

    @property
    def id(self) -> str:
        return self.iri.rsplit("/", 1)[-1]

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def outcome(self) -> str:
        """One word for a chart: the gate's verdict where there is one, else the status."""
        if self.gate_passed is False:
            return "Blocked"
        if self.status is RunStatus.FAILED:
            return "Failed"
        if self.gate_passed:
            return "Passed"
        return self.status.label
