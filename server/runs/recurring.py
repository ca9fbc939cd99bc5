"""Recurring spaces: the next run of each active space whose terms say runs repeat.

A schedule tick (a fleet's beat, or the timer of a single worker: `server.fleet`) asks the
control plane to start what is due. A space is due when it is active and runnable, has no run
waiting or under way, and its latest run was requested at least `interval` ago (or it has
none). Ticks may come twice (a duplicated task, several beats, several machines), so the
decision is not made in any process's memory: the next run's id is derived from the space and
its latest run, and the registry's compare-and-swap create (expected revision 0) lets exactly
one of the racers write it. A loser sees `RegistryConflict` and starts nothing. Hence at most
one run per space per interval, however many ticks race.

Such an id can be worked out by whoever knows the space's and its latest run's ids, that is its
participants: nothing rests on a run id being secret (every run page checks participation).
A participant's own start (`Runs.start`) racing a tick in the same instant can still make two
runs; both are runs the terms allow, and the next tick waits for both to end.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from rdflib import Literal

from ..errors import DomainError
from ..registry import RegistryConflict, guard
from ..spaces.model import SpaceStatus
from .model import Run

if TYPE_CHECKING:
    from .actions import Runs

log = logging.getLogger(__name__)

#: The spaces that may be due: active, with the recurring term set (one query for all).
_RECURRING = """
SELECT ?g WHERE { GRAPH ?g { ?g a dcg:CollaborationSpace ; dcg:recurringRuns ?yes ;
                                dcg:status ?active } }
"""
STARTED_BY_SCHEDULE = "Recurring run started by the schedule."


@dataclass
class RecurringReport:
    started: list[str] = field(default_factory=list)  # run ids this tick created
    lost: list[str] = field(default_factory=list)  # space ids another tick started first


def next_run_id(space_id: str, latest_run_id: str | None) -> str:
    """The id the run after `latest_run_id` gets: the same in every process that computes it,
    so two schedulers racing try to create the very same record."""
    seed = f"recurring\n{space_id}\n{latest_run_id or ''}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


def recurring_space_ids(runs: Runs) -> list[str]:
    rows = guard.call(
        runs.store._registry,
        lambda r: r.select(_RECURRING, {"yes": Literal(True), "active": SpaceStatus.ACTIVE.value}),
    )
    return sorted(str(row["g"]).rsplit("/", 1)[-1] for row in rows)


def start_due(runs: Runs, actor: str | None, interval_s: float) -> RecurringReport:
    """Start the next run of each recurring space that is due (see the module's words)."""
    from .actions import _check_runnable

    runs.require_datacage(actor)
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    report = RecurringReport()
    now = runs.clock()
    for space_id in recurring_space_ids(runs):
        space = runs.spaces.store.load(space_id)
        if space.status is not SpaceStatus.ACTIVE or not space.terms.recurring:
            continue
        try:
            _check_runnable(space)  # approvals missing: nothing runs until they are given
        except DomainError:
            continue
        summaries = runs.store.summaries(space.iri)  # oldest first, one query
        if any(not s.status.finished for s in summaries):
            continue  # one run at a time, as a participant's start
        latest = summaries[-1] if summaries else None
        if latest is not None and now - latest.requested_at < timedelta(seconds=interval_s):
            continue
        run_id = next_run_id(space.id, latest.iri.rsplit("/", 1)[-1] if latest else None)
        assert space.algorithm is not None  # _check_runnable
        assert space.terms_digest is not None
        run = Run(
            id=run_id,
            iri=runs.store.iri_of(run_id),
            space_id=space.id,
            space_iri=space.iri,
            algorithm_digest=space.algorithm.digest,
            terms_digest=space.terms_digest,
            requested_by=space.owner,  # who set the space's terms, recurring included
            requested_at=now,
        )
        try:
            runs.store.create(run)
        except RegistryConflict:  # another tick wrote this very run first
            report.lost.append(space.id)
            continue
        report.started.append(run.id)
        runs.audit.record(space.iri, "run-started", None, STARTED_BY_SCHEDULE, run.iri)
        _dispatch(runs, run)
    return report


def _dispatch(runs: Runs, run: Run) -> None:
    if runs.dispatch is None:
        return
    try:  # the run is queued either way: the next offer of waiting runs carries it
        runs.dispatch(run)
    except Exception:
        log.exception("run not dispatched to the fleet", extra={"run": run.id})
