"""The schedule's chores, one body for both engines.

A fleet's beat sends `datacage.start_recurring` and `datacage.expire_consents` as tasks
(`server.fleet.app`); a single worker without a broker (`make run`, `datacage worker`) calls
`tick` from its own loop when `Timer` says a chore is due. Either way the chore is the control
plane's to carry out and to make idempotent (server/web/schedule_api.py): a worker only says
"now". So a tick lost with a broker restart costs one interval's delay, and a tick sent twice,
or by two beats, or by two single-machine workers, starts nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from connectors.solid.errors import SolidError

from .control_plane import ControlPlane, ControlPlaneError

log = logging.getLogger(__name__)

CHORES = ("recurring", "expiry")


def single_machine_timer(recurring_every_s: float, expire_every_s: float) -> Timer:
    """The schedule of a worker without a broker, on the same settings as a fleet's beat
    (DATACAGE_FLEET_RECURRING_EVERY_S and _EXPIRE_EVERY_S). Celery is not imported: one
    worker alone needs none."""
    return Timer({"recurring": recurring_every_s, "expiry": expire_every_s})


class Ticking(Protocol):
    """What a tick needs of a worker: its client of the control plane."""

    plane: ControlPlane


def tick(worker: Ticking, chore: str) -> dict[str, Any]:
    """Ask the control plane for one chore; its report, or {} when it could not be reached
    (one log line: the next tick tries again)."""
    try:
        done = worker.plane.tick(chore)
    except (ControlPlaneError, SolidError, OSError) as exc:
        log.error("scheduled chore not done", extra={"chore": chore, "error": str(exc)})
        return {}
    if done.get("started"):
        log.info("recurring runs started", extra={"runs": done["started"]})
    return done


class Timer:
    """Which chores are due, for a worker's own loop; the first tick of each is at once."""

    def __init__(
        self,
        every_s: dict[str, float],
        clock: Callable[[], float] = time.monotonic,
    ):
        unknown = set(every_s) - set(CHORES)
        if unknown:
            raise ValueError(f"no such chores: {sorted(unknown)}")
        self.every_s = dict(every_s)
        self.clock = clock
        self._last: dict[str, float] = {}

    def due(self) -> list[str]:
        now = self.clock()
        found = []
        for chore, every in self.every_s.items():
            last = self._last.get(chore)
            if last is None or now - last >= every:
                self._last[chore] = now
                found.append(chore)
        return found
