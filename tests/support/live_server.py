"""Serve a WSGI application on a loopback port for the length of a test.

Browsers and the Community Solid Server need a real URL to talk to: CSS dereferences our
Client ID Document and the browser follows redirects to our callback. The host is spelled
`localhost` because Solid-OIDC accepts plain http only for `localhost` (see testbed.md), and
the control plane must know its own public URL before the first request, hence `build`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from werkzeug.serving import make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

_SHUTDOWN_SECONDS = 5


@contextmanager
def serve_wsgi(
    app: WSGIApplication | None = None,
    *,
    build: Callable[[str], WSGIApplication] | None = None,
) -> Iterator[str]:
    """Serve `app`, or the app `build(base_url)` returns, and yield `http://localhost:PORT/`.

    Pass exactly one of them. `build` runs after the port is bound, so an app whose
    configuration names its own URL (the control plane's `PUBLIC_URL`) gets the real one:

        with serve_wsgi(build=lambda base: create_app({"TESTING": True, "PUBLIC_URL": base})):
            ...

    Requests are served on threads, since a browser opens several connections at once and CSS
    calls back into the app (for the Client ID Document) while a browser request is pending.
    """
    if (app is None) == (build is None):
        raise TypeError("serve_wsgi takes either an app or a build function, not both or neither")
    # Bind before building: port 0 lets the kernel pick a free port with no race.
    server = make_server("127.0.0.1", 0, _not_ready, threaded=True)
    base_url = f"http://localhost:{server.server_port}/"
    try:
        server.app = app if build is None else build(base_url)
    except BaseException:
        server.server_close()
        raise
    thread = threading.Thread(
        target=server.serve_forever, name=f"live-server-{server.server_port}", daemon=True
    )
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        thread.join(_SHUTDOWN_SECONDS)
        server.server_close()


def _not_ready(environ: object, start_response: Callable[..., object]) -> list[bytes]:
    # Never called: the real app replaces it before the server thread starts.
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"not ready"]
