"""A run's progress as the control plane sees it: few values, at fixed moments.

The algorithm may call ``ctx.progress(x)`` with any float as often as it likes; passed on as it
is, that is a channel out of the datacage of about 48 bits a second. So the datacage reports its
own stages as it reaches them (`outcomes.WORKER_STAGES`, in a fixed order) and, while the
algorithm runs, only which of `RUNNING_STEPS` quarters it has reached, only when it has gone
further, and only on a tick every `PROGRESS_TICK_S` seconds: the algorithm chooses *whether* a
step is reached by a tick, not when the report is sent. The control plane accepts nothing else
and ignores a report that is not ahead (`server.runs.actions.Runs.report`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..runs.outcomes import PROGRESS_TICK_S, Stage, running_step

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
