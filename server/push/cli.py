"""`datacage push`: a data provider's commands (no Flask app, no control-plane configuration).

    datacage push connectors                     which storage kinds work here
    datacage push evidence  --space ...          fetch and verify the datacage's evidence only
    datacage push dataset FILE --space ... --name ... --format csv --schema cols.json \\
        --policy trust.toml --connector s3 -o bucket=B -o key=K

The provider signs in with client credentials of its own WebID (it must hold the data
provider role in the space); cloud credentials come from the connector options or the SDK's
usual places (environment, profile) and never leave this machine.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

_IDENTITY = [
    click.option(
        "--control-plane", envvar="DATACAGE_CONTROL_PLANE", required=True, help="Its public URL."
    ),
    click.option("--space", "space_id", required=True, help="The space's id (or its URL)."),
    click.option(
        "--issuer", envvar="DATACAGE_PUSH_ISSUER", required=True, help="Your identity provider."
    ),
    click.option("--client-id", envvar="DATACAGE_PUSH_CLIENT_ID", required=True, help="Client id."),
    click.option(
        "--client-secret-file",
        envvar="DATACAGE_PUSH_CLIENT_SECRET_FILE",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="File holding the client secret (0600).",
    ),
    click.option(
        "--policy",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Your trust policy (TOML or JSON, as for `datacage admission`): approved code and "
        "bundles, and the SEV-SNP/TDX measurements, TCB and collateral ([sev-snp], [tdx]).",
    ),
]


def _identity_options(command):
    for option in reversed(_IDENTITY):
        command = option(command)
    return command


@click.group("push")
def push() -> None:
    """Push an organisation's dataset, encrypted to the attested datacage (docs/push.md)."""


@push.command("connectors")
def connectors_command() -> None:
    """List the storage connectors and whether each works on this machine."""
    from connectors.registry import connector_types

    for name, cls in connector_types().items():
        reason = cls.disabled_reason()
        state = "ready" if reason is None else f"off: {reason}"
        schema = cls.configuration_schema()
        options = ", ".join(
            f"{key}{'*' if key in schema.get('required', ()) else ''}"
            for key in schema["properties"]
        )
        click.echo(f"{name:12} {cls.title} ({state})\n{'':12} options: {options}")


@push.command("evidence")
@_identity_options
def evidence_command(**options: Any) -> None:
    """Fetch the datacage's evidence for the space and check it; encrypt nothing."""
    from .provider import fetch_target

    session, policy, space_id = _sign_in(options)
    target, _ = _run(
        lambda: fetch_target(session, options["control_plane"], space_id, policy, datetime.now(UTC))
    )
    _describe(target)


@push.command("dataset")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_identity_options
@click.option("--name", required=True, help="The dataset's name in the space.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "turtle", "jsonld"]),
    required=True,
    help="The file's format.",
)
@click.option(
    "--schema",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Tables: a JSON file {"columns": [{"name": ..., "type": ...}]}.',
)
@click.option("--connector", "connector_type", required=True, help="s3, azure-blob or file.")
@click.option("-o", "--option", "settings", multiple=True, help="A connector option, key=value.")
@click.option(
    "--grant-days",
    type=click.IntRange(1, 7),
    default=7,
    show_default=True,
    help="How long the datacage's read-only grant lasts.",
)
def dataset_command(
    file: Path,
    fmt: str,
    schema: Path | None,
    connector_type: str,
    settings: tuple[str, ...],
    grant_days: int,
    name: str,
    **options: Any,
) -> None:
    """Encrypt FILE to the attested datacage, upload it and register it with the space."""
    from connectors import registry

    from . import provider
    from .service import check_schema

    declared = _read_schema(schema, fmt, check_schema)
    connector = _run(lambda: registry.get(connector_type)(_settings(settings)))
    session, policy, space_id = _sign_in(options)
    request = provider.PushRequest(
        control_plane=options["control_plane"],
        space_id=space_id,
        name=name,
        source=file,
        format=fmt,
        schema=declared,
        connector=connector,
        grant_lifetime=timedelta(days=grant_days),
    )
    result = _run(
        lambda: provider.push_dataset(session, request, policy, datetime.now(UTC), _progress_bar)
    )
    _describe(result.target)
    record = result.registered
    click.echo(
        f"Pushed {name!r} ({result.plaintext_size:,} bytes, {record['size']:,} encrypted) to "
        f"{record['location']}; registered as {record['id']} in the space."
    )


def _progress_bar(label: str, total: int):
    bar = click.progressbar(length=total, label=label, file=sys.stderr)
    bar.__enter__()
    return bar.update, lambda: bar.__exit__(None, None, None)


def _describe(target) -> None:
    verified = target.verified
    kind = "hardware" if verified.hardware_backed else "SOFTWARE STAND-IN (proves nothing)"
    click.echo(
        f"Evidence verified: {verified.provider} ({kind}), code "
        f"{verified.measurement.datacage_code[:23]}..., bundle "
        f"{verified.measurement.bundle_digest[:23]}..., key {verified.public_key_sha256[:16]}..."
    )
    fleet = target.fleet
    if fleet is not None:
        click.echo(
            f"Fleet key {fleet.key_sha256[:16]}... of the fleet {fleet.fleet}, released by "
            f"{fleet.service} ({fleet.notice}); the dataset is sealed to it."
        )


def _sign_in(options: dict[str, Any]):
    from connectors.solid import SolidSession
    from connectors.solid.errors import SolidError

    from ..attestation.admission import PolicyError, load_policy

    try:
        policy = load_policy(options["policy"])
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    secret = options["client_secret_file"].read_text().strip()
    try:
        session = SolidSession.from_client_credentials(
            options["issuer"], options["client_id"], secret
        )
    except SolidError as exc:
        raise click.ClickException(
            f"Signing in with your client credentials failed: {exc}"
        ) from None
    space_id = options["space_id"].rstrip("/").rsplit("/", 1)[-1]
    return session, policy, space_id


def _settings(pairs: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value.", param_hint="-o")
        found[key.strip()] = value
    return found


def _read_schema(path: Path | None, fmt: str, check):
    if path is None and fmt in ("csv", "parquet"):
        raise click.BadParameter("a table needs --schema (a JSON file of its columns).")
    try:
        value = json.loads(path.read_text()) if path else None
        return check(fmt, value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--schema") from None


def _run(action):
    """Run `action`; a push or connector error becomes one plain line, not a traceback."""
    from connectors.base import ConnectorError

    from .errors import PushError

    try:
        return action()
    except (PushError, ConnectorError) as exc:
        raise click.ClickException(str(exc)) from None
