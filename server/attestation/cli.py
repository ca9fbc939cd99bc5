"""`datacage verify` and `datacage admission`: attestation checks from the command line.

These are plain click commands listed in `commands`; server/cli.py registers them on the
`datacage` group, so they need no Flask app context.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from .errors import AttestationError
from .ratls import verify_peer_certificate
from .verify import DEFAULT_MAX_AGE, TrustPolicy, VerifiedEvidence, verify_evidence

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


def trust_policy_options(max_age_help: str) -> Callable[[Callable], Callable]:
    """The approvals a verifier holds evidence to, as options: `verify` and `verify-result`.

    The command receives them as one `policy` (a `TrustPolicy`), already checked.
    """

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_policy(*args, codes, bundles, allow_software, software_keys, max_age, **kwargs):
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
            return command(*args, policy=policy, **kwargs)

        options = [
            click.option(
                "--code", "codes", multiple=True, required=True, help="Approved code digest."
            ),
            click.option(
                "--bundle", "bundles", multiple=True, required=True, help="Approved bundle digest."
            ),
            click.option(
                "--allow-software",
                is_flag=True,
                help="Accept the software stand-in (it proves nothing about hardware).",
            ),
            click.option(
                "--software-key",
                "software_keys",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="A trusted software stand-in public key (PEM file).",
            ),
            click.option(
                "--max-age",
                type=int,
                default=int(DEFAULT_MAX_AGE.total_seconds()),
                show_default=True,
                help=max_age_help,
            ),
        ]
        for option in reversed(options):
            with_policy = option(with_policy)
        return with_policy

    return decorate


def software_warning(verified: VerifiedEvidence) -> list[str]:
    """The line every verdict on software stand-in evidence ends with."""
    if verified.hardware_backed:
        return []
    return [
        "  WARNING: software stand-in evidence. It proves nothing about hardware, memory "
        "encryption or the code that really runs."
    ]


@click.command("verify")
@click.argument("evidence", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_policy_options("Oldest acceptable evidence, in seconds.")
@click.option(
    "--key-sha256",
    default=None,
    help="For raw evidence: SHA-256 (hex) of the enclave public key it must be bound to.",
)
def verify_command(evidence: Path, key_sha256: str | None, policy: TrustPolicy) -> None:
    """Check EVIDENCE (a JSON file, or a PEM certificate carrying it) against approvals.

    A result delivered into your pod (a Turtle document) is checked too, as `verify-result`
    does: its signature, the key its evidence binds, and that evidence.
    """
    data = evidence.read_bytes()
    head = data.lstrip()
    if not head.startswith((b"{", _PEM_CERT)):  # neither evidence nor a certificate: a result
        from ..provenance.cli import check_result  # provenance builds on attestation, not back

        check_result(data, policy)
        return
    now = datetime.now(UTC)
    try:
        if data.lstrip().startswith(_PEM_CERT):
            verified = verify_peer_certificate(data, policy, now)
        else:
            if key_sha256 is None:
                raise click.UsageError(
                    "Raw evidence needs --key-sha256: the hash of the key it must be bound to "
                    "(a certificate carries its key, so it needs none)."
                )
            verified = verify_evidence(
                data, public_key_sha256=key_sha256.lower(), policy=policy, now=now
            )
    except AttestationError as exc:
        click.echo(f"REFUSED: {exc}")
        raise SystemExit(1) from None
    click.echo(_verdict(verified, data))


def _verdict(verified: VerifiedEvidence, data: bytes) -> str:
    lines = [
        "ACCEPTED: the evidence verifies against the approvals given.",
        f"  provider:      {verified.provider}",
        f"  datacage code: {verified.measurement.datacage_code}",
        f"  bundle:        {verified.measurement.bundle_digest}",
        f"  issued at:     {verified.issued_at:%Y-%m-%d %H:%M:%S} UTC",
        f"  key sha256:    {verified.public_key_sha256}",
        f"  file sha256:   {hashlib.sha256(data).hexdigest()}",
    ]
    return "\n".join(lines + software_warning(verified))


@click.command("admission")
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=9180, show_default=True)
def admission_command(config: str, host: str, port: int) -> None:
    """Serve the admission check that nginx's auth_request asks (pod provider side)."""
    from werkzeug.serving import make_server

    from .admission import PolicyError, create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        app = create_app(Path(config))
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    server = make_server(host, port, app, threaded=True)
    click.echo(f"Admission check on http://{host}:{port}/ with the policy {config}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


#: Registered by server/cli.py on the `datacage` group.
commands: list[click.Command] = [verify_command, admission_command]
