"""The rules of runs: who may start one, which datacage may take it, what it may report.

A participant starts a run of an active space whose every participant approves the current
terms. Only the datacage named by the deployment (`DATACAGE_WEBID`, proven by its own DPoP
token) may claim a run, report on it and finish it; the claim hands it a *job*: the run, the
approved digest, the parameters and the consents in force. The datacage trusts nothing else from
us: it recomputes the digest itself, puts it in its attestation evidence, and the pods check it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rdflib import URIRef

from vocab import SH

from ..audit.events import record_delivery as record_delivery_event
from ..audit.trail import AuditTrail, NoAudit
from ..consent.authority import RegistryAuthority
from ..consent.model import Consent
from ..consent.store import MAX_BATCH, ConsentStore
from ..destinations import Destination, DestinationStore
from ..errors import DomainError, NotAuthorized, NotFound, ValidationFailed, WrongState
from ..protocol.consents import JobConsent
from ..protocol.outcomes import (
    GATE_RULES,
    RUNNING_STEPS,
    WORKER_STAGES,
    Note,
    Outcome,
    PullTransport,
    Refusal,
    Stage,
    overall_progress,
)
from ..protocol.pull_progress import ahead, check_report
from ..spaces import permissions
from ..spaces.actions import Spaces, new_id
from ..spaces.model import Space, SpaceStatus
from . import leases
from .model import Attestation, Run, RunStatus
from .pull_progress import plan_from_counts
from .store import RunStore

log = logging.getLogger(__name__)

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HISTORY_DIGEST = re.compile(r"[0-9a-f]{32}")  # server.consent.rdf.history_iri
_LAPSE_WORDS = {
    "offered": "The datacage holding the run stopped renewing its lease; the run waits for "
    "another.",
    "ended": "The run ended: the datacage holding it stopped renewing its lease (lease-lapsed).",
}


@dataclass(frozen=True)
class Job:
    """What a claim hands the datacage: the run, its terms, and the IRIs of the consents in
    force when it was claimed. What each consent lets it read comes later, a page at a time,
    from the batch re-check (`check_consents`), so no answer grows with the crowd but the
    list of IRIs, which `server.web.datacage_api` streams."""

    run: Run
    space: Space
    consent_iris: list[str]
    destinations: list[Destination] = field(default_factory=list)
    lease: leases.Lease | None = None  # the claiming datacage's hold on the run

    def as_json(self) -> dict[str, Any]:
        """The job without its consent IRIs (the header of the streamed claim)."""
        algorithm = self.space.algorithm
        assert algorithm is not None  # a run is only started with one
        return {
            "run": {"id": self.run.id, "iri": self.run.iri},
            "space": {
                "id": self.space.id,
                "iri": self.space.iri,
                "name": self.space.name,
                "min_individuals": self.space.terms.min_individuals,
                # The approved differential-privacy term (docs/datafuse.md), or None.
                "differential_privacy": (
                    self.space.terms.privacy.as_json() if self.space.terms.privacy else None
                ),
                "purposes": sorted(self.space.terms.purposes),
                "consumers": list(self.space.consumers),
            },
            "algorithm": {
                "digest": algorithm.digest,
                "parameters": {p.name: p.default for p in algorithm.parameters},
            },
            "consent_count": len(self.consent_iris),
            "deliveries": [d.as_job() for d in self.destinations],
            # The pull's plan: the datacage reports its counts per row (`pull_progress`).
            "pod_servers": [p.server for p in self.run.pod_servers],
            "lease": self.lease.as_json() if self.lease else None,
        }


class Runs:
    def __init__(
        self,
        store: RunStore,
        spaces: Spaces,
        consents: ConsentStore,
        datacage_webid: Callable[[], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        destinations: DestinationStore | None = None,  # where consumers want results
        audit: AuditTrail | None = None,  # start, claim, pulls, refusals, finish
        lease_seconds: float = 60.0,  # a claim's hold on a run, renewed while it works
        max_claims: int = 2,  # a run whose lease lapses early is offered again until this
        dispatch: Callable[[Run], None] | None = None,  # tells a fleet a run waits (server.fleet)
    ):
        self.lease_seconds = lease_seconds
        self.max_claims = max_claims
        self.dispatch = dispatch
        self.destinations = destinations
        self.audit = audit or NoAudit()
        self.store = store
        self.spaces = spaces
        self.consents = consents
        self.datacage_webid = datacage_webid
        self.clock = clock

    # --- Participants -------------------------------------------------------------------------

    def start(self, space_id: str, actor: str | None) -> Run:
        space = self.spaces.get(space_id, actor)
        actor = permissions.require_participant(space, actor)
        _check_runnable(space)
        if self.store.any_unfinished(space.iri):
            raise WrongState("A run of this space is already waiting or under way.")
        run_id = new_id()
        algorithm = space.algorithm
        assert algorithm is not None  # _check_runnable
        assert space.terms_digest is not None
        run = Run(
            id=run_id,
            iri=self.store.iri_of(run_id),
            space_id=space.id,
            space_iri=space.iri,
            algorithm_digest=algorithm.digest,
            terms_digest=space.terms_digest,
            requested_by=actor,
            requested_at=self.clock(),
        )
        run = self.store.create(run)
        self.audit.record(space.iri, "run-started", actor, "Run requested.", run.iri)
        if self.dispatch is not None:
            try:  # the run is queued either way: a fleet's sweep offers it later
                self.dispatch(run)
            except Exception:
                log.exception("run not dispatched to the fleet", extra={"run": run.id})
        return run

    def get(self, space_id: str, run_id: str, actor: str | None) -> tuple[Space, Run]:
        space = self.spaces.get(space_id, actor)
        permissions.require_participant(space, actor)
        run = self.store.load(run_id)
        if run.space_iri != space.iri:
            raise NotFound("There is no such run.")
        return space, run

    def of_space(self, space_id: str, actor: str | None) -> list[Run]:
        space = self.spaces.get(space_id, actor)
        permissions.require_participant(space, actor)
        return self.store.of_space(space.iri)

    # --- The datacage -------------------------------------------------------------------------

    def claim(self, actor: str | None, attestation: Attestation) -> Job | None:
        """Hand the oldest queued run to the datacage; None when there is nothing to do."""
        self.require_datacage(actor)
        self.sweep_lapsed()
        # Only a run of the very bundle the evidence names: the datacage attests before it
        # claims, and a run that needs another bundle waits for a claim of its own.
        for queued in self.store.queued():
            if queued.algorithm_digest != attestation.bundle_digest:
                continue
            job = self._take(queued, actor, attestation)
            if job is not None:
                return job
        return None

    def claim_run(self, actor: str | None, run_id: str, attestation: Attestation) -> Job | None:
        """Hand this run to the datacage if it still waits (a task of a fleet names one run);
        None if it does not: another worker took it, it ended, or it is a task delivered twice."""
        self.require_datacage(actor)
        run = self.store.load(run_id)
        if leases.lapsed(run, self.clock()):
            self._lapse(run.id)
            run = self.store.load(run_id)
        if run.status is not RunStatus.QUEUED or run.algorithm_digest != (
            attestation.bundle_digest
        ):
            return None
        return self._take(run, actor, attestation)

    def _take(self, queued: Run, actor: str, attestation: Attestation) -> Job | None:
        space = self.spaces.store.load(queued.space_id)
        now = self.clock()
        problem = _runnable_problem(space, queued)
        granted: list[leases.Lease] = []

        def take(run: Run) -> bool:
            granted.clear()  # a lost race redoes the change with a fresh record
            if run.status is not RunStatus.QUEUED:
                return False  # another claim won
            run.datacage, run.attestation, run.started_at = actor, attestation, now
            if problem:
                run.status, run.finished_at = RunStatus.FAILED, now
                run.problems.append(problem)
                run.stage = Stage.NOT_RUN.value
                return False
            granted.append(leases.grant(run, now, self.lease_seconds))
            run.status = RunStatus.RUNNING
            run.stage, run.progress = (
                Stage.CHECKING_CONSENTS.value,
                overall_progress(Stage.CHECKING_CONSENTS),
            )
            return True

        run, taken = self.store.change(queued.id, take)
        if not taken:
            if problem and run.datacage == actor and run.status is RunStatus.FAILED:
                self.audit.record(space.iri, "run-refused", actor, problem, run.iri)
            return None
        self.audit.record(
            space.iri,
            "run-claimed",
            actor,
            f"Claimed by the datacage with {attestation.provider} attestation evidence "
            f"for {attestation.bundle_digest}, enclave key {attestation.key_sha256[:16]}.",
            run.iri,
        )
        # One read of the space's in-force index, as long as the people in force; each is
        # checked again from the records, with what their read needs, right before it
        # (`check_consents`), so the index may only ever hold too many, never let one through.
        in_force = self.consents.in_force_plan(space.iri, run.terms_digest, now)
        planned = in_force.iris
        per_server = plan_from_counts(in_force.origins, space.terms.min_individuals, spelled=True)

        def plan(run: Run, count: int = len(planned), rows=per_server) -> None:
            run.individuals_included = count
            run.pod_servers = rows

        run, _ = self.store.change(run.id, plan)
        targets = (
            self.destinations.of_space(space.iri, space.consumers) if self.destinations else []
        )
        return Job(run, space, planned, targets, granted[0])

    # --- Leases (`leases`) ----------------------------------------------------------------------

    def renew(self, run_id: str, actor: str | None, token: str | None) -> datetime:
        """Extend the lease of the run's holder; refused once it lapsed or another holds it."""
        self.require_datacage(actor)
        return self.store.change(
            run_id, lambda run: leases.renew(run, token, self.clock(), self.lease_seconds)
        )[1]

    def sweep_lapsed(self) -> dict[str, str]:
        """Apply every lapsed lease: run id -> "offered" (queued again) or "ended"."""
        now = self.clock()
        done = {}
        for run in self.store.running():
            if leases.lapsed(run, now):
                what = self._lapse(run.id)
                if what:
                    done[run.id] = what
        return done

    def waiting(self, actor: str | None) -> list[Run]:
        """After a sweep of lapsed leases, the runs waiting for a datacage, oldest first."""
        self.require_datacage(actor)
        self.sweep_lapsed()
        return self.store.queued()

    def _lapse(self, run_id: str) -> str | None:
        run, what = self.store.change(
            run_id, lambda run: leases.lapse(run, self.clock(), self.max_claims)
        )
        if what == "offered":
            self.audit.record(
                run.space_iri, "run-offered-again", None, _LAPSE_WORDS["offered"], run.iri
            )
        elif what == "ended":
            self.audit.record(run.space_iri, "run-finished", None, _LAPSE_WORDS["ended"], run.iri)
            log.warning("run ended: lease lapsed", extra={"run": run.id})
        return what

    def next_digest(self, actor: str | None) -> str | None:
        """The algorithm digest of the oldest queued run, so the datacage can attest to it."""
        self.require_datacage(actor)
        queued = self.store.queued()
        return queued[0].algorithm_digest if queued else None

    def bundle(self, actor: str | None, digest: str) -> bytes:
        self.require_datacage(actor)
        # Fetched before the claim (the datacage attests to the bundle it will run).
        if not any(run.algorithm_digest == digest for run in self.store.queued()):
            raise NotFound("No run waits for an algorithm with that digest.")
        path = self.spaces.bundles.path_of(digest)
        if not path.exists():
            raise NotFound("The bundle is not stored here.")
        return path.read_bytes()

    def authority(
        self, run_id: str, actor: str | None, lease: str | None = None
    ) -> tuple[Run, RegistryAuthority]:
        """The consent questions of a running run, answered from the registry."""
        run = self._own_running(run_id, actor, lease)
        return run, RegistryAuthority(self.consents, self.clock)

    def consent(self, run: Run, iri: str) -> Consent:
        """A consent the run may ask about: one in its own space. Found by its own name (a
        consent is `<its history graph>/<number>`), one graph read, never a scan."""
        history_name, _, number = iri.rpartition("/")
        prefix = self.consents.public_url + "consents/"
        digest = history_name[len(prefix) :] if history_name.startswith(prefix) else ""
        history = None
        if _HISTORY_DIGEST.fullmatch(digest) and number.isdigit():
            history = self.consents.read(history_name)
        consent = history.get(int(number)) if history else None
        if history is None or consent is None or history.space_iri != run.space_iri:
            raise NotFound("This run's space has no such consent.")
        return consent

    def check_consents(
        self, run_id: str, actor: str | None, iris: list[str], lease: str | None = None
    ) -> list[JobConsent]:
        """Which of `iris` the running run may read right now, each with what its read needs,
        in the order asked: one store query for the whole batch. A consent of another space,
        an older one, a withdrawn or expired one, or one given under other terms than the
        run's is left out; which of these it was is not said."""
        run = self._own_running(run_id, actor, lease)
        if not iris or len(iris) > MAX_BATCH:
            raise ValidationFailed(
                {"consents": [f"Ask about 1 to {MAX_BATCH} consents at a time."]}
            )
        found = self.consents.in_force_among(run.space_iri, run.terms_digest, iris, self.clock())
        return [found[iri] for iri in dict.fromkeys(iris) if iri in found]

    def report(
        self, run_id: str, actor: str | None, stage: str, step: int, lease: str | None = None
    ) -> Run:
        """Progress, as a worker stage and (while running) the algorithm's step; a report that
        is not ahead of what is shown is ignored, so the number of changes is bounded."""
        self._own_running(run_id, actor, lease)
        reported = _worker_stage(stage)
        if not 0 <= step <= (RUNNING_STEPS if reported is Stage.RUNNING else 0):
            raise ValidationFailed({"step": [f"A step is 0 to {RUNNING_STEPS}, while running."]})
        progress = overall_progress(reported, step)

        def change(run: Run) -> None:
            # In the same write as the lease check: a stage past the gate is reported only
            # while the lease runs, so a lapse decided later sees it (`leases.lapse`).
            leases.require_holder(run, lease, self.clock())
            if progress > run.progress:
                run.stage, run.progress = reported.value, progress

        return self.store.change(run_id, change)[0]

    def report_pull(
        self,
        run_id: str,
        actor: str | None,
        counts: list[tuple[int, int]],
        lease: str | None = None,
    ) -> Run:
        """The pull's counts, `(read, failed)` per row of the run's plan; a report that does
        not fit the plan is refused, one that is not ahead is ignored."""
        run = self._own_running(run_id, actor, lease)
        try:
            reported = check_report(run.pod_servers, counts)
        except ValueError as exc:
            raise ValidationFailed({"pod_servers": [str(exc)]}) from None

        def change(run: Run) -> None:
            if run.status is RunStatus.RUNNING and ahead(run.pod_servers, reported):
                run.pod_servers = reported

        return self.store.change(run_id, change)[0]

    def finish(
        self, run_id: str, actor: str | None, report: FinishReport, lease: str | None = None
    ) -> Run:
        run = self._own_running(run_id, actor, lease)
        report.check(self._shape_paths(run.algorithm_digest))
        k = self.spaces.store.load(run.space_id).terms.min_individuals
        now = self.clock()

        def change(run: Run) -> None:
            if run.status is not RunStatus.RUNNING:
                raise WrongState("This run has already ended.")
            leases.require_holder(run, lease, now)  # a late report of an old holder: refused
            succeeded = report.outcome is Outcome.SUCCEEDED
            run.status = RunStatus.SUCCEEDED if succeeded else RunStatus.FAILED
            run.finished_at = now
            run.stage = (Stage.FINISHED if succeeded else Stage.STOPPED).value
            run.progress = 1.0 if succeeded else run.progress
            # A count below k would tell how many people are behind a result: not shown.
            run.individuals_read = report.individuals_read if report.individuals_read >= k else 0
            run.outcome, run.refusal, run.notes = report.outcome, report.refusal, report.notes
            run.gate_passed = {Outcome.SUCCEEDED: True, Outcome.OUTPUT_REFUSED: False}.get(
                report.outcome
            )
            run.result_digest = report.result_digest
            run.result_size = report.result_size
            run.pull_transport = report.pull_transport.value if report.pull_transport else None
            run.lease_until = run.lease_digest = None  # ended: nothing more to hold

        run = self.store.change(run_id, change)[0]
        self.audit.record(run.space_iri, "run-finished", actor, _finish_summary(run), run.iri)
        return run

    def _shape_paths(self, digest: str) -> frozenset[str]:
        """The sh:path IRIs of the run's approved output shape: all a refusal may name."""
        try:
            shape = self.spaces.bundles.get(digest).output_shape
        except Exception:  # a bundle gone from the store: refusals name no path then
            log.exception("output shape not read", extra={"digest": digest})
            return frozenset()
        return frozenset(str(p) for p in shape.objects(None, SH.path) if isinstance(p, URIRef))

    def report_delivery(self, run_id: str, actor: str | None, body: dict[str, Any]):
        """One consumer's delivery state, from the datacage that claimed the run.

        Accepted after the run finished too (retries outlive it). A delivery that ended
        (delivered, failed, destroyed, no destination) goes into the audit trail; a delivered
        one also into the usage records, so each person's My data names who received results.
        """
        space, run = self.delivering(run_id, actor)
        if body["consumer"] not in space.consumers:
            raise ValidationFailed({"consumer": ["Not a data consumer of this run's space."]})
        destination = (
            self.destinations.get(space.iri, body["consumer"]) if self.destinations else None
        )
        container = destination.container if destination else None
        status = self.store.record_delivery(
            run.iri, body, self.clock(), container, space_iri=run.space_iri
        )
        if status.state != "retrying":
            record_delivery_event(
                self.audit,
                space_iri=space.iri,
                run_iri=run.iri,
                consumer=status.consumer,
                delivered=status.state == "delivered",
                agent=run.datacage or "",
                detail=status.detail,
            )
        if status.state == "delivered":
            try:
                self.store.results_sent(run.iri, [status.consumer])
            except DomainError:  # delivered all the same; My data lacks the name until fixed
                log.exception("consumer not added to usage records", extra={"run": run.iri})
        return status

    def audit_use(self, run: Run, consent: Consent, reads: int) -> None:
        """A pull: the run read this many resources under this consent (no URL: it names them)."""
        self.audit.record(
            run.space_iri,
            "data-pulled",
            run.datacage,
            f"Read {reads} resource(s) under a consent.",
            run.iri,
            consent.iri,
        )

    def audit_refusal(self, run: Run, consent: Consent) -> None:
        self.audit.record(
            run.space_iri,
            "pull-refused",
            run.datacage,
            "A pod refused the read; the consent counts as withdrawn.",
            run.iri,
            consent.iri,
        )

    def delivering(self, run_id: str, actor: str | None) -> tuple[Space, Run]:
        """A run whose result this datacage delivers: one it claimed, under way or succeeded."""
        actor = self.require_datacage(actor)
        run = self.store.load(run_id)
        if run.datacage != actor or run.status not in (RunStatus.RUNNING, RunStatus.SUCCEEDED):
            raise WrongState("This run has no result at this datacage to deliver.")
        return self.spaces.store.load(run.space_id), run

    def require_datacage(self, actor: str | None) -> str:
        expected = self.datacage_webid()
        if not expected:
            raise WrongState("This deployment names no datacage (DATACAGE_WEBID is not set).")
        if actor != expected:
            raise NotAuthorized("Only this deployment's datacage may take and report runs.")
        return actor

    def _own_running(self, run_id: str, actor: str | None, lease: str | None) -> Run:
        actor = self.require_datacage(actor)
        run = self.store.load(run_id)
        if run.datacage != actor or run.status is not RunStatus.RUNNING:
            raise WrongState("This run is not under way at this datacage.")
        now = self.clock()
        if leases.lapsed(run, now):
            self._lapse(run.id)  # offered again or ended now, not at the next sweep
        leases.require_holder(run, lease, now)
        return run


