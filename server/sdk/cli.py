"""``datacage sdk``: build a bundle and run it on samples, in the datacage's sandbox and gate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from server.algorithms import BundleError, build_bundle, read_bundle
from server.datacage.sandbox import SandboxLimits
from server.sdk.local import SampleError, run_locally

_FOLDER = click.Path(exists=True, file_okay=False, path_type=Path)


@click.group("sdk")
def sdk() -> None:
    """The code provider's tools: build a bundle, run it locally on sample data."""


@sdk.command("build")
@click.argument("bundle_dir", type=_FOLDER)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def build(bundle_dir: Path, output: Path) -> None:
    """Build BUNDLE_DIR into a reproducible zip, check it like an upload, print its digest."""
    try:
        data = build_bundle(bundle_dir)
        bundle = read_bundle(data)
    except BundleError as error:
        raise click.ClickException(str(error)) from None
    output.write_bytes(data)
    click.echo(f"{output}: {len(data)} bytes, {len(bundle.files)} files")
    click.echo(f"digest={bundle.digest}")


@sdk.command("run")
@click.argument("bundle_dir", type=_FOLDER)
@click.option("--samples", type=_FOLDER, required=True, help="people/ and datasets/ (docs/sdk.md).")
@click.option("--param", "params", multiple=True, metavar="NAME=JSON", help="A parameter value.")
@click.option("--min-individuals", default=5, show_default=True, help="The space's smallest group.")
@click.option("--wall-seconds", default=120, show_default=True)
def run(
    bundle_dir: Path,
    samples: Path,
    params: tuple[str, ...],
    min_individuals: int,
    wall_seconds: int,
) -> None:
    """Run BUNDLE_DIR on the samples in the sandbox, gate the output, print the verdict."""
    try:
        local = run_locally(
            bundle_dir,
            samples,
            parameters=dict(_parameter(text) for text in params),
            min_individuals=min_individuals,
            limits=SandboxLimits(wall_seconds=wall_seconds),
        )
    except (BundleError, SampleError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"bundle {local.digest}")
    click.echo(f"sandbox: {local.sandbox.outcome.value} in {local.sandbox.duration_s:.2f} s")
    if local.sandbox.reason:
        click.echo(f"  {local.sandbox.reason}")
    if local.log:
        click.echo("log (in full: on people's data it stays in the datacage):")
        click.echo("".join(f"  {line}\n" for line in local.log.splitlines()), nl=False)
    if local.verdict is not None:
        click.echo(f"gate: {'passed' if local.verdict.passed else 'refused'}")
        for reason in local.verdict.reasons:
            click.echo(f"  {reason}")
    if local.result is not None:
        click.echo(local.result)
    click.echo(f"participants would see: {local.outcome.value} ({local.outcome.wording})")
    click.echo(f"verdict={'passed' if local.passed else 'refused'}")
    if not local.passed:
        raise SystemExit(1)


def _parameter(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r}: write NAME=VALUE", param_hint="--param")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value  # a bare string
