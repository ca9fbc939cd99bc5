"""`datacage key-service`: the fleet's key-release service (run apart from the control plane).

    datacage key-service init     --key-file F --fleet NAME       a new key file (0600)
    datacage key-service add-key  --key-file F --bundle sha256:.. a key for a bundle (rotation)
    datacage key-service retire   --key-file F KEY_ID             never release that key again
    datacage key-service show     --key-file F                    keys and the signing key
    datacage key-service serve    --key-file F --policy P [--host H --port N]

The key file is DATACAGE_KEY_SERVICE_KEY_FILE, the policy DATACAGE_KEY_SERVICE_POLICY
(docs/configuration.md). No Flask app of the control plane is made: this process has no access
to the control plane's registry and the control plane none to this file.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

_KEY_FILE = click.option(
    "--key-file",
    envvar="DATACAGE_KEY_SERVICE_KEY_FILE",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The key service's key file (0600): the fleet's private keys.",
)


@click.group("key-service")
def key_service() -> None:
    """The fleet's key service: fleet keys released only to attested workers."""


@key_service.command("init")
@_KEY_FILE
@click.option("--fleet", required=True, help="The fleet's name (letters, digits, - and _).")
def init_command(key_file: Path, fleet: str) -> None:
    """Make a new key file with a fresh statement-signing key."""
    from . import store

    made = _run(lambda: store.create(key_file, fleet))
    click.echo(f"Key file {key_file} made for the fleet {made.fleet} (0600).")
    click.echo("Give workers and data providers this statement-signing key:")
    click.echo(made.signing_public_pem(), nl=False)


@key_service.command("add-key")
@_KEY_FILE
@click.option("--bundle", required=True, help="The approved bundle's digest, sha256:<hex>.")
def add_key_command(key_file: Path, bundle: str) -> None:
    """Add a fleet key for a bundle; with one already there, this is a rotation."""
    from . import store

    keys = _run(lambda: store.load(key_file))
    pair = _run(lambda: keys.add_key(bundle, int(time.time())))
    older = len(keys.active(bundle)) - 1
    click.echo(
        f"Fleet key {pair.key_sha256} added for {bundle}"
        + (f"; {older} older key(s) still released until you retire them." if older else ".")
    )


@key_service.command("retire")
@_KEY_FILE
@click.argument("key_id")
def retire_command(key_file: Path, key_id: str) -> None:
    """Never release KEY_ID (a fleet key's id, or its start) again."""
    from . import store

    keys = _run(lambda: store.load(key_file))
    pair = _run(lambda: keys.retire(key_id, int(time.time())))
    click.echo(
        f"Fleet key {pair.key_sha256} retired: workers stop opening data sealed to it within "
        "a minute; its providers must push again."
    )


@key_service.command("show")
@_KEY_FILE
def show_command(key_file: Path) -> None:
    """List the fleet keys (public ids only) and print the statement-signing public key."""
    from . import store

    keys = _run(lambda: store.load(key_file))
    click.echo(f"Fleet {keys.fleet}: {len(keys.keys)} key(s).")
    for pair in keys.keys:
        state = "active" if pair.retired_at is None else f"retired at {pair.retired_at}"
        click.echo(f"{pair.key_sha256}  {pair.bundle_digest}  {state}")
    click.echo(keys.signing_public_pem(), nl=False)


@key_service.command("serve")
@_KEY_FILE
@click.option(
    "--policy",
    envvar="DATACAGE_KEY_SERVICE_POLICY",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The trust policy a worker's evidence must satisfy (as for `datacage admission`).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8300, show_default=True, help="Port to listen on.")
def serve_command(key_file: Path, policy: Path, host: str, port: int) -> None:
    """Serve release requests (software stand-in: a software check, keys in a file)."""
    from werkzeug.serving import make_server

    from ..attestation.admission import PolicyError, load_policy
    from ..logs import configure
    from . import store
    from .app import create_key_service_app
    from .release import SoftwareKeyService

    configure("text")
    keys = _run(lambda: store.load(key_file))
    try:
        trust = load_policy(policy)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    service = SoftwareKeyService(keys, trust)
    app = create_key_service_app(service, keys.signing_public_pem(), keys.fleet)
    server = make_server(host, port, app, threaded=True)
    click.echo(
        f"Key service of the fleet {keys.fleet} on http://{host}:{server.server_port}/ "
        "(SOFTWARE stand-in: keys in a file, release checked in software)"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _run(action):
    from .errors import KeyReleaseError

    try:
        return action()
    except KeyReleaseError as exc:
        raise click.ClickException(str(exc)) from None
