"""The registry contract, run against every backend: embedded in memory, embedded on disk, a
SPARQL registry on a real `oxigraph serve`, and a Virtuoso registry on a real `virtuoso-t`.
Backend-specific failures (locks, endpoints that are down, silent or failing) come after the
shared tests; Virtuoso's own attacks are in test_registry_virtuoso.py.
"""

# ruff: noqa: F811 - the shared `registry` fixture is a parameter of every test

from __future__ import annotations

import base64
import http.server
import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
from rdflib import RDF, XSD, BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from server.registry import (
    EmbeddedRegistry,
    Registry,
    RegistryConflict,
    RegistryError,
    RegistryUnavailable,
    open_registry,
)
from tests.support.oxigraph import OxigraphServer
from tests.support.registries import (  # noqa: F401 - fixtures by name
    ATOMIC_BACK_ENDS,
    oxigraph,
    registry,
)
from vocab import DCG, DCTERMS

# --- Fixtures ----------------------------------------------------------------------------------


def new_name(kind: str = "spaces") -> str:
    return f"https://datacage.test/{kind}/{uuid.uuid4().hex[:12]}"


def space(name: str, **values: object) -> Graph:
    """A small space graph: `<name> a dcg:CollaborationSpace` plus `dcg:<key> value` triples."""
    graph = Graph()
    node = URIRef(name)
    graph.add((node, RDF.type, DCG.CollaborationSpace))
    for key, value in values.items():
        term = value if isinstance(value, URIRef | Literal | BNode) else Literal(value)
        graph.add((node, DCG[key], term))
    return graph


# --- Reading and writing -----------------------------------------------------------------------


def test_round_trip_keeps_iris_literals_and_blank_nodes(registry: Registry) -> None:
    name = new_name()
    node, owner, shared = URIRef(name), BNode(), BNode()
    graph = space(name)
    graph.add((node, DCG.owner, owner))
    graph.add((owner, DCG.agent, URIRef("https://pod.test/alice/profile/card#me")))
    graph.add((owner, DCG.role, shared))
    graph.add((node, DCG.approval, shared))  # one blank node reached twice stays one node
    graph.add((shared, DCG.plainDescription, Literal('Léa\'s "data"\nline two', lang="fr-ca")))
    graph.add((node, DCG.parameters, Literal('{"k": [1, 2]}', datatype=RDF.JSON)))
    created = Literal("2025-03-01T12:30:00.250+01:00", datatype=XSD.dateTime)
    graph.add((node, DCTERMS.created, created))
    graph.add((node, DCG.retentionPeriod, Literal("P1Y2M3DT4H", datatype=XSD.duration)))
    graph.add((node, DCG.sequence, Literal(42)))
    graph.add((node, DCG.digest, Literal("sha256:ab")))
    graph.add((node, DCG.resourcePath, URIRef("https://pod.test/données/%20x?y=1")))

    assert registry.write(name, graph, expected_revision=0) == 1
    stored = registry.read(name)

    assert stored is not None
    assert (stored.name, stored.revision) == (name, 1)
    assert isomorphic(stored.graph, graph)
    assert (node, DCG.revision, None) not in stored.graph
    assert (node, DCG.writeToken, None) not in stored.graph


def test_blank_nodes_are_skolem_iris_in_queries(registry: Registry) -> None:
    name = new_name()
    graph = space(name, owner=BNode("owner1"))
    registry.write(name, graph, expected_revision=0)

    [row] = registry.select("SELECT ?o WHERE { GRAPH ?g { ?g dcg:owner ?o } }")

    assert isinstance(row["o"], URIRef)
    assert "/.well-known/genid/" in row["o"]
    assert registry.read(name).graph.value(URIRef(name), DCG.owner) == BNode("owner1")


