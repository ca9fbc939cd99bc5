"""The Celery app of a datacage fleet: its tasks, a beat schedule, and settings for safety.

- `datacage.take_run(run_id, digest, offer)`: claim the run under a lease and carry it out
  (`Worker.take`). Sent when a run is started (the control plane's dispatch) and by
  `offer_waiting`; a duplicate is refused at the claim.
- `datacage.offer_waiting()`: list the waiting runs (the control plane applies lapsed leases
  first, so a run whose worker died is listed again) and send a `take_run` for each new offer.
- `datacage.deliver_due()`: retry the deliveries that are due, from the shared sealed store.
- `datacage.start_recurring()`: ask the control plane to start the next run of each recurring
  space that is due (`server.runs.recurring`: decided there by compare-and-swap, so duplicate
  ticks and several beats start one run per interval at most).
- `datacage.expire_consents()`: ask the control plane for its consent-expiry sweep.

The beat sends all but the first on a schedule; a single worker without a broker calls the
very same methods on its own timer (`server.datacage.schedule`).

Safety settings: a task is acknowledged only once it ran (`acks_late`), and given back if its
worker process died (`reject_on_worker_lost`), so a task is never lost with its worker; it may
then run twice, which the lease makes harmless.
The frequent ticks (`offer_waiting`, `deliver_due`) expire after their own period: while every
worker is busy with a run they wait in the queue, and one older than its period has been
replaced by the next (each lists or retries everything); without the expiry a worker would
work through every tick sent during its run (a 2-hour run: 720 lists of waiting runs at the
default period) before it took the next run. The recurring check and the consent-expiry sweep
do not expire: they are few, and a dropped one would put off a space's run or a consent's end
by a whole period; late is better. The beat's and the workers' clocks must agree to well
within the shortest period (10 s by default), as NTP keeps them.
One task at a time per worker process (the solo pool): each process has its own enclave key,
its own work folder and its own sandbox ids, and a run is never forked into another process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from celery import Celery

from connectors.solid.errors import SolidError

from ..datacage.control_plane import ControlPlaneError
from ..datacage.schedule import tick
from .offers import Offers

if TYPE_CHECKING:
    from ..datacage.worker import Worker

log = logging.getLogger(__name__)

TAKE_RUN = "datacage.take_run"
OFFER_WAITING = "datacage.offer_waiting"
DELIVER_DUE = "datacage.deliver_due"
START_RECURRING = "datacage.start_recurring"
EXPIRE_CONSENTS = "datacage.expire_consents"
QUEUE = "datacage"


@dataclass(frozen=True)
class FleetSettings:
    """The broker and the fleet's periods in seconds, as declared (with their meanings and
    defaults) in server/config.py's DATACAGE_FLEET_* options: `config.fleet_periods` gives
    the fields below from a configuration, which this plane does not read itself."""

    broker_url: str
    offer_every_s: float  # how often the beat lists waiting runs
    deliver_every_s: float  # how often the beat retries due deliveries
    offer_ttl_s: float  # a listed offer is sent again after this long (`offers`)
    # How often the schedule asks for due recurring runs; the interval between a space's runs
    # is the control plane's DATACAGE_RECURRING_INTERVAL, not this.
    recurring_every_s: float
    expire_every_s: float  # how often the consent-expiry sweep runs
    # Redis hands an unacknowledged task to another worker after this long. A run may last
    # longer: the copy is then refused at the claim, so this only bounds how late a task of a
    # worker that vanished with its machine is tried again (the lease offers the run sooner).
    visibility_timeout_s: float


def make_app(settings: FleetSettings, worker: Callable[[], Worker] | None = None) -> Celery:
    """The app; `worker` makes this process's datacage worker on first use (none: a producer
    only, as the control plane and the beat are)."""
    app = Celery("datacage", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # no result backend: nothing of a run goes back through it
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        beat_schedule={
            "offer-waiting-runs": {
                "task": OFFER_WAITING,
                "schedule": settings.offer_every_s,
                "options": {"expires": settings.offer_every_s},
            },
            "retry-deliveries": {
                "task": DELIVER_DUE,
                "schedule": settings.deliver_every_s,
                "options": {"expires": settings.deliver_every_s},
            },
            "start-recurring-runs": {
                "task": START_RECURRING,
                "schedule": settings.recurring_every_s,
            },
            "expire-consents": {"task": EXPIRE_CONSENTS, "schedule": settings.expire_every_s},
        },
    )
    made: list[Worker] = []

    def this_worker() -> Worker:
        if worker is None:
            raise RuntimeError("This process sends tasks; it does not carry them out.")
        if not made:
            made.append(worker())
        return made[0]

    offers = Offers(settings.broker_url, settings.offer_ttl_s)

    @app.task(name=TAKE_RUN)
    def take_run(run_id: str, digest: str, offer: int) -> str:
        report = this_worker().take(run_id, digest)
        return "not waiting" if report is None else report.outcome.value

    @app.task(name=OFFER_WAITING)
    def offer_waiting() -> int:
        try:
            waiting = this_worker().plane.waiting()
        except (ControlPlaneError, SolidError) as exc:  # one line; the next beat tries again
            log.error("waiting runs not listed", extra={"error": str(exc)})
            return 0
        return send_offers(app, offers, waiting)

    @app.task(name=DELIVER_DUE)
    def deliver_due() -> None:
        this_worker().deliver_pending()

    @app.task(name=START_RECURRING)
    def start_recurring() -> int:
        started = tick(this_worker(), "recurring")
        return len(started.get("started", ()))

    @app.task(name=EXPIRE_CONSENTS)
    def expire_consents() -> int:
        return int(tick(this_worker(), "expiry").get("expired", 0))

    return app


def send_offers(app: Celery, offers: Offers, waiting) -> int:
    """Send a `take_run` task for each waiting run not offered yet; how many were sent."""
    sent = 0
    for run in waiting:
        if offers.first(run.run_id, run.offer):
            app.send_task(TAKE_RUN, (run.run_id, run.digest, run.offer), queue=QUEUE)
            sent += 1
    return sent


def dispatcher(settings: FleetSettings) -> Callable[[object], None]:
    """For the control plane: tell the fleet at once that a run was started (`Runs.dispatch`)."""
    app = make_app(settings)
    offers = Offers(settings.broker_url, settings.offer_ttl_s)

    def dispatch(run) -> None:  # server.runs.model.Run
        if offers.first(run.id, run.claims):
            app.send_task(TAKE_RUN, (run.id, run.algorithm_digest, run.claims), queue=QUEUE)

    return dispatch
