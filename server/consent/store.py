"""Where consents live in the registry: one graph per (space, person), written by compare-and-swap.

The datacage reads the same graphs before every pull, so what this module writes is what decides
whether a person's data may be read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar

import pyoxigraph as ox
from rdflib import URIRef

from vocab import DCG, DPV, XSD

from ..audit.trail import AuditTrail, NoAudit
from ..errors import EditConflict, NotFound, Unavailable
from ..protocol.consents import JobConsent
from ..registry import Registry, RegistryConflict, counters, guard
from .model import Consent, ConsentHistory, ConsentState, PodResource
from .rdf import DamagedConsent, history_from_graph, history_graph, history_iri
from .tally import (
    INDEXED,
    ConsentDates,
    ConsentFigures,
    Indexed,
    InForcePlan,
    contributions,
    deltas,
    in_force_index,
    index_deltas,
    index_entry,
    states,
)

__all__ = ["ConsentDates", "ConsentStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 5

_OF_SUBJECT = """
SELECT DISTINCT ?g WHERE { GRAPH ?g { ?g dcg:agent ?me ; dcg:space ?space . } }
"""
_EVERYTHING = """
SELECT DISTINCT ?g WHERE { GRAPH ?g { ?g dcg:space ?space ; dcg:agent ?who . ?c a dpv:Consent } }
"""
# Each person's latest consent to the space: one row per person, however many consented. (Not
# counted in SPARQL: the registry's bindings are a trailing VALUES clause, which would join
# after a GROUP BY instead of filtering before it.)
_LATEST = """
SELECT ?c ?status ?expires WHERE {
  GRAPH ?g {
    ?g dcg:space ?space .
    ?c a dpv:Consent ; dpv:hasConsentStatus ?status ; dcterms:identifier ?number ;
       dcg:expiresAt ?expires .
    FILTER NOT EXISTS {
      ?later a dpv:Consent ; dcterms:identifier ?other . FILTER(?other > ?number)
    }
  }
}
"""
_OF_SPACE = """
SELECT DISTINCT ?g WHERE { GRAPH ?g { ?g dcg:space ?space ; dcg:agent ?who . } }
"""
# Every consent to the space with its dates, and nothing naming the person (the dashboard).
# The dates come as plain strings: turning a thousand xsd:dateTime literals into rdflib terms
# costs twice as much as the query itself, and `datetime.fromisoformat` reads them directly.
_DATES = """
SELECT ?status (STR(?e) AS ?expires) (STR(?gv) AS ?given) (STR(?w) AS ?withdrawn) WHERE {
  GRAPH ?g {
    ?g dcg:space ?space .
    ?c a dpv:Consent ; dpv:hasConsentStatus ?status ; dcg:expiresAt ?e .
    OPTIONAL { ?c dpv:isIndicatedAtTime|dcg:givenAt ?gv }
    OPTIONAL { ?c dcg:withdrawnAt ?w }
  }
}
"""


# A consent a run under terms {terms} may read at {now}: given under exactly those terms, not
# past its expiry, and its person's latest settled consent (a later one may only be a renewal
# still being recorded, which leaves this one in force until it is given). The same rule as
# `server.consent.authority.consents_for_run`, decided inside the store in one pass, so a
# space of 100 000 people costs one query and not 100 000 graph reads. The terms digest comes
# first: it names the space (its hash covers the space's IRI), so the store starts from the
# consents under those terms alone; the batch checks the space as well (`{space_check}`), the
# whole list does not (every person in it is asked about in a batch before being read, and
# each pattern costs a lookup per consent). `{only}` narrows it to the consents a batch asks about,
# outside the GRAPH block (inside it, pyoxigraph 0.5 scans the whole space first). Values are
# pasted as terms pyoxigraph wrote, never as text: the registry's bindings are a trailing
# VALUES clause, which would join after the FILTERs, too late to be cheap. In a history graph
# only consents carry dcterms:identifier (`rdf.add_consent`); saying `a dpv:Consent` there
# too makes pyoxigraph 0.5 start from every consent in the store.
_IN_FORCE = """
SELECT {projection} WHERE {{
  {only}
  GRAPH ?g {{
    ?c dcg:termsDigest {terms} ; {space_check}dpv:hasConsentStatus dpv:ConsentGiven ;
       dcg:expiresAt ?expires ; dcterms:identifier ?number .
    FILTER(?expires > {now})
    FILTER NOT EXISTS {{
      ?later dcterms:identifier ?after .
      FILTER(?after > ?number)
      FILTER(NOT EXISTS {{ ?later dpv:hasConsentStatus dpv:ConsentRequested }}
             || EXISTS {{ ?newer dcterms:identifier ?last . FILTER(?last > ?after) }})
    }}
    {details}
  }}
}}
"""
# Every IRI in one row: 100 000 rows would cost more to hand over than to find.
_ALL_IRIS = "(GROUP_CONCAT(STR(?c); separator=' ') AS ?all)"
# What the datacage needs of each consent in force to read it (the job protocol's `JobConsent`).
_DETAILS = """
    ?c ?p ?o .
    VALUES ?p { dpv:hasDataSubject dcg:readsResource dcg:readsContainer dcg:usageRecords
                dpv:hasPurpose }