def test_language_tags_and_xsd_string_read_back_normalised(registry: Registry) -> None:
    # RDF 1.1 allows both: tags compare case-insensitively, and plain literals are xsd:string.
    name = new_name()
    graph = space(
        name, purpose=Literal("Colour", lang="en-GB"), digest=Literal("a", datatype=XSD.string)
    )
    registry.write(name, graph, expected_revision=0)

    stored = registry.read(name).graph

    assert stored.value(URIRef(name), DCG.purpose).language == "en-gb"
    assert stored.value(URIRef(name), DCG.digest) == Literal("a")


def test_missing_graph_reads_as_none(registry: Registry) -> None:
    assert registry.read(new_name()) is None


def test_each_write_increments_the_revision(registry: Registry) -> None:
    name = new_name()
    assert registry.revision(name) == 0
    for expected in range(3):
        assert registry.write(name, space(name, sequence=expected), expected_revision=expected) == (
            expected + 1
        )

    stored = registry.read(name)
    assert stored.revision == 3
    assert registry.revision(name) == 3
    assert set(stored.graph.objects(URIRef(name), DCG.sequence)) == {Literal(2)}


def test_stale_revision_conflicts_and_leaves_graph_untouched(registry: Registry) -> None:
    name = new_name()
    registry.write(name, space(name, purpose="first"), expected_revision=0)
    registry.write(name, space(name, purpose="second"), expected_revision=1)

    with pytest.raises(RegistryConflict, match="reload"):
        registry.write(name, space(name, purpose="stale"), expected_revision=1)

    stored = registry.read(name)
    assert stored.revision == 2
    assert isomorphic(stored.graph, space(name, purpose="second"))


def test_create_only_conflicts_when_the_graph_exists(registry: Registry) -> None:
    name = new_name()
    registry.write(name, space(name, purpose="mine"), expected_revision=0)

    with pytest.raises(RegistryConflict, match="already exists"):
        registry.write(name, space(name, purpose="theirs"), expected_revision=0)

    assert isomorphic(registry.read(name).graph, space(name, purpose="mine"))


def test_writing_a_revision_of_a_missing_graph_conflicts(registry: Registry) -> None:
    name = new_name()
    with pytest.raises(RegistryConflict):
        registry.write(name, space(name), expected_revision=3)
    assert registry.read(name) is None


def test_delete_needs_the_current_revision(registry: Registry) -> None:
    name = new_name()
    registry.write(name, space(name), expected_revision=0)
    registry.write(name, space(name, purpose="edited"), expected_revision=1)

    with pytest.raises(RegistryConflict):
        registry.delete(name, expected_revision=1)
    assert registry.read(name).revision == 2

    registry.delete(name, expected_revision=2)
    assert registry.read(name) is None
    assert registry.names() == []
    with pytest.raises(RegistryConflict):
        registry.delete(name, expected_revision=2)
    assert registry.write(name, space(name), expected_revision=0) == 1


@pytest.mark.parametrize("revision", [-1, "1", True, 1.0, None])
def test_revisions_must_be_integers(registry: Registry, revision: object) -> None:
    name = new_name()
    with pytest.raises(RegistryError, match="revision"):
        registry.write(name, space(name), expected_revision=revision)  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="revision"):
        registry.delete(name, expected_revision=0)


