"""`datacage audit verify [--space ID]`: walk the audit chains; exit 1 naming the first entry
found edited, deleted or moved."""

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
def verify_command(spaces: tuple[str, ...]) -> None:
    """Check every entry's hash and link; exit 0 only if every chain is intact."""
    from ..services import services
    from .verify import ChainBroken, verify_space

    found = services()
    trail, registry = found.audit, found.registry()
    wanted = [s if "/" in s else found.spaces.store.iri_of(s) for s in spaces] or trail.spaces()
    broken = 0
    for space_iri in wanted:
        try:
            intact = verify_space(trail, registry, space_iri)
        except ChainBroken as exc:
            broken += 1
            click.echo(f"BROKEN {space_iri}\n  at {exc.entry}\n  {exc.reason}", err=True)
            continue
        click.echo(f"ok {space_iri}: {intact.entries} entries, head {intact.head_hash}")
    if broken:
        raise click.exceptions.Exit(1)
    click.echo(f"{len(wanted)} chain(s) intact.")
