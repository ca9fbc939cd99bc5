"""The `datacage` command line: the control plane's Flask commands plus the product's own."""

from __future__ import annotations

import importlib
import os
from typing import Any
from urllib.parse import urlsplit

import click
from flask import Flask
from flask.cli import FlaskGroup
from werkzeug.serving import run_simple

from . import config, create_app
from .sdk.cli import sdk as sdk_commands


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
@click.option(
    "--production", is_flag=True, help="Serve with gunicorn instead of the development server."
)
@click.option("--workers", type=int, default=1, show_default=True, help="gunicorn processes.")
@click.option("--threads", type=int, default=8, show_default=True, help="Threads per process.")
def serve(host: str, port: int | None, production: bool, workers: int, threads: int) -> None:
    """Run the control plane on its embedded defaults (development server, or gunicorn)."""
    overrides = {}
    if port and "DATACAGE_PUBLIC_URL" not in os.environ:
        # The client_id and redirect URIs must name the port we actually listen on.
        overrides["PUBLIC_URL"] = f"http://localhost:{port}/"
    app = _create_app(overrides)
    port = port or urlsplit(app.config["PUBLIC_URL"]).port or 5000
    click.echo(f"Datacage control plane on http://{host}:{port}/ (Ctrl-C to stop)")
    if production:
        from .production import serve as serve_with_gunicorn

        try:
            serve_with_gunicorn(app, bind=f"{host}:{port}", workers=workers, threads=threads)
        except config.ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        return
    # Werkzeug's server directly: Flask ignores app.run() inside its own CLI.
    run_simple(host, port, app, threaded=True)


@main.command("config-reference", with_appcontext=False)
def config_reference() -> None:
    """Print the configuration reference (Markdown) generated from the declared options."""
    click.echo(config.reference_markdown(), nl=False)


@main.group()
def consents() -> None:
    """Individuals' consents."""


@consents.command("expire")
def expire_consents_command() -> None:
    """Record consents past their end as expired, and take their grants back where a kept
    refresh token allows (recurring spaces). Safe to run often, e.g. from a timer."""
    from datetime import UTC, datetime

    from .consent.expiry import expire_consents
    from .errors import Unavailable
    from .services import services

    found = services()
    try:
        report = expire_consents(found.consents, found.vault, found.http, lambda: datetime.now(UTC))
    except Unavailable as exc:  # e.g. the embedded store held by a running server
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{len(report.expired)} consent(s) expired; grants removed from {len(report.cleaned)} "
        f"pod(s); {len(report.left)} left for their owners to remove from My data."
    )


