"""Keeping a claimed run's lease alive while the worker works on it (server/runs/leases.py).

A background thread renews the lease at a third of its length, so two renewals in a row may
fail (a slow control plane, a short network cut) before it lapses. Once the control plane
refuses a renewal, the run belongs to no one or to another worker: the keeper stops renewing
and says so; every report the job still sends is refused with it, so this worker can neither
end the run nor hand its result over, and its work folder is deleted as on every way out.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from connectors.solid.errors import SolidError

from .control_plane import ControlPlaneError, RunReporter

log = logging.getLogger(__name__)

#: The fewest seconds between renewals, whatever the lease's length.
SHORTEST_RENEWAL_S = 0.2


class LeaseKeeper:
    def __init__(self, reporter: RunReporter, seconds: float | None, run_id: str):
        # By the lease's length, not its end: the worker's clock need not agree with the
        # control plane's.
        self.every = max(SHORTEST_RENEWAL_S, (seconds or 60.0) / 3)
        self.reporter = reporter
        self.run_id = run_id
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="lease-keeper", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        if self.reporter.lease:
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _renew(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.reporter.renew()
            except ControlPlaneError:
                log.warning("lease lost: the run is no longer ours", extra={"run": self.run_id})
                self.lost.set()
                return
            except (SolidError, OSError) as exc:  # not reached: try again at the next tick
                log.error("lease not renewed", extra={"run": self.run_id, "error": str(exc)})
