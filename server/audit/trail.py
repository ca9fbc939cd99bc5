"""Appending to a space's audit chain under compare-and-swap, and reading it back.

One chain per space: every participant of a space may read its whole trail, and nothing of
another space's. Entry *n* is the registry graph `<space>/audit/<n>`; it is created with
`expected_revision=0`, so two appenders racing for the same position cannot both win: the
loser reads again and chains onto the winner. A small head graph (`<space>/audit`) remembers
the latest position and hash so an append does not scan the chain; it is a hint, never the
truth: an appender always walks forward past entries the head does not know yet (a crash
between the entry and the head write), and `verify` checks the head against the chain.

Appends happen right *after* the change they record has been saved (the registry has no
transactions across graphs). An action that failed is never logged; a crash in the moment
between the change and its append loses the entry (docs/audit.md says so).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from rdflib import Graph, Literal, URIRef

from vocab import DCG, RDF, XSD

from ..registry import Registry, RegistryConflict, RegistryError
from .entry import GENESIS, Entry, Event, entry_from_graph, entry_graph, entry_iri, head_iri

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20


class AuditTrail:
    """The registry's audit chains; safe to share between threads."""

    def __init__(
        self,
        registry: Callable[[], Registry],
        public_url: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._registry = registry
        self.public_url = public_url
        self.clock = clock

    # --- Writing --------------------------------------------------------------------------------

    def record(
        self,
        space_iri: str,
        action: str,
        agent: str | None,
        summary: str,
        *about: str,
        at: datetime | None = None,
    ) -> Entry | None:
        """Append an event of a change that has been saved; never raises.

        The change is done whatever happens here, so a failure to append is logged loudly
        (and leaves a gap that docs/audit.md describes) instead of being shown to the person
        as if their action had failed.
        """
        event = Event(
            action=action,
            agent=agent or self.public_url,  # no person acted: the control plane itself
            at=at or self.clock(),
            summary=summary,
            about=tuple(sorted({space_iri, *about})),
        )
        try:
            return self.append(space_iri, event)
        except RegistryError as exc:
            log.error(
                "audit entry not appended",
                extra={"space": space_iri, "action": action, "reason": str(exc)},
            )
            return None

    def append(self, space_iri: str, event: Event) -> Entry:
        registry = self._registry()
        for _ in range(MAX_ATTEMPTS):
            head = registry.read(head_iri(space_iri))
            sequence, previous = _position(head.graph if head else None, space_iri)
            # The head lags after a lost head write: walk past what it does not know (a
            # revision check first: cheaper than a read, and almost always 0).
            while registry.revision(entry_iri(space_iri, sequence)):
                ahead = registry.read(entry_iri(space_iri, sequence))
                if ahead is None:
                    continue  # deleted between the two calls: try this position again
                previous = entry_from_graph(ahead.name, ahead.graph).hash
                sequence += 1
            graph = entry_graph(space_iri, sequence, event, previous)
            try:
                registry.write(entry_iri(space_iri, sequence), graph, expected_revision=0)
            except RegistryConflict:
                continue  # another append took this position: chain onto it instead
            entry = entry_from_graph(entry_iri(space_iri, sequence), graph)
            # The entry is in; the head is only a hint (a later append or a lost write just
            # leaves it behind, and appenders walk past it), so its failure is no failure.
            with contextlib.suppress(RegistryError):
                registry.write(
                    head_iri(space_iri),
                    head_graph(space_iri, entry),
                    expected_revision=head.revision if head else 0,
                )
            return entry
        raise RegistryError(
            "The audit trail was too busy to take an entry; the change itself was saved."
        )

    # --- Reading --------------------------------------------------------------------------------

    def entries(self, space_iri: str) -> list[Entry]:
        """The space's chain as stored, in order of position (unchecked: see `verify`)."""
        registry = self._registry()
        found = []
        for name in self.entry_names(space_iri):
            stored = registry.read(name)
            if stored is not None:
                found.append(entry_from_graph(name, stored.graph))
        return found

    def entry_names(self, space_iri: str) -> list[str]:
        """Names of the space's stored entries, in order of the position their name gives."""
        prefix = head_iri(space_iri) + "/"
        names = [n for n in self._registry().names(DCG.AuditEvent) if n.startswith(prefix)]
        return sorted(names, key=lambda n: _position_of(n, prefix))

    def graphs(self, space_iri: str) -> list[tuple[str, Graph]]:
        """Each stored entry's graph by name, for queries and export."""
        registry = self._registry()
        out = []
        for name in self.entry_names(space_iri):
            stored = registry.read(name)
            if stored is not None:
                out.append((name, stored.graph))
        return out

    def head(self, space_iri: str) -> tuple[int, str] | None:
        """(latest sequence, its hash) as the head records it, or None for no chain."""
        stored = self._registry().read(head_iri(space_iri))
        if stored is None:
            return None
        sequence, previous = _position(stored.graph, space_iri)
        return sequence - 1, previous

    def spaces(self) -> list[str]:
        """Every space with a chain: a head, or entries whose head was lost."""
        registry = self._registry()
        heads = {n.removesuffix("/audit") for n in registry.names(DCG.AuditLog)}
        entries = {n.rsplit("/audit/", 1)[0] for n in registry.names(DCG.AuditEvent)}
        return sorted(heads | entries)


class NoAudit:
    """For services built without a trail (unit tests of other features): records nothing."""

    def record(self, *args: object, **kwargs: object) -> None:
        return None


def _position(head: Graph | None, space_iri: str) -> tuple[int, str]:
    """The next free position and the hash to chain to, as the head says."""
    if head is None:
        return 0, GENESIS
    name = URIRef(head_iri(space_iri))
    sequence = head.value(name, DCG.sequence)
    latest = head.value(name, DCG.eventHash)
    if sequence is None or latest is None:
        return 0, GENESIS  # a damaged head: walking forward from 0 finds the real end
    return int(sequence) + 1, str(latest)


def _position_of(name: str, prefix: str) -> int:
    tail = name[len(prefix) :]
    return int(tail) if tail.isdigit() else -1


def head_graph(space_iri: str, entry: Entry) -> Graph:
    graph = Graph()
    name = URIRef(head_iri(space_iri))
    graph.add((name, RDF.type, DCG.AuditLog))
    graph.add((name, DCG.space, URIRef(space_iri)))
    graph.add((name, DCG.sequence, Literal(entry.sequence, datatype=XSD.integer)))
    graph.add((name, DCG.eventHash, Literal(entry.hash)))
    return graph
