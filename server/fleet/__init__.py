"""A fleet of datacages on Celery: runs, deliveries and their retries as tasks of an engine
operators already run, with Redis (or RabbitMQ) as the broker. docs/operations.md.

The task bodies are the worker's own methods (`server.datacage.worker.Worker.take`,
`deliver_pending`, the control plane's list of waiting runs): `app` wraps them as Celery tasks,
and a single worker without a broker (`make run`, `datacage worker` without `--broker`) calls
the very same methods from its own loop (`Worker.serve`). The broker carries identifiers only:
a run's id, its algorithm's digest and the offer's number; never personal data, keys or results.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FleetSettings", "Offers", "make_app"]


def __getattr__(name: str) -> Any:
    # Celery is the `fleet` extra: importing the package (for `schedule`, which a single worker
    # uses) must not need it; only the app does.
    if name in ("FleetSettings", "make_app"):
        from . import app

        return getattr(app, name)
    if name == "Offers":
        from .offers import Offers

        return Offers
    raise AttributeError(name)
