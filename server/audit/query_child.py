"""Runs one SPARQL query over one dataset, in a child process of its own (see `query.run_query`).

Started by path with `python -I`, so it imports nothing of the server: only pyoxigraph (and
pyseccomp, to refuse itself sockets before it reads anything). Reads
from stdin a JSON line (the query, the acceptable media types) then the dataset as N-Quads;
writes the chosen media type on the first line of stdout, then the serialised answer. Any
failure is one line on stderr and exit status 2.
"""

from __future__ import annotations

import errno
import json
import resource
import sys

import pyoxigraph as ox
import pyseccomp

MEMORY_BYTES = 1 << 30

SOLUTIONS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPHS = {"text/turtle": ox.RdfFormat.TURTLE, "application/n-triples": ox.RdfFormat.N_TRIPLES}


def _pick(accept: list[str], offered: dict) -> str:
    return next((m for m in accept if m in offered), next(iter(offered)))


def no_sockets() -> None:
    """Refuse `socket(2)` to this process from now on (EPERM): whatever the query asks for
    (a SERVICE the checker missed), the engine cannot open a connection. This holds where no
    network namespace can be made (a container without user namespaces); where one can, the
    namespace is a second wall."""
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    rules.add_rule(pyseccomp.ERRNO(errno.EPERM), "socket")
    rules.load()


def main() -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    no_sockets()
    request = json.loads(sys.stdin.buffer.readline())
    store = ox.Store()
    store.load(sys.stdin.buffer.read(), format=ox.RdfFormat.N_QUADS)
    try:
        results = store.query(request["query"], use_default_graph_as_union=True)
    except (SyntaxError, ValueError, OSError, RuntimeError) as exc:
        print(f"{exc}".splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    # Written as it is produced: the parent reads under its cap and kills us past it.
    if isinstance(results, ox.QueryTriples):
        media = _pick(request["accept"], GRAPHS)
        out.write(media.encode() + b"\n")
        results.serialize(out, format=GRAPHS[media])
    else:
        media = _pick(request["accept"], SOLUTIONS)
        out.write(media.encode() + b"\n")
        results.serialize(out, format=SOLUTIONS[media])
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