@dataclass(frozen=True)
class FinishReport:
    """How the datacage says a run ended: codes and counts only (`outcomes`)."""

    outcome: Outcome
    individuals_read: int
    refusal: Refusal | None = None
    notes: list[Note] = field(default_factory=list)
    result_digest: str | None = None
    result_size: int | None = None
    pull_transport: PullTransport | None = None  # None: not said (a report from before)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FinishReport:
        """From the fields `server.web.datacage_api` checked for their JSON types."""
        problems: dict[str, list[str]] = {}
        outcome = _one_of(Outcome, body["outcome"], "outcome", problems)
        notes = [_one_of(Note, n, "notes", problems) for n in body["notes"]]
        transport = None
        if body.get("pull_transport") is not None:  # the HTTP API requires it of a datacage
            transport = _one_of(PullTransport, body["pull_transport"], "pull_transport", problems)
        refusal = None
        if body["refusal"] is not None:
            refusal = Refusal(body["refusal"]["rule"], body["refusal"]["shape_path"])
        if problems:
            raise ValidationFailed(problems)
        return cls(
            outcome,  # type: ignore[arg-type]
            body["individuals_read"],
            refusal,
            sorted(set(notes), key=lambda n: n.value),  # type: ignore[arg-type]
            body["result_digest"],
            body["result_size"],
            transport,  # type: ignore[arg-type]
        )

    def check(self, shape_paths: frozenset[str]) -> None:
        """Every value from a vocabulary; a refusal only with output-refused; a result only
        with success. Anything else is refused whole, so nothing of it is kept."""
        problems: dict[str, list[str]] = {}
        refused = self.outcome is Outcome.OUTPUT_REFUSED
        if refused != (self.refusal is not None):
            problems["refusal"] = ["A refusal comes with output-refused, and only with it."]
        elif self.refusal is not None:
            if self.refusal.rule not in GATE_RULES:
                problems["refusal"] = ["Not a rule of the output gate."]
            elif self.refusal.shape_path is not None and self.refusal.shape_path not in (
                shape_paths
            ):
                problems["refusal"] = ["Not a path of the run's approved output shape."]
        succeeded = self.outcome is Outcome.SUCCEEDED
        if succeeded != (self.result_digest is not None) or (
            self.result_digest is not None and not _DIGEST.fullmatch(self.result_digest)
        ):
            problems["result_digest"] = ["A sha256: digest with success, and only with it."]
        if succeeded != (self.result_size is not None) or (self.result_size or 0) < 0:
            problems["result_size"] = ["A size in bytes with success, and only with it."]
        if self.individuals_read < 0:
            problems["individuals_read"] = ["A count is not negative."]
        if problems:
            raise ValidationFailed(problems)


