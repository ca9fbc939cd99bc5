"""Running a fleet's processes: a datacage worker consuming tasks, and the beat.

Their settings (`FleetSettings`: the broker and the DATACAGE_FLEET_* periods) are read and
checked with the rest of the configuration by the command line (server/cli.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from celery import signals

from .app import QUEUE, FleetSettings, make_app

if TYPE_CHECKING:
    from ..datacage.worker import Worker


def serve_fleet(cage: Worker, settings: FleetSettings, data_dir: Path) -> None:
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
    app = make_app(settings, worker=lambda: cage)
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


def serve_beat(settings: FleetSettings, schedule_file: str) -> None:
    """The beat alone: it sends the periodic tasks and carries nothing out itself."""
    app = make_app(settings)
    app.start(["beat", f"--schedule={schedule_file}", "--loglevel=INFO"])
