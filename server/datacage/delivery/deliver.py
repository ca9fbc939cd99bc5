"""Delivering a run's signed result to every consumer's container, until it lands or expires.

`Deliveries.start` is called once, right after the output gate passed: it signs nothing itself
(the document comes signed), queues one entry per consumer (files, `queue`), and makes the first
attempt at once. `Deliveries.retry_due` is called by the worker at every poll, after a restart
too: it retries what is due, with exponential backoff, then, past `max_attempts`, reports the
delivery failed and keeps trying slowly (`held_retry_s`) while the sealed result is held
(`hold_s`). When the hold ends the result is destroyed and that is reported too. The result goes
nowhere but the containers the consumers designated.

Each change of state is reported to the control plane (`POST runs/<id>/deliveries`); a report
that does not get through is sent again at the next pass, so the run page catches up.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors

from ..control_plane import ControlPlaneError, DeliveryTarget
from .notify import notify
from .owner import consumer_pod
from .queue import DELIVERED, DESTROYED, FAILED, FINAL, DeliveryQueue, Entry
from .writer import write_result

log = logging.getLogger(__name__)

#: What a consumer who designated no container is reported as (nothing is queued for them).
NO_DESTINATION = "no-destination"


@dataclass(frozen=True)
class DeliverySettings:
    first_backoff_s: float = 5.0
    longest_backoff_s: float = 600.0
    max_attempts: int = 8  # then the run says "failed"; slow retries go on while held
    held_retry_s: float = 3600.0
    hold_s: float = 7 * 24 * 3600.0  # then the sealed result is destroyed


def resource_name(run_id: str, document: bytes) -> str:
    """Deterministic: the same run and result always land under the same name."""
    return f"{run_id}-{hashlib.sha256(document).hexdigest()[:16]}.ttl"


class Deliveries:
    def __init__(
        self,
        queue: DeliveryQueue,
        client: SolidClient,
        report: Callable[[str, dict], None],  # (run id, body) -> None; raises ControlPlaneError
        settings: DeliverySettings = DeliverySettings(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.queue = queue
        self.client = client
        self.report = report
        self.settings = settings
        self.clock = clock

    def start(
        self,
        run_id: str,
        run_iri: str,
        document: bytes,
        targets: list[DeliveryTarget],
        consumers: list[str],
    ) -> None:
        now = self.clock().timestamp()
        name = resource_name(run_id, document)
        entries = [
            Entry(
                run_id=run_id,
                run_iri=run_iri,
                consumer=t.consumer,
                container=t.container,
                inbox=t.inbox,
                name=name,
                queued_at=now,
                hold_until=now + self.settings.hold_s,
                next_at=now,
            )
            for t in targets
        ]
        for consumer in sorted(set(consumers) - {t.consumer for t in targets}):
            self._send(
                run_id,
                {
                    "consumer": consumer,
                    "state": NO_DESTINATION,
                    "attempts": 0,
                    "location": None,
                    "detail": "No container designated for results.",
                    "notified": False,
                },
            )
        if entries:
            self.queue.enqueue(document, entries)
            self.retry_due(run_id=run_id)

    def retry_due(self, run_id: str | None = None) -> None:
        """Attempt every delivery that is due (of one run, or all); report what changed.

        Each run's entries are read and worked on under the run's lock (`DeliveryQueue.lock`),
        so two workers of a fleet sharing the queue never attempt or notify the same one twice.
        """
        now = self.clock().timestamp()
        for run in [run_id] if run_id is not None else self.queue.runs():
            with self.queue.lock(run) as mine:
                if not mine:
                    continue
                for entry in self.queue.entries(run):
                    if entry.state not in FINAL:
                        if now >= entry.hold_until:
                            self._destroy(entry)
                        elif now >= entry.next_at:
                            self._attempt(entry, now)
                    self._report(entry)
                self._tidy(run)

    # --- One attempt --------------------------------------------------------------------------

    def _attempt(self, entry: Entry, now: float) -> None:
        document = self.queue.document(entry.run_id)
        if document is None:  # destroyed under us (another pass); nothing left to send
            entry.state, entry.detail = DESTROYED, "The held result was destroyed."
            self.queue.save(entry)
            return
        entry.attempts += 1
        try:
            owner = consumer_pod(self.client, entry.consumer)
            if not owner.holds(entry.container):
                self._refuse(entry)
                return
            entry.inbox = (
                owner.inbox
            )  # LDN discovery from the profile, not the control plane's word
            written = write_result(self.client, entry.container, entry.name, document)
        except solid_errors.SolidError as exc:
            self._failed_attempt(entry, now, exc)
            return
        entry.state, entry.location = DELIVERED, written.location
        entry.detail = f"Written into the consumer's container ({written.how})."
        self.queue.save(
            entry
        )  # recorded before the notification: it is never sent twice for a write
        log.info(
            "delivery written",
            extra={
                "run": entry.run_id,
                "consumer": entry.consumer,
                "attempts": entry.attempts,
                "how": written.how,
            },
        )
        self._notify(entry)

    def _failed_attempt(self, entry: Entry, now: float, exc: solid_errors.SolidError) -> None:
        settings = self.settings
        if entry.attempts >= settings.max_attempts:
            wait = settings.held_retry_s
            if entry.state != FAILED:
                log.warning(
                    "delivery failed",
                    extra={
                        "run": entry.run_id,
                        "consumer": entry.consumer,
                        "attempts": entry.attempts,
                    },
                )
            entry.state = FAILED
        else:
            wait = min(
                settings.longest_backoff_s, settings.first_backoff_s * 2 ** (entry.attempts - 1)
            )
        entry.next_at = now + wait
        entry.detail = f"The consumer's pod did not take the result ({_reason(exc)})."
        self.queue.save(entry)
        log.info(
            "delivery attempt failed",
            extra={
                "run": entry.run_id,
                "consumer": entry.consumer,
                "attempts": entry.attempts,
                "error": _reason(exc),
            },
        )

    def _notify(self, entry: Entry) -> None:
        if not entry.inbox or entry.notified or not entry.location:
            return
        actor = self.client.webid or ""
        try:
            notify(self.client, entry.inbox, actor, entry.location, entry.run_iri, self.clock())
        except solid_errors.SolidError as exc:
            # The result is there; a missing notification is said, not retried forever.
            entry.detail += f" The notification to the inbox was refused ({_reason(exc)})."
        else:
            entry.notified = True
        self.queue.save(entry)

    def _refuse(self, entry: Entry) -> None:
        # The job comes from the control plane, which the datacage does not trust with where
        # results go: only a container in a storage the consumer's own profile names.
        entry.state = DESTROYED
        entry.detail = (
            "Refused: the container is not in a storage the consumer's WebID profile names "
            "(pim:storage), so nothing was written."
        )
        self.queue.save(entry)
        log.warning("delivery refused", extra={"run": entry.run_id, "consumer": entry.consumer})

    def _destroy(self, entry: Entry) -> None:
        entry.state = DESTROYED
        entry.detail = "Not delivered before the hold ended; the held result was destroyed."
        self.queue.save(entry)
        log.warning(
            "held result destroyed", extra={"run": entry.run_id, "consumer": entry.consumer}
        )

    # --- Reporting and tidying ----------------------------------------------------------------

    def _report(self, entry: Entry) -> None:
        if entry.reported == entry.state:
            return
        body = {
            "consumer": entry.consumer,
            "state": entry.state,
            "attempts": entry.attempts,
            "location": entry.location,
            "detail": entry.detail,
            "notified": entry.notified,
        }
        if self._send(entry.run_id, body):
            entry.reported = entry.state
            self.queue.save(entry)

    def _send(self, run_id: str, body: dict) -> bool:
        try:
            self.report(run_id, body)
        except ControlPlaneError as exc:  # sent again at the next pass
            log.error("delivery not reported", extra={"run": run_id, "error": str(exc)})
            return False
        return True

    def _tidy(self, run_id: str) -> None:
        entries = self.queue.entries(run_id)
        if entries and all(e.state in FINAL for e in entries):
            self.queue.destroy_document(run_id)
            if all(e.reported == e.state for e in entries):
                self.queue.forget_run(run_id)


def _reason(exc: solid_errors.SolidError) -> str:
    if isinstance(exc, solid_errors.Forbidden):
        return "403: the datacage may no longer append to the container"
    if exc.status:
        return f"HTTP {exc.status}"
    return (
        "unreachable" if isinstance(exc, solid_errors.UpstreamUnavailable) else type(exc).__name__
    )
