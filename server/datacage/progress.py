"""A run's progress as the control plane sees it: few values, at fixed moments.

The algorithm may call ``ctx.progress(x)`` with any float as often as it likes; passed on as it
is, that is a channel out of the datacage of about 48 bits a second. So the datacage reports its
own stages as it reaches them (`outcomes.WORKER_STAGES`, in a fixed order) and, while the
algorithm runs, only which of `RUNNING_STEPS` quarters it has reached, only when it has gone
further, and only on a tick every `PROGRESS_TICK_S` seconds: the algorithm chooses *whether* a
step is reached by a tick, not when the report is sent. The control plane accepts nothing else
and ignores a report that is not ahead (`server.runs.actions.Runs.report`).

During the pull it also reports, on its own tick, how many people it has read and how many
failed at each pod server of the job's plan (`PullCounts`, `server.protocol.pull_progress`):
counts the pods decide, before the algorithm runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from connectors.origins import origin_of

from ..protocol.outcomes import PROGRESS_TICK_S, Stage, running_step
from ..protocol.pull_progress import index_of

log = logging.getLogger(__name__)


class RunProgress:
    def __init__(self, report: Callable[[Stage, int], None], tick_s: float = PROGRESS_TICK_S):
        self._report = report
        self.tick_s = tick_s

    def stage(self, stage: Stage) -> None:
        self._report(stage, 0)

    @contextmanager
    def running(self) -> Iterator[Callable[[float], None]]:
        """Report the running stage; yield the callback for the algorithm's own progress."""
        self.stage(Stage.RUNNING)
        reached = [0]  # the furthest step the algorithm claimed; only ever grows
        stop = threading.Event()

        def on_progress(fraction: float) -> None:
            reached[0] = max(reached[0], running_step(fraction))

        def ticks() -> None:
            reported = 0
            while not stop.wait(self.tick_s):
                step = reached[0]
                if step > reported:
                    reported = step
                    try:
                        self._report(Stage.RUNNING, step)
                    except Exception:  # progress is shown on a best-effort basis; the run goes on
                        log.warning("progress not reported", exc_info=True)

        ticker = threading.Thread(target=ticks, name="run-progress", daemon=True)
        ticker.start()
        try:
            yield on_progress
        finally:
            stop.set()
            ticker.join()


#: How often the pull's counts are sent while they change.
PULL_TICK_S = 2.0


class PullCounts:
    """People read and failed per row of the job's pod-server plan, sent on a tick and once
    more when the pull ends. `on_person` is the pull's callback (called from its threads)."""

    def __init__(
        self,
        plan: Sequence[str],
        report: Callable[[list[tuple[int, int]]], None],
        tick_s: float = PULL_TICK_S,
    ):
        self._rows = index_of(list(plan))
        self._rest = self._rows.get("")
        self._counts = [[0, 0] for _ in plan]
        self._report = report
        self._lock = threading.Lock()
        self.tick_s = tick_s

    def on_person(self, index: int, outcome) -> None:  # a pull.PersonOutcome
        """Count a person at the row of their first resource's pod server (people are read a
        page at a time, so the row comes from the person, not from a position in the job)."""
        resources = getattr(outcome.consent, "resources", ())
        if not resources or getattr(outcome, "lapsed", False):
            return  # never planned to be read, or no longer counts: neither read nor failed
        row = self._rows.get(origin_of(resources[0].url), self._rest)
        if row is None:
            return  # not in the plan (an older control plane sends none)
        with self._lock:
            self._counts[row][0 if outcome.inputs else 1] += 1

    def counts(self) -> list[tuple[int, int]]:
        with self._lock:
            return [(read, failed) for read, failed in self._counts]

    @contextmanager
    def reporting(self) -> Iterator[PullCounts]:
        if not self._counts:
            yield self
            return
        stop = threading.Event()
        sent: list[list[tuple[int, int]]] = [self.counts()]

        def send() -> None:
            now = self.counts()
            if now == sent[0]:
                return
            try:
                self._report(now)
                sent[0] = now
            except Exception:  # progress is shown on a best-effort basis; the run goes on
                log.warning("pull progress not reported", exc_info=True)

        def ticks() -> None:
            while not stop.wait(self.tick_s):
                send()

        ticker = threading.Thread(target=ticks, name="pull-progress", daemon=True)
        ticker.start()
        try:
            yield self
        finally:
            stop.set()
            ticker.join()
            send()
