"""The audit SPARQL endpoint under attack: escapes that hide SERVICE, answers that fill memory,
queries that pile up. A loopback listener stands for every endpoint a query could reach."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc

import pytest
from rdflib import Graph

from server.audit import query, query_sandbox
from server.audit.query_sandbox import Busy, QueryRefused, QuerySlots, run_isolated
from tests.support.listener import answer, listening

EMPTY_RESULTS = b'{"head":{"vars":["s"]},"results":{"bindings":[]}}'
#: rdflib reads `\u0022` as a quote that opens a long string running to the comment's `"""`,
#: hiding SERVICE; pyoxigraph reads it as a character inside the string, and SERVICE runs.
HIDDEN_SERVICE = (
    'SELECT * WHERE { BIND("\\u0022" AS ?a) SERVICE <URL> { ?s ?p ?o } }\n# """ AS ?a) }'
)
JSON = ["application/sparql-results+json"]


def _trail() -> list[tuple[str, Graph]]:
    graph = Graph()
    graph.parse(data="<urn:a> <urn:b> <urn:c> .", format="turtle")
    return [("urn:entry:1", graph)]


def test_service_hidden_by_an_escape_never_reaches_its_endpoint():
    """Escapes applied first, checker and engine both read the SERVICE as inside a string."""
    with listening(answer(EMPTY_RESULTS, JSON[0])) as endpoint:
        attack = HIDDEN_SERVICE.replace("URL", endpoint.url)
        assert query.check_query(attack) == attack.replace("\\u0022", '"')
        body, _ = query.run_query(_trail(), attack, JSON)
        assert endpoint.connections == 0
    assert json.loads(body)["results"]["bindings"][0]["a"]["value"].startswith(" AS ?a) SERVICE")


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * WHERE { \\u0053ERVICE <URL> { ?s ?p ?o } }",
        "SELECT * WHERE { \\U00000053ERVICE <URL> { ?s ?p ?o } }",
        "SELECT * WHERE { \\u005Cu0053ERVICE <URL> { ?s ?p ?o } }",  # an escaped escape
    ],
)
def test_escaped_keywords_are_read_as_the_engine_reads_them(text):
    with listening(answer(EMPTY_RESULTS, JSON[0])) as endpoint:
        with pytest.raises(QueryRefused):
            query.run_query(_trail(), text.replace("URL", endpoint.url), JSON)
        assert endpoint.connections == 0


def test_ordinary_escapes_still_work():
    body, media = query.run_query(_trail(), 'SELECT ?x WHERE { BIND("caf\\u00e9" AS ?x) }', JSON)
    assert json.loads(body)["results"]["bindings"][0]["x"]["value"] == "café"
    assert media == JSON[0]


def test_the_engine_itself_has_no_network_even_if_the_checker_is_fooled():
    """Run the child directly, with no check at all: SERVICE finds no network to use."""
    with listening(answer(EMPTY_RESULTS, JSON[0])) as endpoint:
        text = f"SELECT * WHERE {{ SERVICE <{endpoint.url}> {{ ?s ?p ?o }} }}"
        request = json.dumps({"query": text, "accept": JSON}).encode()
        with pytest.raises(QueryRefused):
            run_isolated(
                [sys.executable, "-I", str(query._CHILD)],
                request + b"\n",
                seconds=10,
                max_bytes=1 << 20,
            )
        assert endpoint.connections == 0


def test_without_network_namespaces_the_engine_still_opens_no_socket(monkeypatch):
    """A container that allows no namespaces: the child's seccomp filter is the wall."""
    monkeypatch.setattr(query_sandbox, "isolation_prefix", lambda: ())
    with listening(answer(EMPTY_RESULTS, JSON[0])) as endpoint:
        text = f"SELECT * WHERE {{ SERVICE <{endpoint.url}> {{ ?s ?p ?o }} }}"
        request = json.dumps({"query": text, "accept": JSON}).encode()
        with pytest.raises(QueryRefused):
            run_isolated(
                [sys.executable, "-I", str(query._CHILD)],
                request + b"\n",
                seconds=10,
                max_bytes=1 << 20,
            )
        assert endpoint.connections == 0


def test_a_huge_answer_is_cut_at_the_cap_without_being_held(monkeypatch):
    monkeypatch.setattr(query, "MAX_ANSWER_BYTES", 1 << 20)
    values = " ".join(str(n) for n in range(40))
    text = (  # a short query, an answer of tens of MiB
        f"SELECT * WHERE {{ VALUES ?a {{ {values} }} VALUES ?b {{ {values} }} "
        f"VALUES ?c {{ {values} }} VALUES ?d {{ {values} }} }}"
    )
    assert len(text) < 2000
    tracemalloc.start()
    try:
        with pytest.raises(QueryRefused, match="larger than"):
            query.run_query(_trail(), text, JSON)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak >> 20} MiB held for a 1 MiB cap"


def test_queries_beyond_the_slots_are_refused_with_429(tmp_path):
    slots = QuerySlots(tmp_path, 1)
    with slots.held(), pytest.raises(Busy) as refused:
        query.run_query(_trail(), "ASK {}", JSON, slots=slots)
    assert refused.value.http_status == 429
    assert refused.value.retry_after >= 1


def test_slots_are_shared_with_other_processes(tmp_path):
    holder = subprocess.Popen(  # another worker process of the same server, holding the slot
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(tmp_path / 'slot-0')!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(Busy):
            query.run_query(_trail(), "ASK {}", JSON, slots=QuerySlots(tmp_path, 1))
    finally:
        holder.kill()
        holder.wait()
    body, _ = query.run_query(_trail(), "ASK {}", JSON, slots=QuerySlots(tmp_path, 1))
    assert json.loads(body)["boolean"] is True
