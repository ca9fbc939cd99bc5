"""The registry in an embedded pyoxigraph store: on disk (RocksDB) or in memory.

One process owns an on-disk store: RocksDB locks its directory. Within that process one lock
serialises each read-check-write, so threads (Flask serves requests from several) cannot
interleave between the revision check and the write. The write itself is a single SPARQL update,
which pyoxigraph applies as one transaction: it either fully happens or not at all.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import pyoxigraph as ox
from rdflib import Graph

from server.registry import terms
from server.registry.base import (
    Bindings,
    Registry,
    RegistryError,
    RegistryUnavailable,
    Row,
    StoredGraph,
    check_name,
    check_revision,
    conflict,
)
from server.registry.counters import Counter, increments
from vocab import DCG

log = logging.getLogger(__name__)

MEMORY = ":memory:"
T = TypeVar("T")


class EmbeddedRegistry(Registry):
    """A registry in this process: on disk at `path`, or in memory without one."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is not None and not str(path):
            # Path("") is the working directory: never open that by accident of configuration.
            raise RegistryError("The registry path is empty; give a directory or ':memory:'.")
        self.path = None if path is None or str(path) == MEMORY else Path(path)
        self._lock = threading.Lock()
        self._store: ox.Store | None = _open_store(self.path)

    def __repr__(self) -> str:
        where = str(self.path) if self.path else MEMORY
        return f"EmbeddedRegistry({where!r})"

    def read(self, name: str) -> StoredGraph | None:
        graph_name = ox.NamedNode(check_name(name))
        with self._lock:
            store = self._open()
            quads = self._guarded(
                lambda: list(store.quads_for_pattern(None, None, None, graph_name))
            )
        return terms.stored_graph(name, quads)

    def revision(self, name: str) -> int:
        check_name(name)
        with self._lock:
            return self._revision(name)

    def write(self, name: str, graph: Graph, *, expected_revision: int) -> int:
        return self.write_counted(name, graph, expected_revision=expected_revision, deltas={})

    def write_counted(
        self,
        name: str,
        graph: Graph,
        *,
        expected_revision: int,
        deltas: Mapping[Counter, int],
    ) -> int:
        check_name(name)
        expected = check_revision(expected_revision, allow_zero=True)
        lines = terms.insert_lines(
            name, graph, revision=expected + 1, token=secrets.token_urlsafe(16)
        )
        # DROP, INSERT DATA and the counters in one update: pyoxigraph runs an update as one
        # transaction, so the record and its counters change together or not at all.
        operations = [
            f"DROP SILENT GRAPH <{name}>",
            f"INSERT DATA {{ GRAPH <{name}> {{\n{lines}\n}} }}",
            *increments(deltas),
        ]
        update = " ;\n".join(operations)
        with self._lock:
            if self._revision(name) != expected:
                raise conflict(name, expected)
            self._execute_update(update)
        return expected + 1

    def delete(self, name: str, *, expected_revision: int) -> None:
        check_name(name)
        expected = check_revision(expected_revision, allow_zero=False)
        with self._lock:
            if self._revision(name) != expected:
                raise conflict(name, expected)
            self._execute_update(f"DROP SILENT GRAPH <{name}>")

    def execute_update(self, update: str) -> None:
        with self._lock:
            self._execute_update(update)

    def select(self, query: str, bindings: Bindings | None = None) -> list[Row]:
        return terms.select_rows(self._query(query, bindings))

    def select_text(self, query: str, bindings: Bindings | None = None) -> list[dict[str, str]]:
        return terms.text_rows(self._query(query, bindings))

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        return terms.ask_answer(self._query(query, bindings))

    def backup(self, target: str | os.PathLike[str]) -> None:
        """Copy an on-disk store, while it runs, into the new directory `target`.

        On the same file system RocksDB hard-links its immutable files, so this is cheap enough
        to run often. The copy opens like any registry directory.
        """
        if self.path is None:
            raise RegistryError("An in-memory registry cannot be backed up.")
        with self._lock:
            store = self._open()
            self._guarded(lambda: store.backup(str(target)))

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._guarded(self._store.flush)
            # pyoxigraph has no close(): dropping the last reference releases the RocksDB lock.
            self._store = None

    def _open(self) -> ox.Store:
        if self._store is None:
            raise RegistryError("The registry is closed.")
        return self._store

    def _revision(self, name: str) -> int:
        """The current revision of `name`, 0 if absent; call with the lock held."""
        store = self._open()
        node = ox.NamedNode(name)
        pattern = (node, ox.NamedNode(str(DCG.revision)), None, node)
        found = self._guarded(
            lambda: [quad.object.value for quad in store.quads_for_pattern(*pattern)]
        )
        if not found:
            return 0
        if len(found) > 1 or not found[0].isdigit():
            raise RegistryError(f"{name} is damaged: it has no single integer revision.")
        return int(found[0])

    def _execute_update(self, update: str) -> None:
        """Run one SPARQL update as one transaction; call with the lock held."""
        store = self._open()
        try:
            store.update(update)
        except (OSError, RuntimeError) as error:
            log.error("The embedded registry store failed an update: %s", error)
            raise RegistryUnavailable("The registry store failed; nothing was changed.") from None

    def _query(self, query: str, bindings: Bindings | None) -> object:
        text = terms.prepared_query(query, bindings)
        store = self._open()
        try:
            return store.query(text)
        except SyntaxError as error:
            raise RegistryError(f"The query is not valid SPARQL: {error}") from None
        except RuntimeError as error:  # pyoxigraph's word for a query it cannot evaluate
            raise RegistryError(f"The query cannot be evaluated: {error}") from None
        except OSError as error:
            log.error("The embedded registry store failed a query: %s", error)
            raise RegistryUnavailable("The registry store failed to answer a query.") from None

    @staticmethod
    def _guarded(action: Callable[[], T]) -> T:
        try:
            return action()
        except OSError as error:
            log.error("The embedded registry store failed: %s", error)
            raise RegistryUnavailable("The registry store failed.") from None


def _open_store(path: Path | None) -> ox.Store:
    if path is None:
        return ox.Store()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise RegistryUnavailable(
            f"Cannot create the registry directory {path}: {error.strerror}."
        ) from None
    try:
        return ox.Store(str(path))
    except OSError as error:
        if "lock" in str(error).lower():
            raise RegistryUnavailable(
                f"The registry store {path} is in use: another process (or another registry "
                "in this one) holds its lock. An "
                "embedded registry serves one process (e.g. gunicorn with one worker and "
                "threads); for several processes, use a SPARQL endpoint."
            ) from None
        log.error("Cannot open the registry store %s: %s", path, error)
        raise RegistryUnavailable(f"Cannot open the registry store {path}.") from None