BAD_NAMES = [
    "",
    "spaces/1",
    "urn:uuid:6a1c3f0e-0000-4000-8000-000000000000",
    "ftp://datacage.test/x",
    "https://datacage.test/a b",
    "https://datacage.test/a>b",
    "https://datacage.test/a> } ; DROP ALL ; #",
    'https://datacage.test/a"b',
    "https://datacage.test/{a}",
    "https://datacage.test/a|b",
    "https://datacage.test/a^b",
    "https://datacage.test/a`b",
    "https://datacage.test/a\\b",
    "https://datacage.test/a\nb",
    "https://user:secret@datacage.test/a",
    "https://[::1/a",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_never_reach_the_store(registry: Registry, name: str) -> None:
    with pytest.raises(RegistryError) as raised:
        registry.write(name, Graph(), expected_revision=0)
    assert "secret" not in str(raised.value)
    with pytest.raises(RegistryError):
        registry.read(name)
    with pytest.raises(RegistryError):
        registry.delete(name, expected_revision=1)
    assert registry.names() == []


# --- Queries -----------------------------------------------------------------------------------


def test_names_lists_graphs_optionally_by_type(registry: Registry) -> None:
    spaces = sorted(new_name() for _ in range(2))
    run = new_name("runs")
    for name in spaces:
        registry.write(name, space(name), expected_revision=0)
    run_graph = Graph()
    run_graph.add((URIRef(run), RDF.type, DCG.Run))
    registry.write(run, run_graph, expected_revision=0)

    assert registry.names() == sorted([*spaces, run])
    assert registry.names(DCG.CollaborationSpace) == spaces
    assert registry.names(DCG.Run) == [run]
    assert registry.names(DCG.Approval) == []


def test_select_and_ask_take_bindings(registry: Registry) -> None:
    alice, bob = URIRef("https://pod.test/alice#me"), URIRef("https://pod.test/bob#me")
    first, second = new_name(), new_name()
    registry.write(first, space(first, owner=alice, purpose="Study"), expected_revision=0)
    registry.write(second, space(second, owner=bob, purpose="Study"), expected_revision=0)
    query = (
        "SELECT ?g ?purpose ?none WHERE { GRAPH ?g { ?g dcg:owner ?owner ; dcg:purpose ?purpose } }"
    )

    rows = registry.select(query, {"owner": alice})

    assert rows == [{"g": URIRef(first), "purpose": Literal("Study")}]  # ?none unbound: absent
    assert registry.ask("ASK { GRAPH ?g { ?g dcg:owner ?owner } }", {"owner": bob})
    assert not registry.ask(
        "ASK { GRAPH ?g { ?g dcg:owner ?owner ; dcg:purpose ?p } }",
        {"owner": bob, "p": Literal("Other")},
    )


HOSTILE = Literal(
    'x" } } ; DROP ALL ; INSERT DATA { <http://evil.test/s> <http://evil.test/p> "o" } #'
)


def test_hostile_literal_bindings_are_data_not_code(registry: Registry) -> None:
    plain, hostile = new_name(), new_name()
    registry.write(plain, space(plain, purpose="x"), expected_revision=0)
    registry.write(hostile, space(hostile, purpose=HOSTILE), expected_revision=0)

    rows = registry.select("SELECT ?g WHERE { GRAPH ?g { ?g dcg:purpose ?p } }", {"p": HOSTILE})

    assert rows == [{"g": URIRef(hostile)}]
    assert registry.names() == sorted([plain, hostile])
    assert not registry.ask("ASK { ?s <http://evil.test/p> ?o }")


@pytest.mark.parametrize(
    "bindings",
    [
        {"owner": URIRef("https://pod.test/a> } } ; DROP ALL ; #")},
        {"owner": URIRef("relative/iri")},
        {"owner) { } } ; DROP ALL ; #": Literal("x")},
        {"?owner": Literal("x")},
        {"owner": BNode()},
        {"owner": "a plain str"},
    ],
)
def test_unsafe_bindings_are_refused(registry: Registry, bindings: dict) -> None:
    name = new_name()
    registry.write(name, space(name), expected_revision=0)

    with pytest.raises(RegistryError):
        registry.select("SELECT ?g WHERE { GRAPH ?g { ?g dcg:owner ?owner } }", bindings)

    assert registry.names() == [name]


@pytest.mark.parametrize(
    ("method", "query"),
    [
        ("select", "ASK { ?s ?p ?o }"),
        ("select", "SELECT ?g WHERE { GRAPH ?g { "),
        ("select", "DELETE WHERE { GRAPH ?g { ?s ?p ?o } }"),
        ("ask", "DROP ALL"),
        ("ask", "SELECT * WHERE { ?s ?p ?o }"),
    ],
)
def test_queries_cannot_be_updates_or_malformed(
    registry: Registry, method: str, query: str
) -> None:
    name = new_name()
    registry.write(name, space(name), expected_revision=0)

    with pytest.raises(RegistryError) as raised:
        getattr(registry, method)(query)

    assert not isinstance(raised.value, RegistryUnavailable)
    assert registry.read(name).revision == 1


# --- Concurrency and failures ------------------------------------------------------------------


def test_concurrent_writers_lose_no_update(registry: Registry) -> None:
    name = new_name()
    registry.write(name, space(name, sequence=0), expected_revision=0)
    threads, rounds = 8, 5
    successes: list[int] = []

    def increment() -> None:
        for _ in range(rounds):
            while True:
                stored = registry.read(name)
                count = stored.graph.value(URIRef(name), DCG.sequence).toPython()
                try:
                    registry.write(
                        name, space(name, sequence=count + 1), expected_revision=stored.revision
                    )
                except RegistryConflict:
                    continue
                successes.append(count + 1)
                break

    workers = [threading.Thread(target=increment) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    stored = registry.read(name)
    assert len(successes) == threads * rounds
    assert sorted(successes) == list(range(1, threads * rounds + 1))  # no value written twice
    assert stored.graph.value(URIRef(name), DCG.sequence) == Literal(threads * rounds)
    assert stored.revision == threads * rounds + 1


@pytest.mark.parametrize(
    "bad_triple",
    [
        (URIRef("https://datacage.test/s"), DCG.digest, URIRef("https://datacage.test/a b")),
        (URIRef("https://datacage.test/s"), Literal("not a predicate"), Literal("o")),
        (Literal("not a subject"), DCG.digest, Literal("o")),
        (URIRef("https://datacage.test/s"), DCG.digest, Literal("x", datatype=URIRef("no scheme"))),
    ],
)
def test_a_graph_that_cannot_be_stored_changes_nothing(
    registry: Registry, bad_triple: tuple
) -> None:
    name = new_name()
    registry.write(name, space(name, purpose="kept"), expected_revision=0)
    graph = space(name, purpose="replacement")
    for index in range(50):
        graph.add((URIRef(name), DCG.sequence, Literal(index)))
    graph.add(bad_triple)

    with pytest.raises(RegistryError, match="Cannot store"):
        registry.write(name, graph, expected_revision=1)

    stored = registry.read(name)
    assert stored.revision == 1
    assert isomorphic(stored.graph, space(name, purpose="kept"))


# Not on Virtuoso: it commits the operations before a failing one, so this contract is not
# its own; test_registry_virtuoso.py proves how its writes stay whole instead.
@pytest.mark.parametrize("registry", ATOMIC_BACK_ENDS, indirect=True)
def test_a_write_failing_inside_the_store_changes_nothing(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_name()
    registry.write(name, space(name, purpose="kept"), expected_revision=0)
    execute: Callable[[str], None] = registry._execute_update  # type: ignore[attr-defined]

    def fail_at_the_end(update: str) -> None:
        # Runs after the graph was emptied and refilled in the same request, then fails:
        # CREATE GRAPH without SILENT is an error for an existing graph.
        execute(f"{update} ;\nCREATE GRAPH <{name}>")

    monkeypatch.setattr(registry, "_execute_update", fail_at_the_end)

    with pytest.raises(RegistryUnavailable, match=r"not saved|nothing was changed"):
        registry.write(name, space(name, purpose="replacement"), expected_revision=1)

    monkeypatch.undo()
    stored = registry.read(name)
    assert stored.revision == 1
    assert isomorphic(stored.graph, space(name, purpose="kept"))


def test_bookkeeping_predicates_are_the_registrys_own(registry: Registry) -> None:
    name = new_name()
    with pytest.raises(RegistryError, match=r"dcg:revision"):
        registry.write(name, space(name, revision=7), expected_revision=0)
    assert registry.read(name) is None


def test_a_closed_registry_refuses_work(registry: Registry) -> None:
    registry.close()
    with pytest.raises(RegistryError, match="closed"):
        registry.read(new_name())


# --- Embedded on disk --------------------------------------------------------------------------

_HOLD_STORE = """
import sys, pyoxigraph
store = pyoxigraph.Store(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_store_held_by_another_process_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "registry"
    path.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_STORE, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(RegistryUnavailable, match="another process") as raised:
            open_registry(path=str(path))
        assert "SPARQL endpoint" in str(raised.value)
    finally:
        holder.communicate("", timeout=10)


def test_a_disk_store_reopens_after_close_and_backs_up(tmp_path: Path) -> None:
    path = tmp_path / "private" / "registry"
    name = new_name()
    with open_registry(path=str(path)) as registry:
        registry.write(name, space(name, purpose="kept"), expected_revision=0)
        with pytest.raises(RegistryUnavailable, match="in use"):
            open_registry(path=str(path))
        assert isinstance(registry, EmbeddedRegistry)
        registry.backup(tmp_path / "backup")

    assert path.stat().st_mode & 0o777 == 0o700
    for location in (path, tmp_path / "backup"):
        with open_registry(path=str(location)) as reopened:
            assert isomorphic(reopened.read(name).graph, space(name, purpose="kept"))


# --- SPARQL endpoints that are down, silent or failing -----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sparql(base: str, timeout: float = 2.0) -> Registry:
    return open_registry(
        sparql_query_url=f"{base}/query", sparql_update_url=f"{base}/update", timeout=timeout
    )


def _operations(registry: Registry) -> list[Callable[[], object]]:
    name = new_name()
    return [
        lambda: registry.read(name),
        lambda: registry.write(name, space(name), expected_revision=0),
        lambda: registry.delete(name, expected_revision=1),
        lambda: registry.select("SELECT * WHERE { ?s ?p ?o }"),
        lambda: registry.names(),
    ]


def test_an_endpoint_that_stops_is_unavailable(tmp_path: Path) -> None:
    name = new_name()
    with OxigraphServer(tmp_path / "data") as server:
        registry = _sparql(server.base_url.rstrip("/"))
        registry.write(name, space(name), expected_revision=0)
        pid = server.pid

    with pytest.raises(RegistryUnavailable, match="cannot be reached"):
        registry.read(name)
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the server process is gone, not just disconnected
    with OxigraphServer(tmp_path / "data") as restarted:  # and its data survived
        assert _sparql(restarted.base_url.rstrip("/")).read(name).revision == 1


def test_an_unreachable_endpoint_is_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    registry = _sparql(f"http://registry:hunter2@127.0.0.1:{_free_port()}")

    for operation in _operations(registry):
        with pytest.raises(RegistryUnavailable, match="cannot be reached") as raised:
            operation()
        assert "hunter2" not in str(raised.value)
        assert "127.0.0.1" not in str(raised.value)
    assert "hunter2" not in caplog.text
    assert "hunter2" not in repr(registry)


def test_a_silent_endpoint_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts connections (the kernel does) but never answers
        registry = _sparql(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.3)
        with pytest.raises(RegistryUnavailable, match=r"did not answer within 0\.3 s"):
            registry.read(new_name())
        with pytest.raises(RegistryUnavailable, match="may or may not have been saved"):
            registry.write(new_name(), Graph(), expected_revision=0)


class _Failing(http.server.BaseHTTPRequestHandler):
    status = 503
    authorizations: ClassVar[list[str | None]] = []  # replaced per test by a subclass

    def do_POST(self) -> None:
        self.authorizations.append(self.headers.get("Authorization"))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.mark.parametrize(
    ("status", "message"), [(503, r"failed \(HTTP 503\)"), (401, "credentials")]
)
def test_a_failing_endpoint_is_unavailable(status: int, message: str) -> None:
    handler = type("Handler", (_Failing,), {"status": status})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            registry = _sparql(f"http://127.0.0.1:{server.server_address[1]}")
            for operation in _operations(registry):
                with pytest.raises(RegistryUnavailable, match=message):
                    operation()
            with pytest.raises(RegistryUnavailable, match="not saved"):
                registry.write(new_name(), Graph(), expected_revision=0)
        finally:
            server.shutdown()


class _Dropping(http.server.BaseHTTPRequestHandler):
    """Keeps connections alive, but drops the second request on each connection unanswered,
    as an endpoint does that closes a kept connection just as a request arrives on it."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []  # replaced per test by a subclass

    def setup(self) -> None:
        super().setup()
        self.on_this_connection = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.seen.append(self.rfile.read(length).decode().split("=", 1)[0])
        self.on_this_connection += 1
        if self.on_this_connection == 2:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = b'{"head": {"vars": ["x"]}, "results": {"bindings": []}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_query_lost_with_a_kept_connection_is_sent_again_and_an_update_never() -> None:
    handler = type("Handler", (_Dropping,), {"seen": []})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            registry = _sparql(f"http://127.0.0.1:{server.server_address[1]}")
            query = "SELECT ?x WHERE { ?x ?p ?o }"
            assert registry.select(query) == []  # a new connection, kept
            assert registry.select(query) == []  # lost on the kept one, answered on a new one
            assert handler.seen == ["query", "query", "query"]

            # Each update has a connection of its own, so it is never the second request on
            # one (here it would be answered either way); a lost one is reported, not resent.
            handler.seen.clear()
            registry.execute_update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
            registry.execute_update("INSERT DATA { <urn:a> <urn:b> <urn:d> }")
            assert handler.seen == ["update", "update"]
        finally:
            server.shutdown()


class _Silent(http.server.BaseHTTPRequestHandler):
    """Reads each request and closes the connection without an answer."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.seen.append(self.rfile.read(length).decode().split("=", 1)[0])
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_update_whose_connection_is_lost_is_sent_once_and_said_to_be_unknown() -> None:
    handler = type("Handler", (_Silent,), {"seen": []})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            registry = _sparql(f"http://127.0.0.1:{server.server_address[1]}")
            with pytest.raises(RegistryUnavailable, match="may or may not have been saved"):
                registry.execute_update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
            assert handler.seen == ["update"]
            with pytest.raises(RegistryUnavailable, match="cannot be reached"):
                registry.select("SELECT ?x WHERE { ?x ?p ?o }")
            assert handler.seen == ["update", "query", "query"]  # a query is tried twice
        finally:
            server.shutdown()


def test_user_info_in_the_url_is_sent_as_basic_auth() -> None:
    handler = type("Handler", (_Failing,), {"authorizations": []})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            registry = _sparql(f"http://reg%40x:p%3Ass@127.0.0.1:{server.server_address[1]}")
            with pytest.raises(RegistryUnavailable):
                registry.read(new_name())
        finally:
            server.shutdown()
    expected = "Basic " + base64.b64encode(b"reg@x:p:ss").decode()
    assert handler.authorizations == [expected]


def test_an_empty_path_is_refused() -> None:
    with pytest.raises(RegistryError, match="empty"):
        open_registry(path="")


@pytest.mark.parametrize(
    "urls",
    [
        {"sparql_query_url": "http://127.0.0.1:1/query"},
        {"sparql_update_url": "http://127.0.0.1:1/update"},
        {"sparql_query_url": "ftp://u:hunter2@host/q", "sparql_update_url": "http://h/u"},
        {"sparql_query_url": "http://h/q", "sparql_update_url": "not a url"},
    ],
)
def test_sparql_configuration_is_checked(urls: dict[str, str]) -> None:
    with pytest.raises(RegistryError) as raised:
        open_registry(**urls)
    assert "hunter2" not in str(raised.value)