"""
# The origin of each resource or container a consent reads (for the pull's plan).
_ORIGINS = """
    ?c dcg:readsResource|dcg:readsContainer ?read .
    BIND(REPLACE(STR(?read), "^([^:/?#]+://[^/?#]+).*$", "$1") AS ?origin)
"""
#: The most consents one batch question may name (`ConsentStore.in_force_among`).
MAX_BATCH = 500


# Everything a recount needs, one row per consent, in one query (the repair path: it reads
# every record of the space once; pages never do).
_RECOUNT = """
SELECT ?g ?c ?number ?status ?terms (STR(?e) AS ?expires) (STR(?gv) AS ?given)
       (STR(?w) AS ?withdrawn)
WHERE {
  GRAPH ?g {
    ?g dcg:space ?space .
    ?c a dpv:Consent ; dpv:hasConsentStatus ?status ; dcg:expiresAt ?e ;
       dcterms:identifier ?number .
    OPTIONAL { ?c dcg:termsDigest ?terms }
    OPTIONAL { ?c dpv:isIndicatedAtTime|dcg:givenAt ?gv }
    OPTIONAL { ?c dcg:withdrawnAt ?w }
  }
}
"""
# What each consent of the space reads (for the in-force index's origins), one row per read.
_RECOUNT_READS = """
SELECT ?c ?read WHERE {
  GRAPH ?g { ?g dcg:space ?space . ?c dcg:readsResource|dcg:readsContainer ?read . }
}
"""
#: Recounts tried before giving up while consents keep being written.
RECOUNT_ATTEMPTS = 5
#: Spaces whose counters one process keeps a copy of (`ConsentStore._readings`).
_KEPT_SPACES = 1000


class ConsentStore:
    """Consent histories in the registry; safe to share between threads."""

    def __init__(
        self, registry: Callable[[], Registry], public_url: str, audit: AuditTrail | None = None
    ):
        self._registry = registry
        self._recounting = threading.Lock()
        # Each space's counters as last read, under the tally's version (`_readings`).
        self._kept: dict[str, tuple[tuple[tuple[int, int], date], list[counters.Reading]]] = {}
        self.public_url = public_url
        self.audit: AuditTrail | NoAudit = audit or NoAudit()  # consents, withdrawals

    def history(self, space_iri: str, subject: str) -> ConsentHistory:
        """This person's consents to this space (an empty history if they never consented)."""
        name = history_iri(self.public_url, space_iri, subject)
        found = self.read(name)
        return found or ConsentHistory(name, space_iri, subject)

    def read(self, name: str) -> ConsentHistory | None:
        stored = self._call(lambda r: r.read(name))
        if stored is None:
            return None
        try:
            return history_from_graph(stored.name, stored.graph, stored.revision)
        except DamagedConsent as exc:
            log.error("damaged consent record", extra={"graph": name, "reason": str(exc)})
            raise Unavailable("A consent record cannot be read; an operator must look.") from exc

    def write(self, history: ConsentHistory) -> None:
        """Compare-and-swap: raises `RegistryConflict` if someone wrote since it was read.

        The space's consent counters change in the same update, by the difference between the
        record as stored (read again here: the revision check makes it the one replaced) and
        as written."""
        expected = history.revision
        graph = history_graph(history)
        before = self.read(history.iri) if expected else None
        if expected and (before is None or before.revision != expected):
            raise RegistryConflict(f"{history.iri} changed since revision {expected}.")
        changes: dict[counters.Counter | counters.Entry, int] = dict(
            deltas(history.space_iri, before, history)
        )
        changes |= index_deltas(history.space_iri, before, history)
        changes[counters.Counter(history.space_iri, counters.WRITES)] = 1
        changes[counters.Counter(history.space_iri, INDEXED)] = 1
        added = [e for e, n in changes.items() if isinstance(e, counters.Entry) and n > 0]
        if added and not self._call(lambda r: r.counts_with_record):
            # A back end that can fail between the record and its counters gets the entry
            # before the record says so (and loses it only with the record): whatever fails,
            # the index holds at least what the records say, and the batch re-check before
            # each read drops the rest. (A lost race leaves an entry too many until the
            # person's next write or a recount.)
            self._call(lambda r: r.execute_update(counters.insert_entries(added)))
        history.revision = self._call(
            lambda r: r.write_counted(
                history.iri, graph, expected_revision=expected, deltas=changes
            )
        )

    def change(
        self, space_iri: str, subject: str, action: Callable[[ConsentHistory], T]
    ) -> tuple[ConsentHistory, T]:
        """Read, apply `action`, write; on a lost race redo the action on the fresh record."""
        for _ in range(MAX_ATTEMPTS):
            history = self.history(space_iri, subject)
            outcome = action(history)
            try:
                self.write(history)
                return history, outcome
            except RegistryConflict:
                continue
        raise EditConflict("Your consent record is being changed elsewhere; please try again.")

    def find(self, key: str, subject: str) -> tuple[ConsentHistory, Consent]:
        """The consent a route names as `<digest>/<number>`, if it is `subject`'s own."""
        digest, _, number = key.partition("/")
        if not (digest.isalnum() and len(digest) == 32 and number.isdigit()):
            raise NotFound("There is no such consent.")
        history = self.read(f"{self.public_url}consents/{digest}")
        consent = history.get(int(number)) if history else None
        if history is None or consent is None or history.subject != subject:
            raise NotFound("There is no such consent.")  # another person's is no different
        return history, consent

    def of_subject(self, subject: str) -> list[ConsentHistory]:
        rows = self._call(lambda r: r.select(_OF_SUBJECT, {"me": URIRef(subject)}))
        return [h for h in (self.read(str(row["g"])) for row in rows) if h]

    def of_space(self, space_iri: str) -> list[ConsentHistory]:
        rows = self._call(lambda r: r.select(_OF_SPACE, {"space": URIRef(space_iri)}))
        return [h for h in (self.read(str(row["g"])) for row in rows) if h]

    def everything(self) -> list[ConsentHistory]:
        rows = self._call(lambda r: r.select(_EVERYTHING))
        return [h for h in (self.read(str(row["g"])) for row in rows) if h]

    def counts(self, space_iri: str, now: datetime) -> dict[ConsentState, int]:
        """How many people's latest consent to the space is in each state (never who), from
        the space's counters: the same cost with 100,000 people as with 100."""
        return states(counters.split_readings(self._readings(space_iri, now), now, ""))

    def figures(self, space_iri: str, now: datetime) -> ConsentFigures:
        """The space's consent figures at `now`, from its counters (a space without counters
        yet, e.g. from before they were kept, is recounted once)."""
        return ConsentFigures.of(self._readings(space_iri, now), now)

    def _readings(self, space_iri: str, now: datetime) -> list[counters.Reading]:
        """The space's counters for `now`'s day (`counters.read`), read again only when the
        tally's version moved or the day changed: every change of a counter moves the version
        in the same update, so a copy kept under the version read *before* it is never stale
        (a write landing in between makes the copy newer than its key, and the next view read
        it again). Within the day, the instants in the copy decide what has ended by `now`."""
        day = now.astimezone(UTC).date()
        version = self._call(lambda r: counters.version(r, space_iri))
        if version is None:
            self._counted(space_iri)
            version = self._call(lambda r: counters.version(r, space_iri))
        kept = self._kept.get(space_iri)
        if kept is not None and version is not None and kept[0] == (version, day):
            return kept[1]
        found = self._call(lambda r: counters.read(r, space_iri, day))
        if version is not None:
            if len(self._kept) >= _KEPT_SPACES:
                self._kept.clear()
            self._kept[space_iri] = ((version, day), found)
        return found

    def _counted(self, space_iri: str) -> None:
        """Make sure the space has counters: recount once if it has none. One recount at a
        time in this process: the views that arrive meanwhile wait for it instead of each
        reading every record (on another process's registry, a recount that lost the race is
        simply not kept)."""
        if self._call(lambda r: counters.writes(r, space_iri)) is not None:
            return
        with self._recounting:
            if self._call(lambda r: counters.writes(r, space_iri)) is None:
                log.warning(
                    "recounting a space without consent counters", extra={"space": space_iri}
                )
                self.recount(space_iri)

    def recount(self, space_iri: str) -> int:
        """Rebuild the space's consent counters from its records (the repair path); return how
        many people were counted. Kept only if no consent was written meanwhile: else count
        again, up to `RECOUNT_ATTEMPTS` times."""
        for _ in range(RECOUNT_ATTEMPTS):
            seen = self._call(lambda r: counters.writes(r, space_iri))
            people, indexed = self._recounted(space_iri)
            total = counters.as_counts(
                item
                for person in people.values()
                for item in contributions(space_iri, person).items()
            )
            for consents in indexed.values():
                entry = index_entry(space_iri, consents)
                if entry is not None:
                    total[entry] = 1
            # Every write counted so far is now in the index (`indexed` below).
            total[counters.Counter(space_iri, INDEXED)] = seen or 0
            if self._call(
                lambda r, t=total, s=seen: counters.replace(r, space_iri, t, expected_writes=s)
            ):
                return len(people)
        raise EditConflict("Consents are being written too fast to recount; try again.")

    def _recounted(
        self, space_iri: str
    ) -> tuple[dict[str, list[tuple[int, ConsentDates]]], dict[str, list[Indexed]]]:
        """Every person's consents, as the counters and as the in-force index need them."""
        # Lexical values: a recount reads every consent, too many for rdflib terms.
        bound = {"space": URIRef(space_iri)}
        rows = self._call(lambda r: r.select_text(_RECOUNT, bound))
        reads: dict[str, list[str]] = {}
        for row in self._call(lambda r: r.select_text(_RECOUNT_READS, bound)):
            reads.setdefault(row["c"], []).append(row["read"])
        people: dict[str, list[tuple[int, ConsentDates]]] = {}
        indexed: dict[str, list[Indexed]] = {}
        states = {str(state.value): state for state in ConsentState}
        for row in rows:
            state, expires = states[row["status"]], datetime.fromisoformat(row["expires"])
            dates = ConsentDates(
                state,
                expires,
                datetime.fromisoformat(row["given"]) if "given" in row else None,
                datetime.fromisoformat(row["withdrawn"]) if "withdrawn" in row else None,
            )
            number = int(row["number"])
            people.setdefault(row["g"], []).append((number, dates))
            consent = Indexed(
                row["c"],
                number,
                state,
                row.get("terms", ""),
                expires,
                tuple(sorted(reads.get(row["c"], ()))),
            )
            indexed.setdefault(row["g"], []).append(consent)
        return people, indexed

    def counts_by_scan(self, space_iri: str, now: datetime) -> dict[ConsentState, int]:
        """`counts` by reading every person's latest consent: the check on the counters."""
        rows = self._call(lambda r: r.select(_LATEST, {"space": URIRef(space_iri)}))
        counts: dict[ConsentState, int] = {}
        for row in rows:
            state = ConsentState(row["status"])
            expires = row["expires"].toPython()  # type: ignore[union-attr]
            if state is ConsentState.GIVEN and isinstance(expires, datetime) and expires <= now:
                state = ConsentState.EXPIRED
            counts[state] = counts.get(state, 0) + 1
        return counts

    def dates(self, space_iri: str) -> list[ConsentDates]:
        """Every consent to the space (all of each person's, oldest or not), in one query."""
        rows = self._call(lambda r: r.select(_DATES, {"space": URIRef(space_iri)}))
        return [
            ConsentDates(
                ConsentState(row["status"]),
                datetime.fromisoformat(row["expires"]),
                datetime.fromisoformat(row["given"]) if "given" in row else None,
                datetime.fromisoformat(row["withdrawn"]) if "withdrawn" in row else None,
            )
            for row in rows
        ]

    def in_force(self, space_iri: str, now: datetime) -> list[Consent]:
        """The consents the datacage may rely on right now, one per person at most."""
        found = []
        for history in self.of_space(space_iri):
            current = history.current(now)
            if current is not None and current.counts_at(now):
                found.append(current)
        return sorted(found, key=lambda c: c.subject)

    def in_force_plan(self, space_iri: str, terms_digest: str, now: datetime) -> InForcePlan:
        """The consents a run under `terms_digest` may read at `now`, with how many read at
        each origin: one read of the space's in-force index (docs/registry.md, "Job
        assembly"), whose size is the people in force, not every record of the space.

        The index may hold more than the records allow (a write that failed half-way), never
        less once built: every consent in it is asked about again, from the records, right
        before its read (`in_force_among`). A space whose index was not kept by every write
        (bulk-loaded records, a registry from before the index) is recounted first."""
        self._indexed(space_iri)
        lines = self._call(
            lambda r: counters.entries_text(r, space_iri, in_force_index(terms_digest))
        )
        return InForcePlan.of(lines, now)

    def _indexed(self, space_iri: str) -> None:
        """Recount once if a counted write since the tally began did not keep the index."""

        def kept(r: Registry) -> bool:
            done = counters.value(r, counters.Counter(space_iri, INDEXED))
            return done is not None and done == counters.writes(r, space_iri)

        if self._call(kept):
            return
        with self._recounting:
            if not self._call(kept):
                log.warning(
                    "rebuilding a space's index of consents in force", extra={"space": space_iri}
                )
                self.recount(space_iri)

    def in_force_iris(self, space_iri: str, terms_digest: str, now: datetime) -> list[str]:
        """The IRIs of every consent a run under `terms_digest` may read at `now`, sorted, from
        the in-force index (`in_force_plan`)."""
        return self.in_force_plan(space_iri, terms_digest, now).iris

    def in_force_iris_by_scan(self, space_iri: str, terms_digest: str, now: datetime) -> list[str]:
        """`in_force_iris` from every record of the space, in one query: the check on the
        index (its cost grows with every consent ever given to the space)."""
        query = _in_force_query(space_iri, terms_digest, now, projection=_ALL_IRIS)
        rows = self._call(lambda r: r.select(query))
        # IRIs hold no spaces (RFC 3987), so the separator cannot split one.
        return sorted({iri for row in rows for iri in str(row.get("all", "")).split(" ") if iri})

    def in_force_origins(self, space_iri: str, terms_digest: str, now: datetime) -> dict[str, int]:
        """How many consents in force for a run under `terms_digest` read at each origin, from
        the in-force index (`in_force_plan`)."""
        return self.in_force_plan(space_iri, terms_digest, now).origins

    def in_force_origins_by_scan(
        self, space_iri: str, terms_digest: str, now: datetime
    ) -> dict[str, int]:
        """`in_force_origins` from every record of the space, counted by the store in one
        query (`scheme://host[:port]` of each consented resource or container): the check on
        the index. A consent reading at two origins counts at both."""
        query = (
            _in_force_query(
                space_iri,
                terms_digest,
                now,
                projection="?origin (COUNT(DISTINCT ?c) AS ?n)",
                details=_ORIGINS,
            )
            + " GROUP BY ?origin"
        )
        rows = self._call(lambda r: r.select_text(query))
        return {row["origin"]: int(row["n"]) for row in rows if row.get("origin")}

    def in_force_among(
        self, space_iri: str, terms_digest: str, iris: list[str], now: datetime
    ) -> dict[str, JobConsent]:
        """Which of `iris` (at most `MAX_BATCH`) a run under `terms_digest` may read at `now`,
        each with what a read needs; one query. An IRI of another space, of an older consent
        or of nothing at all is simply absent: the answer is the same for all three."""
        if len(iris) > MAX_BATCH:
            raise ValueError(f"At most {MAX_BATCH} consents per question.")
        nodes = []
        for iri in dict.fromkeys(iris):
            try:
                nodes.append(str(ox.NamedNode(iri)))  # RFC 3987-checked, so safe to paste
            except ValueError:
                continue  # not an IRI: no consent has it
        if not nodes:
            return {}
        query = _in_force_query(
            space_iri,
            terms_digest,
            now,
            projection="?c ?p ?o",
            only="VALUES ?c { " + " ".join(nodes) + " }",
            details=_DETAILS,
        )
        rows = self._call(lambda r: r.select(query))
        return _in_force_details(rows)

    def _call(self, operation: Callable[[Registry], T]) -> T:
        return guard.call(self._registry, operation)