def _one_of(vocabulary, value: str, name: str, problems: dict[str, list[str]]):
    try:
        return vocabulary(value)
    except ValueError:
        problems[name] = ["Not a code of the fixed vocabulary (server/protocol/outcomes.py)."]
        return None


def _worker_stage(code: str) -> Stage:
    for stage in WORKER_STAGES:
        if stage.value == code:
            return stage
    raise ValidationFailed({"stage": ["Not a stage the datacage reports."]})


def _finish_summary(run: Run) -> str:
    outcome = run.outcome.value if run.outcome else "unknown"
    read = str(run.individuals_read) if run.individuals_read else "fewer than k"
    refusal = f" ({run.refusal.rule})" if run.refusal else ""
    return f"The run ended: {outcome}{refusal}, after reading {read} individual(s)."


def _check_runnable(space: Space) -> None:
    if space.status is not SpaceStatus.ACTIVE:
        raise WrongState("Only an active space can run its algorithm.")
    if space.algorithm is None or space.terms_digest is None:
        raise WrongState("This space has no algorithm to run.")
    missing = space.missing_approvals
    if missing:
        raise WrongState(f"{len(missing)} participant(s) have not approved the current terms.")


def _runnable_problem(space: Space, run: Run) -> str | None:
    try:
        _check_runnable(space)
    except WrongState as exc:
        return str(exc)
    if space.terms_digest != run.terms_digest:
        return "The space's terms changed after the run was started; start it again."
    return None
