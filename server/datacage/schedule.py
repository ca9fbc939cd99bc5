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
import math
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from connectors.solid.errors import SolidError

from .control_plane import ControlPlane, ControlPlaneError

log = logging.getLogger(__name__)

CHORES = ("recurring", "expiry")
#: How often each chore is ticked, unless the environment says otherwise (seconds).
PERIODS = {"recurring": 60.0, "expiry": 600.0}
PERIOD_VARIABLES = {
    "recurring": "DATACAGE_FLEET_RECURRING_EVERY_S",
    "expiry": "DATACAGE_FLEET_EXPIRE_EVERY_S",
}


def seconds_from_env(name: str, default: float | None = None) -> float | None:
    """A period from the environment; a value that cannot work stops the process, naming it."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number of seconds.") from None
    if not (math.isfinite(value) and value > 0):  # NaN, 0 or inf: never, or without end
        raise SystemExit(f"{name} must be a positive number of seconds.")
    return value


def single_machine_timer() -> Timer:
    """The schedule of a worker without a broker, on the same settings as a fleet's beat.
    (Celery is not imported: one worker alone needs none.)"""
    return Timer({c: seconds_from_env(PERIOD_VARIABLES[c], PERIODS[c]) for c in CHORES})


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
