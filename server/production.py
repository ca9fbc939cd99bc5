"""Serving the control plane with gunicorn, the production WSGI server.

The embedded registry is an on-disk store one process holds open, so with it gunicorn runs
one worker with several threads (pyoxigraph releases the GIL while it works); several worker
processes need the registry in a SPARQL endpoint (DATACAGE_REGISTRY_SPARQL_*). Requests are
served by threads either way, so a slow identity provider does not stall other people.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from .config import ConfigError


class ControlPlane(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def gunicorn_options(app: Flask, *, bind: str, workers: int, threads: int) -> dict[str, Any]:
    shared = app.config.get("REGISTRY_SPARQL_QUERY_URL") or app.config.get("REGISTRY_VIRTUOSO_URL")
    if workers > 1 and not shared:
        raise ConfigError(
            "The embedded registry can be opened by one process only: use --workers 1 (with "
            "--threads for concurrency), or keep the registry in a SPARQL endpoint "
            "(DATACAGE_REGISTRY_SPARQL_QUERY_URL and DATACAGE_REGISTRY_SPARQL_UPDATE_URL) "
            "or in Virtuoso (DATACAGE_REGISTRY_VIRTUOSO_URL)."
        )
    return {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        # Our own structured request log replaces gunicorn's access log; errors still go out.
        "accesslog": None,
        "errorlog": "-",
        "forwarded_allow_ips": "127.0.0.1",
    }


def serve(app: Flask, *, bind: str, workers: int = 1, threads: int = 8) -> None:
    ControlPlane(app, gunicorn_options(app, bind=bind, workers=workers, threads=threads)).run()