def _in_force_query(
    space_iri: str,
    terms_digest: str,
    now: datetime,
    *,
    projection: str,
    only: str = "",
    details: str = "",
) -> str:
    return _IN_FORCE.format(
        projection=projection,
        only=only,
        details=details,
        space_check=f"dcg:space {ox.NamedNode(space_iri)} ; " if only else "",
        terms=ox.Literal(terms_digest),
        now=ox.Literal(now.isoformat(), datatype=ox.NamedNode(str(XSD.dateTime))),
    )


def _in_force_details(rows: list) -> dict[str, JobConsent]:
    found: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        values = found.setdefault(str(row["c"]), {})
        values.setdefault(str(row["p"]), []).append(str(row["o"]))
    answer = {}
    for iri, values in found.items():
        subjects = values.get(str(DPV.hasDataSubject), [])
        if len(subjects) != 1:
            log.error("damaged consent record", extra={"consent": iri})
            continue  # a consent naming no one, or two people, is read for no one
        resources = [PodResource(u) for u in values.get(str(DCG.readsResource), [])]
        resources += [PodResource(u, True) for u in values.get(str(DCG.readsContainer), [])]
        usage = values.get(str(DCG.usageRecords))
        answer[iri] = JobConsent(
            iri,
            subjects[0],
            tuple(sorted(resources, key=lambda r: r.url)),
            usage[0] if usage else None,
            tuple(sorted(values.get(str(DPV.hasPurpose), []))),
        )
    return answer
