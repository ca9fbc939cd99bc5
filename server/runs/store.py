"""Where runs live in the registry: one graph per run, changed by compare-and-swap.

The datacage's progress reports and a participant's page view can land at the same moment, so
every change re-reads the run and redoes the change if someone wrote first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import pyoxigraph as ox
from rdflib import Literal, URIRef

from vocab import DCG, XSD

from ..errors import EditConflict, NotFound, Unavailable
from ..registry import Registry, RegistryConflict, activity, guard
from .model import Run, RunStatus, RunSummary
from .rdf import DamagedRun, from_graph, run_iri, to_graph

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 8

_OF_SPACE = """
SELECT ?g ?at WHERE { GRAPH ?g { ?g a dcg:Run ; dcg:space ?space ; dcterms:created ?at } }
"""
# One row per run of the space with what a dashboard shows (no log, no problems, no evidence).
_SUMMARIES = """
SELECT ?g ?status ?at ?digest ?included ?read ?started ?ended ?gate ?provider WHERE {
  GRAPH ?g {
    ?g a dcg:Run ; dcg:space ?space ; dcg:status ?status ; dcterms:created ?at ;
       dcg:digest ?digest ; dcg:individualsIncluded ?included ; dcg:individualsRead ?read .
    OPTIONAL { ?g prov:startedAtTime ?started }
    OPTIONAL { ?g prov:endedAtTime ?ended }
    OPTIONAL { ?g dcg:verdict ?verdict . ?verdict dcg:status ?gate }
    OPTIONAL { ?g dcg:evidence ?evidence . ?evidence dcg:attestationProvider ?provider }
  }
}
"""
_QUEUED = """
SELECT ?g ?at WHERE { GRAPH ?g { ?g a dcg:Run ; dcg:status ?queued ; dcterms:created ?at } }
"""


class RunStore:
    def __init__(self, registry: Callable[[], Registry], public_url: str):
        self._registry = registry
        self.public_url = public_url

    def iri_of(self, run_id: str) -> str:
        return run_iri(self.public_url, run_id)

    def create(self, run: Run) -> Run:
        run.revision = self._call(
            lambda r: r.write_counted(
                run.iri, to_graph(run), expected_revision=0, deltas=activity.counted(run.space_iri)
            )
        )
        return run

    def load(self, run_id: str) -> Run:
        if not (run_id.isalnum() and len(run_id) <= 64):
            raise NotFound("There is no such run.")
        stored = self._call(lambda r: r.read(self.iri_of(run_id)))
        if stored is None:
            raise NotFound("There is no such run.")
        try:
            return from_graph(stored.name, stored.graph, stored.revision)
        except DamagedRun as exc:
            log.error("damaged run record", extra={"graph": stored.name, "reason": str(exc)})
            raise Unavailable("A run record cannot be read; an operator must look.") from exc

    def change(self, run_id: str, action: Callable[[Run], T]) -> tuple[Run, T]:
        """Read, apply `action`, write; on a lost race redo the action on the fresh record."""
        for _ in range(MAX_ATTEMPTS):
            run = self.load(run_id)
            outcome = action(run)
            try:
                run.revision = self._call(
                    lambda r, run=run: r.write_counted(
                        run.iri,
                        to_graph(run),
                        expected_revision=run.revision,
                        deltas=activity.counted(run.space_iri),
                    )
                )
                return run, outcome
            except RegistryConflict:
                continue
        raise EditConflict("This run is being changed elsewhere; please try again.")

    def of_space(self, space_iri: str) -> list[Run]:
        """The space's runs, newest first."""
        rows = self._call(lambda r: r.select(_OF_SPACE, {"space": URIRef(space_iri)}))
        names = [
            str(row["g"])
            for row in sorted(rows, key=lambda row: row["at"].toPython(), reverse=True)
        ]
        return [self.load(name.rsplit("/", 1)[-1]) for name in names]

    def any_unfinished(self, space_iri: str) -> bool:
        """Whether a run of the space is waiting or under way: one question, however many
        runs and consents the space has (loading every run took seconds with a hundred).

        The statuses come first, outside the GRAPH block, and the space is pasted as a term
        (checked by pyoxigraph, so safe to paste): given as a binding, or as a VALUES inside
        the block, pyoxigraph 0.5 starts from every graph naming the space, every consent
        record included (4.8 s with 100,000 of them, against under a millisecond)."""
        statuses = " ".join(f"<{s.value}>" for s in RunStatus if not s.finished)
        query = (
            f"ASK {{ VALUES ?status {{ {statuses} }}\n"
            f"  GRAPH ?g {{ ?g dcg:status ?status ; a dcg:Run ; "
            f"dcg:space {ox.NamedNode(space_iri)} . }} }}"
        )
        return self._call(lambda r: r.ask(query))

    def summaries(self, space_iri: str) -> list[RunSummary]:
        """The space's runs in brief, oldest first: one query, however many runs. Values are
        read as text (`select_text`): an rdflib term per value cost more than the query."""
        rows = self._call(lambda r: r.select_text(_SUMMARIES, {"space": URIRef(space_iri)}))
        found = []
        for row in rows:
            try:
                status = next(s for s in RunStatus if str(s.value) == row["status"])
            except StopIteration:
                log.error("damaged run record", extra={"graph": row["g"]})
                continue
            found.append(
                RunSummary(
                    iri=row["g"],
                    status=status,
                    requested_at=_instant(row["at"]),
                    algorithm_digest=row["digest"],
                    individuals_included=int(row["included"]),
                    individuals_read=int(row["read"]),
                    started_at=_instant(row["started"]) if "started" in row else None,
                    finished_at=_instant(row["ended"]) if "ended" in row else None,
                    gate_passed=row["gate"] == str(DCG.GatePassed) if "gate" in row else None,
                    attestation_provider=row.get("provider"),
                )
            )
        return sorted(found, key=lambda s: s.requested_at)

    def queued(self) -> list[Run]:
        """Runs waiting for a datacage, oldest first."""
        rows = self._call(lambda r: r.select(_QUEUED, {"queued": RunStatus.QUEUED.value}))
        rows = sorted(rows, key=lambda row: row["at"].toPython())
        names = [str(row["g"]) for row in rows]
        return [self.load(name.rsplit("/", 1)[-1]) for name in names]

    def running(self) -> list[Run]:
        """Runs a datacage holds now (their leases are checked by `leases`)."""
        rows = self._call(lambda r: r.select(_QUEUED, {"queued": RunStatus.RUNNING.value}))
        return [self.load(str(row["g"]).rsplit("/", 1)[-1]) for row in rows]

    def results_sent(self, run_iri: str, consumers: list[str]) -> int:
        """Mark the run's usage records with the consumers who received its results."""
        from ..consent.usage import record_results_sent

        return self._call(lambda r: record_results_sent(r, run_iri, consumers))

    def record_delivery(
        self,
        run_iri: str,
        body: dict,
        at: datetime,
        container: str | None,
        space_iri: str | None = None,
    ):
        """Keep one consumer's delivery report on the run (server.destinations.status)."""
        from ..destinations import record_delivery

        return self._call(
            lambda r: record_delivery(r, run_iri, body, at, container, space_iri=space_iri)
        )

    def _call(self, operation: Callable[[Registry], T]) -> T:
        return guard.call(self._registry, operation)


def _instant(text: str) -> datetime:
    """An xsd:dateTime's lexical form as a datetime, as rdflib would have made of it."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a form Python does not read: rdflib's parser
        return Literal(text, datatype=XSD.dateTime).toPython()
