"""The `datacage` command line: the control plane's Flask commands plus the product's own."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import click
from flask.cli import FlaskGroup
from werkzeug.serving import run_simple

from . import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
@click.version_option(package_name="datacage")
def main() -> None:
    """Datacage: a Solid data-vault collaboration server."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: from DATACAGE_PUBLIC_URL).")
def serve(host: str, port: int | None) -> None:
    """Run the control plane on its embedded defaults (development server)."""
    overrides = {}
    if port and "DATACAGE_PUBLIC_URL" not in os.environ:
        # The client_id and redirect URIs must name the port we actually listen on.
        overrides["PUBLIC_URL"] = f"http://localhost:{port}/"
    app = create_app(overrides)
    port = port or urlsplit(app.config["PUBLIC_URL"]).port or 5000
    click.echo(f"Datacage control plane on http://{host}:{port}/ (Ctrl-C to stop)")
    # Werkzeug's server directly: Flask ignores app.run() inside its own CLI.
    run_simple(host, port, app, threaded=True)
