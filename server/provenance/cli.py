"""`datacage verify-result`: check a delivered result's signature, key binding and evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ..attestation import AttestationError, TrustPolicy
from ..attestation.verify import DEFAULT_MAX_AGE
from .errors import ResultVerificationError
from .verify import verify_result


@click.command("verify-result")
@click.argument("result", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code", "codes", multiple=True, required=True, help="Approved code digest.")
@click.option("--bundle", "bundles", multiple=True, required=True, help="Approved bundle digest.")
@click.option(
    "--allow-software",
    is_flag=True,
    help="Accept the software stand-in (it proves nothing about hardware).",
)
@click.option(
    "--software-key",
    "software_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A trusted software stand-in public key (PEM file).",
)
@click.option(
    "--max-age",
    type=int,
    default=int(DEFAULT_MAX_AGE.total_seconds()),
    show_default=True,
    help="Oldest acceptable evidence at the run's end, in seconds.",
)
def verify_result_command(
    result: Path,
    codes: tuple[str, ...],
    bundles: tuple[str, ...],
    allow_software: bool,
    software_keys: tuple[Path, ...],
    max_age: int,
) -> None:
    """Check RESULT (a Turtle document from your pod) came, unchanged, from an attested datacage."""
    try:
        policy = TrustPolicy(
            frozenset(codes),
            frozenset(bundles),
            allow_software=allow_software,
            software_keys=tuple(path.read_text() for path in software_keys),
            max_age=timedelta(seconds=max_age),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        verified = verify_result(result.read_bytes(), policy=policy, now=datetime.now(UTC))
    except (ResultVerificationError, AttestationError) as exc:
        click.echo(f"REFUSED: {exc}")
        raise SystemExit(1) from None
    evidence = verified.evidence
    lines = [
        "ACCEPTED: signed by the attested datacage's enclave key, unchanged since.",
        f"  run:           {verified.run}",
        f"  space:         {verified.space}",
        f"  ended at:      {verified.ended_at:%Y-%m-%d %H:%M:%S} UTC",
        f"  algorithm:     {verified.algorithm_digest}",
        f"  datacage code: {evidence.measurement.datacage_code}",
        f"  provider:      {evidence.provider}",
        f"  consents used: {len(verified.consents)}",
    ]
    if not evidence.hardware_backed:
        lines.append(
            "  WARNING: software stand-in evidence. It proves nothing about hardware, memory "
            "encryption or the code that really runs."
        )
    click.echo("\n".join(lines))
