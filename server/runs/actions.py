"""The rules of runs: who may start one, which datacage may take it, what it may report.

A participant starts a run of an active space whose every participant approves the current
terms. Only the datacage named by the deployment (`DATACAGE_WEBID`, proven by its own DPoP
token) may claim a run, report on it and finish it; the claim hands it a *job*: the run, the
approved digest, the parameters and the consents in force. The datacage trusts nothing else from
us: it recomputes the digest itself, puts it in its attestation evidence, and the pods check it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..audit.events import record_delivery as record_delivery_event
from ..audit.trail import AuditTrail, NoAudit
from ..consent.model import Consent
from ..consent.store import ConsentStore
from ..datacage.consents import RegistryAuthority, consents_for_run
from ..delivery import Destination, DestinationStore
from ..errors import DomainError, NotAuthorized, NotFound, ValidationFailed, WrongState
from ..spaces import permissions
from ..spaces.actions import Spaces, new_id
from ..spaces.model import Space, SpaceStatus
from .model import Attestation, Run, RunStatus
from .store import RunStore

log = logging.getLogger(__name__)

MAX_LOG_CHARS = 256 * 1024
MAX_REASONS = 50


@dataclass(frozen=True)
class Job:
    run: Run
    space: Space
    consents: list[Consent]
    destinations: list[Destination] = field(default_factory=list)  # issue 6

    def as_json(self) -> dict[str, Any]:
        algorithm = self.space.algorithm
        assert algorithm is not None  # a run is only started with one
        return {
            "run": {"id": self.run.id, "iri": self.run.iri},
            "space": {
                "id": self.space.id,
                "iri": self.space.iri,
                "name": self.space.name,
                "min_individuals": self.space.terms.min_individuals,
                "purposes": sorted(self.space.terms.purposes),
                "consumers": list(self.space.consumers),
            },
            "algorithm": {
                "digest": algorithm.digest,
                "parameters": {p.name: p.default for p in algorithm.parameters},
            },
            "consents": [
                {
                    "iri": c.iri,
                    "subject": c.subject,
                    "resources": [
                        {"url": r.url, "is_container": r.is_container} for r in c.resources
                    ],
                    "usage_records": c.usage_records,  # None: given before usage records
                    "purposes": list(c.purposes),
                }
                for c in self.consents
            ],
            "deliveries": [d.as_job() for d in self.destinations],
        }


class Runs:
    def __init__(
        self,
        store: RunStore,
        spaces: Spaces,
        consents: ConsentStore,
        datacage_webid: Callable[[], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        destinations: DestinationStore | None = None,  # where consumers want results (issue 6)
        audit: AuditTrail | None = None,  # start, claim, pulls, refusals, finish
    ):
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
        if any(not run.status.finished for run in self.store.of_space(space.iri)):
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
        self._require_datacage(actor)
        # Only a run of the very bundle the evidence names: the datacage attests before it
        # claims, and a run that needs another bundle waits for a claim of its own.
        for queued in self.store.queued():
            if queued.algorithm_digest != attestation.bundle_digest:
                continue
            space = self.spaces.store.load(queued.space_id)
            now = self.clock()
            problem = _runnable_problem(space, queued)

            def take(run: Run, problem: str | None = problem, now: datetime = now) -> bool:
                if run.status is not RunStatus.QUEUED:
                    return False  # another claim won
                run.datacage, run.attestation, run.started_at = actor, attestation, now
                if problem:
                    run.status, run.finished_at = RunStatus.FAILED, now
                    run.problems.append(problem)
                    run.stage = "Not run."
                    return False
                run.status = RunStatus.RUNNING
                run.stage = "Checking consents."
                return True

            run, taken = self.store.change(queued.id, take)
            if not taken:
                if problem and run.datacage == actor and run.status is RunStatus.FAILED:
                    self.audit.record(space.iri, "run-refused", actor, problem, run.iri)
                continue
            self.audit.record(
                space.iri,
                "run-claimed",
                actor,
                f"Claimed by the datacage with {attestation.provider} attestation evidence "
                f"for {attestation.bundle_digest}.",
                run.iri,
            )
            planned = consents_for_run(self.consents, space.iri, now, terms_digest=run.terms_digest)

            def plan(run: Run, count: int = len(planned.included)) -> None:
                run.individuals_included = count

            run, _ = self.store.change(run.id, plan)
            targets = (
                self.destinations.of_space(space.iri, space.consumers) if self.destinations else []
            )
            return Job(run, space, planned.included, targets)
        return None

    def next_digest(self, actor: str | None) -> str | None:
        """The algorithm digest of the oldest queued run, so the datacage can attest to it."""
        self._require_datacage(actor)
        queued = self.store.queued()
        return queued[0].algorithm_digest if queued else None

    def bundle(self, actor: str | None, digest: str) -> bytes:
        self._require_datacage(actor)
        # Fetched before the claim (the datacage attests to the bundle it will run).
        if not any(run.algorithm_digest == digest for run in self.store.queued()):
            raise NotFound("No run waits for an algorithm with that digest.")
        path = self.spaces.bundles.path_of(digest)
        if not path.exists():
            raise NotFound("The bundle is not stored here.")
        return path.read_bytes()

    def authority(self, run_id: str, actor: str | None) -> tuple[Run, RegistryAuthority]:
        """The consent questions of a running run, answered from the registry."""
        run = self._own_running(run_id, actor)
        return run, RegistryAuthority(self.consents, self.clock)

    def consent(self, run: Run, iri: str) -> Consent:
        """A consent the run may ask about: one in its own space."""
        for history in self.consents.of_space(run.space_iri):
            for consent in history.consents:
                if consent.iri == iri:
                    return consent
        raise NotFound("This run's space has no such consent.")

    def report(self, run_id: str, actor: str | None, stage: str, progress: float) -> Run:
        self._own_running(run_id, actor)
        if not 0.0 <= progress <= 1.0:
            raise ValidationFailed({"progress": "Progress is a number from 0 to 1."})

        def change(run: Run) -> None:
            if run.status is RunStatus.RUNNING:
                run.stage, run.progress = stage[:500], progress

        return self.store.change(run_id, change)[0]

    def finish(self, run_id: str, actor: str | None, outcome: dict[str, Any]) -> Run:
        self._own_running(run_id, actor)
        now = self.clock()

        def change(run: Run) -> None:
            if run.status is not RunStatus.RUNNING:
                raise WrongState("This run has already ended.")
            run.status = RunStatus.SUCCEEDED if outcome["succeeded"] else RunStatus.FAILED
            run.finished_at = now
            run.stage = "Finished." if outcome["succeeded"] else "Stopped."
            run.progress = 1.0 if outcome["succeeded"] else run.progress
            run.individuals_read = outcome["individuals_read"]
            run.problems.extend(p[:1000] for p in outcome["problems"][:MAX_REASONS])
            run.log = outcome["log"][-MAX_LOG_CHARS:]
            run.gate_passed = outcome["gate_passed"]
            run.gate_reasons = [r[:1000] for r in outcome["gate_reasons"][:MAX_REASONS]]
            run.result_digest = outcome["result_digest"]
            run.result_size = outcome["result_size"]

        run = self.store.change(run_id, change)[0]
        self.audit.record(run.space_iri, "run-finished", actor, _finish_summary(run), run.iri)
        return run

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
        status = self.store.record_delivery(run.iri, body, self.clock(), container)
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
        actor = self._require_datacage(actor)
        run = self.store.load(run_id)
        if run.datacage != actor or run.status not in (RunStatus.RUNNING, RunStatus.SUCCEEDED):
            raise WrongState("This run has no result at this datacage to deliver.")
        return self.spaces.store.load(run.space_id), run

    def _require_datacage(self, actor: str | None) -> str:
        expected = self.datacage_webid()
        if not expected:
            raise WrongState("This deployment names no datacage (DATACAGE_WEBID is not set).")
        if actor != expected:
            raise NotAuthorized("Only this deployment's datacage may take and report runs.")
        return actor

    def _own_running(self, run_id: str, actor: str | None) -> Run:
        actor = self._require_datacage(actor)
        run = self.store.load(run_id)
        if run.datacage != actor or run.status is not RunStatus.RUNNING:
            raise WrongState("This run is not under way at this datacage.")
        return run


def _finish_summary(run: Run) -> str:
    verdict = {True: "passed the result", False: "held the result back", None: "was not reached"}
    return (
        f"The run {'succeeded' if run.status is RunStatus.SUCCEEDED else 'failed'} after reading "
        f"{run.individuals_read} individual(s); the output gate {verdict[run.gate_passed]}."
    )


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
