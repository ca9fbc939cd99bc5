"""`datacage verify-result`: check a delivered result's signature, key binding and evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from ..attestation import AttestationError, TrustPolicy
from ..attestation.cli import software_warning, trust_policy_options
from .errors import ResultVerificationError
from .verify import verify_result


@click.command("verify-result")
@click.argument("result", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_policy_options("Oldest acceptable evidence at the run's end, in seconds.")
def verify_result_command(result: Path, policy: TrustPolicy) -> None:
    """Check RESULT (a Turtle document from your pod) came, unchanged, from an attested datacage."""
    check_result(result.read_bytes(), policy)


def _transport(transport: str | None) -> str:
    if transport == "tls":
        return "TLS, with the datacage's RA-TLS certificate"
    if transport == "plain-http":
        return "PLAIN HTTP (a development setting: no TLS, no attestation check by pods)"
    return "not stated (a result from before datacages said so)"


def check_result(document: bytes, policy: TrustPolicy) -> None:
    """Print the verdict on a delivered result, exit 1 if refused (`datacage verify` too)."""
    try:
        verified = verify_result(document, policy=policy, now=datetime.now(UTC))
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
        f"  pods read over: {_transport(verified.pull_transport)}",
    ]
    click.echo("\n".join(lines + software_warning(evidence)))
