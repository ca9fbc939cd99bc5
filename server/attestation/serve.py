"""Serving the admission app: werkzeug's threaded server, or gunicorn's threaded worker.

nginx asks the admission app about every pod request, so its per-request cost is paid on every
pull: gunicorn's `gthread` worker parses a request in about half the CPU time of werkzeug's
server (bench/pull_ratio.py). werkzeug stays the default: it needs nothing but the process,
where gunicorn also wants a writable temporary folder for its worker heartbeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

SERVERS = ("werkzeug", "gunicorn")
#: Requests answered at once. nginx keeps up to 16 idle connections to the admission app
#: (`keepalive 16`, one per pod read in flight); they wait in gunicorn's poller, not a thread.
THREADS = 8
#: Longer than nginx's upstream `keepalive_timeout` (60 s): nginx, not us, closes idle
#: connections, so it never sends a request on one we are closing.
KEEPALIVE_SECONDS = 75


def serve(
    app: Flask,
    host: str,
    port: int,
    server: str = "werkzeug",
    ready: Callable[[], None] = lambda: None,
) -> None:
    """Serve `app` until interrupted (SIGINT, or SIGTERM for gunicorn). `ready` is called once
    the port is bound, so whoever waits for it (nginx's start, a test) is never refused."""
    # nginx's access log names every request; a line per request here too only costs time.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if server == "gunicorn":
        _gunicorn(app, host, port, ready)
        return
    if server != "werkzeug":
        raise ValueError(f"Unknown server {server!r}; choose one of {', '.join(SERVERS)}.")
    from werkzeug.serving import make_server

    httpd = make_server(host, port, app, threaded=True)
    ready()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


def _gunicorn(app: Flask, host: str, port: int, ready: Callable[[], None]) -> None:
    from gunicorn.app.base import BaseApplication

    class AdmissionApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            # One worker: the cache of admitted certificates lives in it, shared by its threads.
            settings: dict[str, Any] = {
                "bind": f"{host}:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": THREADS,
                "keepalive": KEEPALIVE_SECONDS,
                "accesslog": None,
                "loglevel": "warning",
                "when_ready": lambda _arbiter: ready(),
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    AdmissionApplication().run()
