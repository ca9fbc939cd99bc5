"""The `datacage` command line: the control plane's Flask commands plus the product's own."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import click
from flask import Flask
from flask.cli import FlaskGroup
from werkzeug.serving import run_simple

from . import config, create_app


def _create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """`create_app` for the command line: a bad setting is a one-line message, not a traceback."""
    try:
        return create_app(overrides)
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
@click.version_option(package_name="datacage")
def main() -> None:
    """Datacage: a Solid data-vault collaboration server."""


@main.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: from DATACAGE_PUBLIC_URL).")
def serve(host: str, port: int | None) -> None:
    """Run the control plane on its embedded defaults (development server)."""
    overrides = {}
    if port and "DATACAGE_PUBLIC_URL" not in os.environ:
        # The client_id and redirect URIs must name the port we actually listen on.
        overrides["PUBLIC_URL"] = f"http://localhost:{port}/"
    app = _create_app(overrides)
    port = port or urlsplit(app.config["PUBLIC_URL"]).port or 5000
    click.echo(f"Datacage control plane on http://{host}:{port}/ (Ctrl-C to stop)")
    # Werkzeug's server directly: Flask ignores app.run() inside its own CLI.
    run_simple(host, port, app, threaded=True)


@main.command("config-reference", with_appcontext=False)
def config_reference() -> None:
    """Print the configuration reference (Markdown) generated from the declared options."""
    click.echo(config.reference_markdown(), nl=False)
