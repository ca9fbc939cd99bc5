"""`datacage audit verify [--space ID]`: walk the audit chains; exit 1 naming the first entry
found edited, deleted or moved.

Beside `server/cli.py` rather than in `server/audit/`: it needs the application's services,
which are made from every package, the audit trail's included."""

from __future__ import annotations

import click
from flask.cli import AppGroup


@click.group(cls=AppGroup)
def audit() -> None:
    """The audit trail: one hash chain of events per space."""


@audit.command("verify")
@click.option(
    "--space",
    "spaces",
    multiple=True,
    help="A space's id or IRI (repeatable; default: every space with a trail).",
)
@click.option(
    "--expect",
    "noted",
    default=None,
    metavar="HASH",
    help="A head hash noted earlier (audit page, an earlier verify): it must still be in the "
    "chain. Needs exactly one --space.",
)
def verify_command(spaces: tuple[str, ...], noted: str | None) -> None:
    """Check every entry's hash and link; exit 0 only if every chain is intact."""
    from .audit.verify import ChainBroken, verify_space
    from .registry.base import RegistryUnavailable
    from .services import services

    found = services()
    try:
        trail, registry = found.audit, found.registry
    except RegistryUnavailable as exc:  # e.g. the embedded store held by a running server
        raise click.ClickException(str(exc)) from None
    if noted and len(spaces) != 1:
        raise click.UsageError("--expect checks one chain: give exactly one --space.")
    wanted = [s if "/" in s else found.spaces.store.iri_of(s) for s in spaces] or trail.spaces()
    broken = 0
    for space_iri in wanted:
        try:
            intact = verify_space(trail, registry, space_iri)
            if noted:
                at = intact.require_contains(noted)
                click.echo(f"the noted hash is entry {at} of {space_iri}")
        except ChainBroken as exc:
            broken += 1
            click.echo(f"BROKEN {space_iri}\n  at {exc.entry}\n  {exc.reason}", err=True)
            continue
        click.echo(f"ok {space_iri}: {intact.entries} entries, head {intact.head_hash}")
    if broken:
        raise click.exceptions.Exit(1)
    click.echo(f"{len(wanted)} chain(s) intact.")
