"""Attacks on the Virtuoso registry that the shared contract tests (test_registry.py) do not
make: what Virtuoso 7.2 does not guarantee by itself (isolation, atomicity on error, complete
answers, private graphs), and the client or the server dying in the middle of a write.
"""

from __future__ import annotations

import logging
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import RDF, XSD, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from connectors.solid.css.process import free_loopback_port
from server.registry import (
    RegistryConflict,
    RegistryError,
    RegistryUnavailable,
    VirtuosoRegistry,
    open_registry,
)
from server.registry import virtuoso as virtuoso_module
from tests.support.virtuoso import VirtuosoServer
from vocab import DCG

ROOT = Path(__file__).resolve().parents[2]
_RANDOM = secrets.SystemRandom()


@pytest.fixture
def server(virtuoso: VirtuosoServer) -> VirtuosoServer:
    virtuoso.reset()
    return virtuoso


@pytest.fixture
def registry(server: VirtuosoServer) -> Iterator[VirtuosoRegistry]:
    with open_registry(virtuoso_url=server.registry_url) as opened:
        assert isinstance(opened, VirtuosoRegistry)
        yield opened


def new_name() -> str:
    return f"https://datacage.test/spaces/{uuid.uuid4().hex[:12]}"


def record(name: str, writer: str, size: int = 20) -> Graph:
    """A record whose every triple names its writer, so a mixed graph shows."""
    graph = Graph()
    node = URIRef(name)
    graph.add((node, RDF.type, DCG.CollaborationSpace))
    for index in range(size):
        graph.add((node, DCG.digest, Literal(f"{writer}-{index}")))
    return graph


def writers_in(registry: VirtuosoRegistry, name: str) -> tuple[set[str], int, int]:
    """Who wrote the stored record's triples, how many there are, and its revision."""
    stored = registry.read(name)
    assert stored is not None
    digests = [str(o) for o in stored.graph.objects(URIRef(name), DCG.digest)]
    return {digest.rsplit("-", 1)[0] for digest in digests}, len(digests), stored.revision


def staged_copies(registry: VirtuosoRegistry) -> bool:
    """Whether a write's staging graph (content outside its own graph) was left behind."""
    return registry.ask("ASK { GRAPH ?g { ?s dcg:revision ?r } FILTER (?g != ?s) }")


# --- Racing writers (isolation) ----------------------------------------------------------------


@pytest.mark.parametrize("expected", [0, 1], ids=["create", "update"])
def test_racing_writers_of_one_revision_have_one_winner(
    server: VirtuosoServer, registry: VirtuosoRegistry, expected: int
) -> None:
    # Under Virtuoso's default isolation (read committed) two updates of one revision both
    # commit, and under repeatable read every creator does: their triples merge into one graph.
    name = new_name()
    if expected:
        registry.write(name, record(name, "first"), expected_revision=0)
    writers = 10
    # One registry each, like separate server processes: no lock in this process helps.
    registries = [open_registry(virtuoso_url=server.registry_url) for _ in range(writers)]
    barrier = threading.Barrier(writers)
    outcomes: dict[str, str] = {}

    def write(index: int) -> None:
        barrier.wait()
        try:
            registries[index].write(name, record(name, f"w{index}"), expected_revision=expected)
            outcomes[f"w{index}"] = "won"
        except RegistryConflict:
            outcomes[f"w{index}"] = "lost"

    threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [writer for writer, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == writers
    assert len(winners) == 1
    assert writers_in(registry, name) == ({winners[0]}, 20, expected + 1)


def test_readers_during_writes_see_whole_records(
    server: VirtuosoServer, registry: VirtuosoRegistry
) -> None:
    # A read that overlapped a commit could return part of the old record and part of the new
    # one; under serializable isolation the read waits for the writer's locks instead.
    name, size = new_name(), 300
    registry.write(name, record(name, "r0", size), expected_revision=0)
    done = threading.Event()
    seen: list[tuple[frozenset[str], int, int]] = []

    def write() -> None:
        writer = open_registry(virtuoso_url=server.registry_url)
        for revision in range(1, 8):
            writer.write(name, record(name, f"r{revision}", size), expected_revision=revision)
        done.set()

    def read() -> None:
        reader = open_registry(virtuoso_url=server.registry_url)
        while not done.is_set():
            writers, count, revision = writers_in(reader, name)
            seen.append((frozenset(writers), count, revision))

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) > 3
    for writers, count, revision in seen:
        assert (writers, count) == (frozenset({f"r{revision - 1}"}), size)