@main.command(with_appcontext=False)
# Each flag overrides its DATACAGE_* variable, declared with the rest of the configuration in
# server/config.py (docs/configuration.md): one place says what the worker reads.
@click.option("--control-plane", default=None, help=config.setting_help("CONTROL_PLANE"))
@click.option("--issuer", default=None, help=config.setting_help("ISSUER"))
@click.option("--client-id", default=None, help=config.setting_help("CLIENT_ID"))
@click.option("--client-secret-file", default=None, help=config.setting_help("CLIENT_SECRET_FILE"))
@click.option("--data-dir", default=None, help=config.setting_help("WORKER_DIR"))
@click.option("--pod-ca", default=None, help=config.setting_help("POD_CA"))
@click.option(
    "--pod-gateway",
    "pod_gateways",
    multiple=True,
    metavar="ORIGIN=HOST:PORT",
    help=config.setting_help("POD_GATEWAY"),
)
@click.option(
    "--allow-plain-http-pods",
    is_flag=True,
    default=None,
    help=config.setting_help("ALLOW_PLAIN_HTTP_PODS"),
)
@click.option("--once", is_flag=True, help="Run at most one waiting job, then stop.")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between looks for work.")
@click.option("--broker", default=None, help=config.setting_help("FLEET_BROKER_URL"))
@click.option("--delivery-dir", default=None, help=config.setting_help("DELIVERY_DIR"))
@click.option("--delivery-key-file", default=None, help=config.setting_help("DELIVERY_KEY_FILE"))
def worker(
    control_plane: str | None,
    issuer: str | None,
    client_id: str | None,
    client_secret_file: str | None,
    data_dir: str | None,
    pod_ca: str | None,
    pod_gateways: tuple[str, ...],
    allow_plain_http_pods: bool | None,
    once: bool,
    poll: float,
    broker: str | None,
    delivery_dir: str | None,
    delivery_key_file: str | None,
) -> None:
    """Run the datacage: take jobs from the control plane and carry them out.

    Every setting is a DATACAGE_* variable (docs/configuration.md); a flag overrides it.
    """
    import logging
    import signal
    import threading
    from pathlib import Path

    from connectors.solid.connect_to import parse_route

    from .attestation.tsm import AttesterError, configured_provider
    from .config import ConfigError, worker_settings
    from .config import pod_gateways as routes_of
    from .datacage.job import JobSettings
    from .datacage.pull import PullLimits
    from .datacage.worker import Identity, Worker
    from .logs import configure

    flags = {
        "CONTROL_PLANE": control_plane,
        "ISSUER": issuer,
        "CLIENT_ID": client_id,
        "CLIENT_SECRET_FILE": client_secret_file,
        "WORKER_DIR": data_dir,
        "POD_CA": pod_ca,
        "POD_GATEWAY": " ".join(pod_gateways) or None,
        "ALLOW_PLAIN_HTTP_PODS": allow_plain_http_pods,
        "FLEET_BROKER_URL": broker,
        "DELIVERY_DIR": delivery_dir,
        "DELIVERY_KEY_FILE": delivery_key_file,
    }
    try:  # a malformed setting stops the worker here, naming it, not every run later
        settings = worker_settings(os.environ, flags)
        pull_limits = PullLimits.from_config(settings)  # DATACAGE_PULL_*
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    routes = dict(parse_route(text) for text in routes_of(settings))
    configure(settings["WORKER_LOG_FORMAT"])
    allow_plain_http_pods = settings["ALLOW_PLAIN_HTTP_PODS"]
    if allow_plain_http_pods:
        logging.getLogger("server.datacage").warning(
            "pods served over plain http will be read: a development setting, said in each run"
        )
    root = Path(settings["WORKER_DIR"])
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = Path(settings["CLIENT_SECRET_FILE"]).read_text().strip()
    delivery_dir, delivery_key_file = settings["DELIVERY_DIR"], settings["DELIVERY_KEY_FILE"]
    broker = settings["FLEET_BROKER_URL"] or None
    try:
        provider = configured_provider(settings["ATTESTATION_PROVIDER"], root / "attestation")
    except AttesterError as exc:
        raise click.ClickException(f"DATACAGE_ATTESTATION_PROVIDER: {exc}") from None
    from connectors.solid.errors import SolidError

    from .datacage.control_plane import ControlPlaneError

    try:  # signing in happens here: a refused secret is one line, not a traceback
        cage = Worker(
            settings["CONTROL_PLANE"],
            Identity(settings["ISSUER"], settings["CLIENT_ID"], secret),
            provider,
            JobSettings(
                work_root=root / "work",
                results_dir=root / "results",
                pull=pull_limits,
                allow_plain_http_pods=allow_plain_http_pods,
                delivery_root=Path(delivery_dir) if delivery_dir else None,
            ),
            pod_ca=settings["POD_CA"],
            pod_routes=routes,
            delivery_key_file=Path(delivery_key_file) if delivery_key_file else None,
            key_service=_key_service(settings),
        )
    except (ControlPlaneError, SolidError) as exc:
        raise click.ClickException(str(exc)) from None
    if once:
        try:
            report = cage.run_once()
        except (ControlPlaneError, SolidError) as exc:  # the loop below logs these and retries
            raise click.ClickException(str(exc)) from None
        click.echo(
            "No run was waiting."
            if report is None
            else f"Run {'succeeded' if report.succeeded else 'did not succeed'}."
        )
        return
    if broker:
        from .fleet.app import FleetSettings
        from .fleet.worker_process import serve_fleet

        serve_fleet(cage, FleetSettings(broker, **config.fleet_periods(settings)), root)
        return
    from .datacage.schedule import single_machine_timer

    # Recurring runs and consent expiry, on the periods a beat would send them.
    timer = single_machine_timer(
        settings["FLEET_RECURRING_EVERY_S"], settings["FLEET_EXPIRE_EVERY_S"]
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        cage.serve(stop, poll, heartbeat=root / "heartbeat", schedule=timer)
    except KeyboardInterrupt:
        stop.set()


@main.command("fleet-beat", with_appcontext=False)
@click.option("--broker", default=None, help=config.setting_help("FLEET_BROKER_URL"))
@click.option("--schedule-file", default=None, help=config.setting_help("BEAT_SCHEDULE"))
def fleet_beat(broker: str | None, schedule_file: str | None) -> None:
    """Send a datacage fleet's periodic tasks: offer waiting runs, retry due deliveries,
    start due recurring runs, sweep expired consents."""
    from .fleet.app import FleetSettings
    from .fleet.worker_process import serve_beat

    try:  # the declared settings (or old names, with a warning), checked as the worker's are
        settings = {**config.DEFAULTS, **config.from_environment(os.environ)}
        config.check(settings)
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    broker = broker or settings["FLEET_BROKER_URL"]
    if not broker:
        raise click.ClickException(
            "Set DATACAGE_FLEET_BROKER_URL (or --broker): the beat sends its tasks to that broker."
        )
    fleet = FleetSettings(broker, **config.fleet_periods(settings))
    serve_beat(fleet, schedule_file or settings["BEAT_SCHEDULE"])


def _key_service(settings: dict[str, Any]):
    """The fleet's key service the worker asks for fleet keys (DATACAGE_KEY_SERVICE_*), if any."""
    if not settings.get("KEY_SERVICE_URL"):
        return None
    from .datacage.fleet_keys import KeyServiceClient

    try:
        return KeyServiceClient.from_files(
            settings["KEY_SERVICE_URL"],
            settings["KEY_SERVICE_SIGNING_KEY"],
            settings.get("KEY_SERVICE_CA"),
        )
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"DATACAGE_KEY_SERVICE_SIGNING_KEY: {exc}") from None


def _register_attestation_commands() -> None:
    from .attestation.cli import check_results_with, commands
    from .provenance.cli import check_result

    check_results_with(check_result)  # `datacage verify` takes a delivered result too
    for command in commands:
        main.add_command(command)


_register_attestation_commands()
main.add_command(importlib.import_module("server.push.cli").push)  # `datacage push`, docs/push.md
main.add_command(importlib.import_module("server.keyrelease.cli").key_service)  # fleet keys
main.add_command(sdk_commands)  # `datacage sdk build|run`: the code provider's local tools
# `datacage verify-result`: a delivered result's signature, key binding and evidence.
main.add_command(importlib.import_module("server.provenance.cli").verify_result_command)
main.add_command(importlib.import_module("server.cli_audit").audit)  # `datacage audit verify`
main.add_command(importlib.import_module("server.demo.cli").demo)  # `datacage demo`, docs/demo.md
