"""Usage records: which run read which of a person's resources, at which version, and when.

The datacage writes one record per person per run when it reads their data; the person's My
data page lists them. One registry graph per (run, consent), named under the run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rdflib import Graph, Literal, URIRef

from vocab import DCG, DCTERMS, PROV, RDF, XSD, bind_prefixes

from ..registry import Registry, RegistryConflict
from .model import Consent


@dataclass(frozen=True)
class Read:
    url: str
    version: str | None  # the ETag as read


@dataclass(frozen=True)
class Usage:
    run: str
    consent: str
    space: str
    algorithm_digest: str
    at: datetime
    reads: tuple[Read, ...]
    results_sent_to: tuple[str, ...] = ()  # consumers who received the run's results


_USES_OF = """
SELECT ?g ?run ?consent ?space ?digest ?at ?url ?version WHERE {
  GRAPH ?g {
    ?g a dcg:UsageRecord ; dcg:usedConsent ?consent ; prov:wasGeneratedBy ?run ;
       dcg:space ?space ; dcg:digest ?digest ; prov:generatedAtTime ?at ;
       dcterms:subject ?me .
    OPTIONAL { ?g prov:used ?input . ?input prov:atLocation ?url .
               OPTIONAL { ?input dcg:inputVersion ?version } }
  }
}
"""


def record_use(
    registry: Registry, run: str, consent: Consent, reads: list[Read], at: datetime, digest: str
) -> str:
    name = f"{run}/usage/{hashlib.sha256(consent.iri.encode()).hexdigest()[:24]}"
    graph = bind_prefixes(Graph())
    g = URIRef(name)
    graph.add((g, RDF.type, DCG.UsageRecord))
    graph.add((g, PROV.wasGeneratedBy, URIRef(run)))
    graph.add((g, DCG.usedConsent, URIRef(consent.iri)))
    graph.add((g, DCG.space, URIRef(consent.space_iri)))
    graph.add((g, DCTERMS.subject, URIRef(consent.subject)))
    graph.add((g, DCG.digest, Literal(digest)))
    graph.add(
        (g, PROV.generatedAtTime, Literal(at.isoformat(timespec="seconds"), datatype=XSD.dateTime))
    )
    for index, read in enumerate(reads):
        node = URIRef(f"{name}#input-{index}")
        graph.add((g, PROV.used, node))
        graph.add((node, PROV.atLocation, URIRef(read.url)))
        if read.version:
            graph.add((node, DCG.inputVersion, Literal(read.version)))
    registry.write(name, graph, expected_revision=registry.revision(name))
    return name


_USAGE_OF_RUN = "SELECT ?g WHERE { GRAPH ?g { ?g a dcg:UsageRecord ; prov:wasGeneratedBy ?run } }"
_SENT = "SELECT ?g ?to WHERE { GRAPH ?g { ?g a dcg:UsageRecord ; dcg:resultsSentTo ?to } }"


def record_results_sent(registry: Registry, run: str, consumers: list[str]) -> int:
    """Add the consumers who received the run's results to each of its usage records (the
    person's My data shows them); return how many records were changed."""
    changed = 0
    for row in registry.select(_USAGE_OF_RUN, {"run": URIRef(run)}):
        name = str(row["g"])
        for _ in range(8):  # a concurrent write of the same record: read it again
            stored = registry.read(name)
            if stored is None:
                break
            for consumer in consumers:
                stored.graph.add((URIRef(name), DCG.resultsSentTo, URIRef(consumer)))
            try:
                registry.write(name, stored.graph, expected_revision=stored.revision)
                changed += 1
                break
            except RegistryConflict:
                continue
    return changed


def uses_of(registry: Callable[[], Registry], subject: str) -> list[Usage]:
    """Every recorded use of this person's data, newest first."""
    grouped: dict[str, dict] = {}
    for row in registry().select(_USES_OF, {"me": URIRef(subject)}):
        entry = grouped.setdefault(
            str(row["g"]),
            {
                "run": str(row["run"]),
                "consent": str(row["consent"]),
                "space": str(row["space"]),
                "digest": str(row["digest"]),
                "at": row["at"].toPython(),  # type: ignore[union-attr]
                "reads": set(),
            },
        )
        if "url" in row:
            version = str(row["version"]) if "version" in row else None
            entry["reads"].add(Read(str(row["url"]), version))
    sent: dict[str, set[str]] = {}
    for row in registry().select(_SENT):
        sent.setdefault(str(row["g"]), set()).add(str(row["to"]))
    uses = [
        Usage(
            e["run"],
            e["consent"],
            e["space"],
            e["digest"],
            e["at"],
            tuple(sorted(e["reads"], key=lambda r: r.url)),
            tuple(sorted(sent.get(name, ()))),
        )
        for name, e in grouped.items()
    ]
    return sorted(uses, key=lambda u: u.at, reverse=True)