def test_a_server_without_serializable_isolation_is_refused(
    registry: VirtuosoRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fixture's server is serializable; ask for another level to see the refusal.
    monkeypatch.setattr(virtuoso_module, "SERIALIZABLE", "4")
    name = new_name()

    with pytest.raises(RegistryError, match=r"DefaultIsolation = 4.*\(it is 8"):
        registry.write(name, record(name, "w"), expected_revision=0)

    monkeypatch.undo()
    assert registry.read(name) is None


# --- Failing requests (atomicity) --------------------------------------------------------------


def _failing_after(registry: VirtuosoRegistry, marker: str, name: str) -> object:
    """An `_execute_update` that puts a failing operation after the operation holding
    `marker`: Virtuoso commits the operations before it, then answers HTTP 500."""
    execute = registry._execute_update

    def failing(update: str) -> None:
        operations = update.split(" ;\n")
        at = next(i for i, operation in enumerate(operations) if marker in operation)
        operations.insert(at + 1, f"CREATE GRAPH <{name}>")
        execute(" ;\n".join(operations))

    return failing


def test_a_failure_between_claim_and_fill_is_rolled_forward(
    registry: VirtuosoRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_name()
    registry.write(name, record(name, "kept"), expected_revision=0)
    # After the claim, the graph holds only our write token: without a roll-forward the
    # record would be gone (no revision) and nobody could write it again.
    monkeypatch.setattr(registry, "_execute_update", _failing_after(registry, "DELETE {", name))

    assert registry.write(name, record(name, "new"), expected_revision=1) == 2

    monkeypatch.undo()
    assert writers_in(registry, name) == ({"new"}, 20, 2)
    assert not staged_copies(registry)


def test_a_failure_before_the_claim_saves_nothing(
    registry: VirtuosoRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_name()
    registry.write(name, record(name, "kept"), expected_revision=0)
    monkeypatch.setattr(registry, "_execute_update", _failing_after(registry, "INSERT DATA", name))

    with pytest.raises(RegistryUnavailable, match="was not saved"):
        registry.write(name, record(name, "new"), expected_revision=1)

    monkeypatch.undo()
    assert writers_in(registry, name) == ({"kept"}, 20, 1)
    assert not staged_copies(registry)


# --- Dying mid-write ---------------------------------------------------------------------------

_WRITER = """
import json, sys
from rdflib import Graph, Literal, URIRef
from server.registry import RegistryConflict, open_registry
from vocab import DCG
url, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
registry = open_registry(virtuoso_url=url, timeout=60)
print("ready", flush=True)
for round in range(1000):
    stored = registry.read(name)
    graph = Graph()
    for index in range(size):
        graph.add((URIRef(name), DCG.digest, Literal(f"r{round}-{index}")))
    try:
        registry.write(name, graph, expected_revision=stored.revision if stored else 0)
    except RegistryConflict:
        pass
"""


def test_a_client_killed_mid_write_leaves_no_half_graph(
    server: VirtuosoServer, registry: VirtuosoRegistry
) -> None:
    name, size = new_name(), 1500
    for attempt in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, server.registry_url, name, str(size)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready"
            time.sleep(_RANDOM.uniform(0.5, 2.5))  # somewhere inside a write
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
        stored = registry.read(name)
        if stored is None:
            continue  # killed before its first write committed
        rounds, count, _ = writers_in(registry, name)
        assert (len(rounds), count) == (1, size), f"attempt {attempt}: {rounds}"


def test_a_server_killed_mid_write_keeps_whole_graphs(
    server: VirtuosoServer, registry: VirtuosoRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The staging, claim and fill of one write are one transaction: a crash before its
    # commit leaves no trace of it after recovery, whatever part had run.
    name, size = new_name(), 3000
    registry.write(name, record(name, "kept", size), expected_revision=0)
    outcome: list[object] = []
    sending = threading.Event()  # the write's update is on its way: restart the server then
    post = registry._post

    def post_and_tell(field: str, text: str, accept: str) -> bytes:
        if field == "update":
            sending.set()
        return post(field, text, accept)

    monkeypatch.setattr(registry, "_post", post_and_tell)

    def write() -> None:
        try:
            outcome.append(registry.write(name, record(name, "new", size), expected_revision=1))
        except RegistryError as error:
            outcome.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    assert sending.wait(60), "the write never sent its update"
    server.restart()
    writer.join()

    writers, count, revision = writers_in(registry, name)
    assert count == size
    assert (writers, revision) in (({"kept"}, 1), ({"new"}, 2))
    if outcome == [2]:
        assert writers == {"new"}


# --- Literals Virtuoso cannot keep ---------------------------------------------------------------


def test_durations_round_trip_in_reads_queries_and_bindings(registry: VirtuosoRegistry) -> None:
    # Virtuoso 7.2 refuses `"P90D"^^xsd:duration` (a space's retention) even in INSERT DATA.
    name = new_name()
    retention = Literal("P90D", datatype=XSD.duration)
    graph = record(name, "w")
    graph.add((URIRef(name), DCG.retentionPeriod, retention))
    graph.add((URIRef(name), DCG.consentPeriod, Literal("P1Y", datatype=XSD.yearMonthDuration)))
    graph.add((URIRef(name), DCG.sequence, Literal("PT1H", datatype=XSD.dayTimeDuration)))

    registry.write(name, graph, expected_revision=0)

    assert isomorphic(registry.read(name).graph, graph)
    rows = registry.select(
        "SELECT ?g ?r WHERE { GRAPH ?g { ?g dcg:retentionPeriod ?r } }", {"r": retention}
    )
    assert rows == [{"g": URIRef(name), "r": retention}]


@pytest.mark.parametrize(
    "bad",
    [
        Literal("1e400", datatype=XSD.double),
        Literal("NaN", datatype=XSD.double),
        Literal("INF", datatype=XSD.float),
        Literal("1.5", datatype=XSD.integer),
        Literal(str(10**23), datatype=XSD.integer),
    ],
    ids=["overflow", "nan", "inf", "ill-typed", "beyond-64-bits"],
)
def test_numbers_virtuoso_would_change_or_choke_on_are_refused(
    registry: VirtuosoRegistry, bad: Literal
) -> None:
    # An infinite and a NaN double stored one after the other broke Debian's Virtuoso 7.2.5:
    # every later write failed ("out of seg data ... RDF_QUAD_SP"). Others come back changed.
    name = new_name()
    registry.write(name, record(name, "kept"), expected_revision=0)
    graph = record(name, "new")
    graph.add((URIRef(name), DCG.sequence, bad))

    with pytest.raises(RegistryError, match="Cannot store"):
        registry.write(name, graph, expected_revision=1)

    assert writers_in(registry, name) == ({"kept"}, 20, 1)
    other = new_name()
    assert registry.write(other, record(other, "still"), expected_revision=0) == 1


# --- Answers and access ------------------------------------------------------------------------


def test_answers_cut_at_the_row_limit_are_refused(
    server: VirtuosoServer, registry: VirtuosoRegistry
) -> None:
    # Virtuoso silently returns the first ResultSetMaxRows rows (with only a header saying
    # so): a read would return part of a record, and writing it back would lose the rest.
    name = new_name()
    big = record(name, "big", server.max_rows + 1)
    registry.write(name, big, expected_revision=0)

    with pytest.raises(RegistryError, match="cut the answer"):
        registry.read(name)
    with pytest.raises(RegistryError, match="cut the answer"):
        registry.select("SELECT ?d WHERE { GRAPH ?g { ?g dcg:digest ?d } }")
    assert registry.revision(name) == 1  # a small answer still comes whole


def test_anonymous_sparql_cannot_read_the_registry(
    server: VirtuosoServer, registry: VirtuosoRegistry
) -> None:
    # Virtuoso's /sparql answers anyone, and by default every graph is readable there: the
    # registry's WebIDs and consents would be public. The setup in docs/registry.md closes it.
    name = new_name()
    registry.write(name, record(name, "private"), expected_revision=0)

    answer = requests.post(
        server.anonymous_url,
        data={"query": f"SELECT * WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=10,
    )

    assert answer.status_code == 200
    assert answer.json()["results"]["bindings"] == []


def test_wrong_credentials_are_refused_and_never_shown(
    server: VirtuosoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = server.registry_url.replace(server.password, "hunter2-wrong")
    registry = open_registry(virtuoso_url=url)

    with pytest.raises(RegistryUnavailable, match="credentials") as raised:
        registry.read(new_name())

    for shown in (str(raised.value), caplog.text, repr(registry)):
        assert "hunter2" not in shown
        assert server.password not in shown


def test_an_unreachable_virtuoso_is_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    registry = open_registry(
        virtuoso_url=f"http://registry:hunter2@127.0.0.1:{free_loopback_port()}/sparql-auth"
    )
    name = new_name()
    for operation in (
        lambda: registry.read(name),
        lambda: registry.write(name, record(name, "w"), expected_revision=0),
        lambda: registry.select("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"),
    ):
        with pytest.raises(RegistryUnavailable, match="cannot be reached") as raised:
            operation()
        assert "hunter2" not in str(raised.value)
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8890/sparql-auth",  # no login: writes need /sparql-auth
        "ftp://registry:hunter2@127.0.0.1/sparql-auth",
        "not a url",
    ],
)
def test_virtuoso_configuration_is_checked(url: str) -> None:
    with pytest.raises(RegistryError) as raised:
        open_registry(virtuoso_url=url)
    assert "hunter2" not in str(raised.value)


def test_virtuoso_and_sparql_urls_are_exclusive(server: VirtuosoServer) -> None:
    with pytest.raises(RegistryError, match="not both"):
        open_registry(
            virtuoso_url=server.registry_url,
            sparql_query_url="http://127.0.0.1:1/query",
            sparql_update_url="http://127.0.0.1:1/update",
        )
