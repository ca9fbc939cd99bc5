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
from .raw import describe, detect_raw, verify_raw
from .serve import SERVERS, serve
from .trust import DEFAULT_MAX_AGE, TrustPolicy
from .verify import VerifiedEvidence, verify_evidence

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"

#: Checks a delivered result (its signature, then the evidence inside); exits 1 if refused.
ResultChecker = Callable[[bytes, TrustPolicy], None]
#: How `datacage verify` checks a document that is neither evidence nor a certificate.
#: Result checking builds on attestation (`server.provenance`), so the command line that
#: assembles both hands it in (`check_results_with`); attestation never imports provenance.
_result_checker: ResultChecker | None = None


def check_results_with(checker: ResultChecker) -> None:
    """Let `datacage verify` check delivered results too, with `checker`."""
    global _result_checker
    _result_checker = checker


def trust_policy_options(max_age_help: str) -> Callable[[Callable], Callable]:
    """The approvals a verifier holds evidence to, as options: `verify` and `verify-result`.

    The command receives them as one `policy` (a `TrustPolicy`), already checked: from
    `--policy FILE` (the TOML or JSON file `datacage admission` reads, with its `[sev-snp]` and
    `[tdx]` tables), or from `--code` and `--bundle` (and the software options) on the line.
    """

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_policy(
            *args, policy_file, codes, bundles, allow_software, software_keys, max_age, **kwargs
        ):
            if policy_file is not None:
                if codes or bundles or allow_software or software_keys:
                    raise click.UsageError(
                        "Give either --policy FILE or --code/--bundle (and the software options), "
                        "not both: the file is the whole policy."
                    )
                from .admission import PolicyError, load_policy

                try:
                    return command(*args, policy=load_policy(policy_file), **kwargs)
                except PolicyError as exc:
                    raise click.BadParameter(str(exc), param_hint="--policy") from None
            if not codes or not bundles:
                missing = "--code" if not codes else "--bundle"
                raise click.UsageError(f"Missing option '{missing}' (or give --policy FILE).")
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
                "--policy",
                "policy_file",
                default=None,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="A trust policy file (TOML or JSON, as for `datacage admission`).",
            ),
            click.option("--code", "codes", multiple=True, help="Approved code digest."),
            click.option("--bundle", "bundles", multiple=True, help="Approved bundle digest."),
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
@click.option(
    "--report-data",
    default=None,
    help="For a raw SEV-SNP report or TDX quote: the 64 bytes (128 hex) of REPORT_DATA it must "
    "carry (the enclave key's hash and your nonce).",
)
@click.option(
    "--vcek",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="For a raw SEV-SNP report: the VCEK or VLEK certificate (DER or PEM) that signed it.",
)
@click.option(
    "--at",
    "at",
    default=None,
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Check as of this UTC time instead of now (archived evidence and its collateral).",
)
def verify_command(
    evidence: Path,
    key_sha256: str | None,
    report_data: str | None,
    vcek: Path | None,
    at: datetime | None,
    policy: TrustPolicy,
) -> None:
    """Check EVIDENCE against approvals: evidence JSON, a PEM certificate carrying it, or a raw
    SEV-SNP report or TDX quote (with --report-data, and --vcek for SEV-SNP).

    A result delivered into your pod (a Turtle document) is checked too, as `verify-result`
    does: its signature, the key its evidence binds, and that evidence.
    """
    data = evidence.read_bytes()
    head = data.lstrip()
    now = at.replace(tzinfo=UTC) if at is not None else datetime.now(UTC)
    raw_kind = None if head.startswith((b"{", _PEM_CERT)) else detect_raw(data)
    if raw_kind is not None:
        _verify_raw(data, raw_kind, policy, report_data, vcek, now)
        return
    if not head.startswith((b"{", _PEM_CERT)):  # neither evidence nor a certificate: a result
        if _result_checker is None:
            raise click.UsageError(
                "This is neither evidence nor a certificate; check a delivered result with "
                "`datacage verify-result`."
            )
        _result_checker(data, policy)
        return
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


def _verify_raw(
    data: bytes,
    kind: str,
    policy: TrustPolicy,
    report_data: str | None,
    vcek: Path | None,
    now: datetime,
) -> None:
    if report_data is None:
        raise click.UsageError(
            "A raw report or quote needs --report-data: the 64 bytes (128 hex) it must carry."
        )
    try:
        expected = bytes.fromhex(report_data)
    except ValueError:
        raise click.BadParameter("not hex", param_hint="--report-data") from None
    try:
        verified = verify_raw(
            data,
            kind,
            policy=policy,
            report_data=expected,
            now=now,
            endorsement_key=vcek.read_bytes() if vcek is not None else None,
        )
    except AttestationError as exc:
        click.echo(f"REFUSED: {exc}")
        raise SystemExit(1) from None
    label = "SEV-SNP report" if kind == "sev-snp" else "TDX quote"
    lines = [f"ACCEPTED: the {label} verifies against the policy, as of {now:%Y-%m-%d %H:%M} UTC."]
    click.echo("\n".join([*lines, *describe(verified), f"  file sha256:   {_sha256(data)}"]))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verdict(verified: VerifiedEvidence, data: bytes) -> str:
    lines = [
        "ACCEPTED: the evidence verifies against the approvals given.",
        f"  provider:      {verified.provider}",
        f"  datacage code: {verified.measurement.datacage_code}",
        f"  bundle:        {verified.measurement.bundle_digest}",
        f"  issued at:     {verified.issued_at:%Y-%m-%d %H:%M:%S} UTC",
        f"  key sha256:    {verified.public_key_sha256}",
    ]
    lines += describe(verified.platform) if verified.platform is not None else []
    lines.append(f"  file sha256:   {_sha256(data)}")
    return "\n".join(lines + software_warning(verified))


@click.command("admission")
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=9180, show_default=True)
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default="werkzeug",
    show_default=True,
    help="The HTTP server: gunicorn's threaded worker costs less per request.",
)
def admission_command(config: str, host: str, port: int, server: str) -> None:
    """Serve the admission check that nginx's auth_request asks (pod provider side)."""
    from .admission import PolicyError, create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        app = create_app(Path(config))
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    said = f"Admission check on http://{host}:{port}/ ({server}) with the policy {config}"
    serve(app, host, port, server, ready=lambda: click.echo(said))


#: Registered by server/cli.py on the `datacage` group.
commands: list[click.Command] = [verify_command, admission_command]
