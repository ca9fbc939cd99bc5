"""Running a fleet's processes: a datacage worker consuming tasks, and the beat.

Settings come from the environment (all optional), as the rest of the worker's do:

    DATACAGE_FLEET_OFFER_EVERY_S      how often the beat lists waiting runs (10)
    DATACAGE_FLEET_DELIVER_EVERY_S    how often the beat retries due deliveries (30)
    DATACAGE_FLEET_RECURRING_EVERY_S  how often it asks for due recurring runs (60)
    DATACAGE_FLEET_EXPIRE_EVERY_S     how often it asks for the consent-expiry sweep (600)
    DATACAGE_FLEET_OFFER_TTL_S        a listed offer is sent again after this long (60)
    DATACAGE_FLEET_VISIBILITY_TIMEOUT_S  Redis gives an unacknowledged task back after (3600)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from celery import signals

from ..datacage.schedule import seconds_from_env
from .app import QUEUE, FleetSettings, make_app

if TYPE_CHECKING:
    from ..datacage.worker import Worker

_ENV = {
    "offer_every_s": "DATACAGE_FLEET_OFFER_EVERY_S",
    "deliver_every_s": "DATACAGE_FLEET_DELIVER_EVERY_S",
    "offer_ttl_s": "DATACAGE_FLEET_OFFER_TTL_S",
    "recurring_every_s": "DATACAGE_FLEET_RECURRING_EVERY_S",
    "expire_every_s": "DATACAGE_FLEET_EXPIRE_EVERY_S",
    "visibility_timeout_s": "DATACAGE_FLEET_VISIBILITY_TIMEOUT_S",
}


def settings_from_env(broker_url: str) -> FleetSettings:
    given = {field: seconds_from_env(name, None) for field, name in _ENV.items()}
    return FleetSettings(broker_url, **{k: v for k, v in given.items() if v is not None})


def serve_fleet(cage: Worker, broker_url: str, data_dir: Path) -> None:
    """Consume the fleet's tasks with this worker until a SIGTERM (a warm shutdown: the run
    under way finishes first). What a killed predecessor left is swept before the first task.
    The beat runs on its own (`serve_beat`): an embedded one would be a forked copy of this
    process, enclave key included."""
    cage.sweep()
    heartbeat = data_dir / "heartbeat"  # docker/healthcheck.py reads its age

    def beat_of_life(**_: object) -> None:
        heartbeat.touch()

    # Weak references by default: the function must live as long as the worker does.
    signals.worker_ready.connect(beat_of_life, weak=False)
    signals.task_postrun.connect(beat_of_life, weak=False)
    app = make_app(settings_from_env(broker_url), worker=lambda: cage)
    argv = [
        "worker",
        "--pool=solo",  # one run at a time, in this process, with this process's enclave key
        "--concurrency=1",
        f"--queues={QUEUE}",
        "--without-gossip",
        "--without-mingle",
        f"--hostname=datacage-{cage.key.public_key_sha256()[:12]}@%h",
        "--loglevel=INFO",
    ]
    app.worker_main(argv)


def serve_beat(broker_url: str, schedule_file: str) -> None:
    """The beat alone: it sends the periodic tasks and carries nothing out itself."""
    app = make_app(settings_from_env(broker_url))
    app.start(["beat", f"--schedule={schedule_file}", "--loglevel=INFO"])
