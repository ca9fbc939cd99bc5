"""The registry contract: named graphs with revisions, written by compare-and-swap.

Every record of the control plane (a space, later consents, runs and audit events) is one named
graph whose name is the record's IRI. A write replaces the whole graph, and only if the caller
read the revision that is still current: two people editing a space at once cannot silently
overwrite each other; the second one gets `RegistryConflict` and reads again.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from pyoxigraph import NamedNode
from rdflib import Graph, URIRef
from rdflib.term import Identifier

from vocab import DCG

if TYPE_CHECKING:
    from .counters import Counter

#: The bookkeeping predicates the registry keeps on each graph's name, inside the graph.
BOOKKEEPING = frozenset({DCG.revision, DCG.writeToken})

# Characters that cannot appear in a SPARQL IRIREF (SPARQL 1.1 §19.8 rule [139]), plus all
# control characters and the space: a name holding one could end the `<...>` early.
_ILLEGAL_IN_IRIREF = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f-\x9f]')
_MAX_NAME_LENGTH = 2000


class RegistryError(Exception):
    """Something the registry refused or could not do; the message is safe to show a user."""


class RegistryConflict(RegistryError):
    """The expected revision did not match: someone else wrote first. Read again and retry."""


class RegistryUnavailable(RegistryError):
    """The store cannot be reached or failed; retrying later may help."""


@dataclass(frozen=True)
class StoredGraph:
    """One named graph as stored: its content without the bookkeeping triples, and its revision."""

    name: str
    graph: Graph
    revision: int


Row = dict[str, Identifier]
Bindings = Mapping[str, Identifier]


class Registry(ABC):
    """Named graphs with optimistic concurrency; see `docs/registry.md`.

    Implementations are safe to share between threads.
    """

    #: Whether one value of a SELECT answer is limited in size: a SPARQL store's JSON results
    #: are parsed by pyoxigraph, which refuses a value past 16 MiB; the embedded store hands
    #: its terms over as they are.
    limits_values: bool = False

    @abstractmethod
    def read(self, name: str) -> StoredGraph | None:
        """The graph called `name` with its revision, or None if it does not exist."""

    @abstractmethod
    def revision(self, name: str) -> int:
        """The current revision of `name` (0 if absent): a cheap check of a cached copy."""

    @abstractmethod
    def write(self, name: str, graph: Graph, *, expected_revision: int) -> int:
        """Atomically replace the graph's content with `graph` if its revision is still
        `expected_revision` (0: it must not exist yet); return the new revision.

        Raises `RegistryConflict` otherwise, leaving the stored graph untouched.
        """

    @abstractmethod
    def delete(self, name: str, *, expected_revision: int) -> None:
        """Remove the graph if its revision is still `expected_revision`.

        Raises `RegistryConflict` otherwise (also when the graph no longer exists).
        """

    @abstractmethod
    def select(self, query: str, bindings: Bindings | None = None) -> list[Row]:
        """Run a SPARQL SELECT over the whole dataset (use `GRAPH ?g` patterns).

        `bindings` give variables their values without pasting text into the query. Rows map
        variable names to rdflib terms; unbound variables are absent. The prefixes of
        `vocab.NAMESPACES` (dcg:, rdf:, dcterms:, ...) are predeclared. Blank nodes of stored
        graphs appear as their skolem IRIs (see `docs/registry.md`).
        """

    def select_text(self, query: str, bindings: Bindings | None = None) -> list[dict[str, str]]:
        """`select`, with each value as its lexical form (an IRI's or a literal's text).

        For pages that read many numbers, days and codes: building an rdflib term per value
        costs more than the query itself. Back ends skip the rdflib terms; this default only
        converts `select`'s."""
        return [{k: str(v) for k, v in row.items()} for row in self.select(query, bindings)]

    @abstractmethod
    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        """Run a SPARQL ASK over the whole dataset, with `bindings` as for `select`."""

    @abstractmethod
    def close(self) -> None:
        """Release the store (an embedded store's lock is freed); the registry is unusable after."""

    #: Whether the store's own SPARQL arithmetic sums the counters (`counters.split`); a store
    #: that gets it wrong has them summed by the server, from the counters it reads.
    sums_counters: bool = True

    @property
    def counts_with_record(self) -> bool:
        """Whether `write_counted` changes the record and its counters in one update, both or
        neither, even when it fails (a back end with the default two-step one does not)."""
        return type(self).write_counted is not Registry.write_counted

    def execute_update(self, update: str) -> None:
        """Run one SPARQL 1.1 update as one transaction (the server's own text, never a user's).

        Back ends that can run updates override this; counters need it (`counters`).
        """
        raise RegistryError(f"{type(self).__name__} cannot run SPARQL updates, so keeps no tally.")

    def write_counted(
        self,
        name: str,
        graph: Graph,
        *,
        expected_revision: int,
        deltas: Mapping[Counter, int],
    ) -> int:
        """`write`, and add `deltas` to their counters (see `server.registry.counters`).

        The embedded and SPARQL back ends do both in one update: both happen or neither. This
        default does them one after the other, so a crash in between leaves the counters
        behind the records until a recount (`counters.replace`) repairs them.
        """
        from .counters import increments

        operations = increments(deltas)
        if operations and type(self).execute_update is Registry.execute_update:
            # Refused before the record is written: nothing is left half done.
            raise RegistryError(
                f"{type(self).__name__} cannot run SPARQL updates, so cannot keep counters."
            )
        revision = self.write(name, graph, expected_revision=expected_revision)
        if operations:
            self.execute_update(" ;\n".join(operations))
        return revision

    def names(self, of_type: URIRef | None = None) -> list[str]:
        """The stored graph names, sorted; with `of_type`, those stating `<name> a of_type`."""
        typed = " ?g a ?type ." if of_type is not None else ""
        query = (
            "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?g dcg:revision ?revision ."
            + typed
            + " } } ORDER BY ?g"
        )
        rows = self.select(query, {"type": of_type} if of_type is not None else None)
        return [str(row["g"]) for row in rows]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def check_name(name: object) -> str:
    """Return `name` if it can name a registry graph, else raise `RegistryError`.

    Names are pasted into SPARQL as `<name>`, so this is the injection guard for them: only
    absolute http(s) IRIs without characters that could close the IRIREF, and without user
    info (a name must never carry credentials into logs or messages).
    """
    if not isinstance(name, str) or not name:
        raise RegistryError("A registry graph name must be a non-empty string.")
    if len(name) > _MAX_NAME_LENGTH or _ILLEGAL_IN_IRIREF.search(name):
        raise RegistryError('A registry graph name must be an IRI without spaces or <>"{}|^`\\.')
    try:
        parts = urlsplit(name)
        NamedNode(name)  # the full RFC 3987 check, as the store itself will make it
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistryError("A registry graph name must be an absolute http(s) IRI.")
    if "@" in parts.netloc:
        raise RegistryError("A registry graph name must not contain user information.")
    return name


def check_revision(expected_revision: object, *, allow_zero: bool) -> int:
    """Return `expected_revision` if it is a usable revision number, else raise `RegistryError`."""
    lowest = 0 if allow_zero else 1
    if type(expected_revision) is not int or expected_revision < lowest:
        raise RegistryError(f"An expected revision must be an integer >= {lowest}.")
    return expected_revision


def conflict(name: str, expected_revision: int) -> RegistryConflict:
    """The error for a lost compare-and-swap, worded for the person who tried to save."""
    if expected_revision == 0:
        return RegistryConflict(f"{name} already exists; someone else created it first.")
    return RegistryConflict(
        f"{name} was changed or deleted by someone else since revision {expected_revision}; "
        "reload it and try again."
    )
