"""A run's job read from the space's index of consents in force, kept in the same write as the
records: withdrawals, expiry, renewals under new terms, crashes, bulk loads and races, on every
registry back end (in memory, on disk, `oxigraph serve`, Virtuoso)."""

# ruff: noqa: F811 - the shared `registry` fixture is a parameter of every test

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from connectors.origins import origin_of
from server.consent.authority import consents_for_run
from server.consent.model import ConsentHistory, ConsentState, PodResource
from server.consent.rdf import history_graph
from server.consent.store import ConsentStore
from server.consent.tally import INDEXED, in_force_index
from server.errors import EditConflict
from server.registry import EmbeddedRegistry, counters, open_registry
from tests.support.registries import oxigraph, registry  # noqa: F401 - fixtures by name
from tests.support.tally_world import (
    NOW,
    PUBLIC,
    SPACE,
    TwoStepRegistry,
    give,
    new_consent,
    webid,
    withdraw,
)

TERMS = "sha256:" + "2" * 64  # the terms `new_consent` gives under
NEW_TERMS = "sha256:" + "3" * 64
LATER = NOW + timedelta(days=30)


def plan(store: ConsentStore, now=NOW, terms=TERMS) -> list[str]:
    return store.in_force_plan(SPACE, terms, now).iris


def assert_index_equals_the_records(store: ConsentStore, now=NOW, terms=TERMS) -> None:
    """The job from the index against the rule applied history by history, and against the
    one-query scan of every record, with the same counts per origin."""
    by_history = consents_for_run(store, SPACE, now, terms_digest=terms).included
    found = store.in_force_plan(SPACE, terms, now)
    assert found.iris == sorted(c.iri for c in by_history)
    assert found.iris == store.in_force_iris_by_scan(SPACE, terms, now)
    scanned = Counter()  # the scan spells origins as found, the index as the plan does
    for origin, n in store.in_force_origins_by_scan(SPACE, terms, now).items():
        scanned[origin_of(origin)] += n
    assert found.origins == dict(scanned)


def index_lines(registry, terms=TERMS) -> list[str]:
    return counters.entries_text(registry, SPACE, in_force_index(terms))


def consent_of(store: ConsentStore, n: int, number: int = -1):
    return store.history(SPACE, webid(n)).consents[number]


def test_a_withdrawal_leaves_the_index_in_the_same_write(registry):
    store = ConsentStore(lambda: registry, PUBLIC)
    for n in range(3):
        give(store, n, NOW - timedelta(days=1), LATER)
    assert len(plan(store)) == 3
    withdrawn = consent_of(store, 1).iri
    withdraw(store, 1, NOW)
    assert withdrawn not in plan(store)
    assert not any(withdrawn in line for line in index_lines(registry))
    assert_index_equals_the_records(store)


def test_an_expiry_passing_drops_the_consent_with_no_write_at_all(registry):
    store = ConsentStore(lambda: registry, PUBLIC)
    ends = NOW + timedelta(hours=2)
    give(store, 1, NOW - timedelta(days=1), ends)
    give(store, 2, NOW - timedelta(days=1), LATER)
    ending = consent_of(store, 1).iri
    assert ending in plan(store, ends - timedelta(microseconds=1))
    # The line is still there: the index is never trusted to say a consent still counts.
    assert any(ending in line for line in index_lines(registry))
    assert ending not in plan(store, ends)
    for now in (ends - timedelta(seconds=1), ends, ends + timedelta(days=1)):
        assert_index_equals_the_records(store, now)


def test_a_renewal_under_new_terms_moves_the_person_to_the_new_terms_only_once_given(registry):
    store = ConsentStore(lambda: registry, PUBLIC)
    give(store, 1, NOW - timedelta(days=1), LATER)
    old = consent_of(store, 1).iri

    def ask(history: ConsentHistory) -> None:  # the renewal, being recorded
        renewal = new_consent(history, NOW, LATER)
        history.consents.append(
            replace(renewal, terms_digest=NEW_TERMS, state=ConsentState.REQUESTED, given_at=None)
        )

    store.change(SPACE, webid(1), ask)
    # Still in force under the old terms until the renewal is given; nothing under the new.
    assert plan(store) == [old]
    assert plan(store, terms=NEW_TERMS) == []

    def given(history: ConsentHistory) -> None:
        history.consents[-1].state = ConsentState.GIVEN
        history.consents[-1].given_at = NOW

    store.change(SPACE, webid(1), given)
    renewed = consent_of(store, 1).iri
    assert plan(store) == []
    assert plan(store, terms=NEW_TERMS) == [renewed]
    assert not index_lines(registry)  # the old terms' index lost the person's line
    for terms in (TERMS, NEW_TERMS):
        assert_index_equals_the_records(store, terms=terms)


def test_records_written_without_the_index_are_indexed_before_the_first_job(registry):
    """Bulk-loaded records, a registry from before the index, a writer of an older release:
    a write that did not keep the index makes the next job rebuild it from the records."""
    store = ConsentStore(lambda: registry, PUBLIC)
    give(store, 1, NOW - timedelta(days=1), LATER)
    for n in (2, 3):  # as an older release wrote them: the record and its counters only
        history = ConsentHistory(store.history(SPACE, webid(n)).iri, SPACE, webid(n))
        history.consents.append(new_consent(history, NOW - timedelta(days=1), LATER))
        registry.write_counted(
            history.iri,
            history_graph(history),
            expected_revision=0,
            deltas={counters.Counter(SPACE, counters.WRITES): 1},
        )
    assert len(index_lines(registry)) == 1
    assert len(plan(store)) == 3
    assert counters.value(registry, counters.Counter(SPACE, INDEXED)) == counters.writes(
        registry, SPACE
    )
    assert_index_equals_the_records(store)


def test_a_crash_between_the_record_and_the_index_never_lets_a_withdrawn_consent_be_read():
    """A back end that writes the record and then its counters and index can crash in between:
    the index then holds a consent the record says is withdrawn. The batch re-check before
    each read (from the records) leaves it out, and the repair path drops it from the index."""
    with TwoStepRegistry() as registry:
        store = ConsentStore(lambda: registry, PUBLIC)
        give(store, 1, NOW - timedelta(days=1), LATER)
        give(store, 2, NOW - timedelta(days=1), LATER)
        withdrawn = consent_of(store, 1)
        registry.crash = True
        with pytest.raises(Exception, match="crashed"):
            withdraw(store, 1, NOW)
        registry.crash = False
        assert consent_of(store, 1).state is ConsentState.WITHDRAWN
        assert withdrawn.iri in plan(store)  # a superset: the index lags the record ...
        asked = store.in_force_among(SPACE, TERMS, plan(store), NOW)
        assert withdrawn.iri not in asked  # ... and the re-check before the read says no
        assert consent_of(store, 2).iri in asked
        store.recount(SPACE)  # the repair path
        assert withdrawn.iri not in plan(store)
        assert_index_equals_the_records(store)


class CrashAfterRecord(EmbeddedRegistry):
    """The record written, then a crash before its counters and index (a two-step back end)."""

    counts_with_record = False

    def write_counted(self, name, graph, *, expected_revision, deltas):
        revision = EmbeddedRegistry.write_counted(
            self, name, graph, expected_revision=expected_revision, deltas={}
        )
        raise RuntimeError(f"crashed after writing revision {revision}")


def test_a_consent_given_is_in_the_index_before_its_record_says_so():
    """The other half of a crash between record and index: a consent whose record says given
    is in the job even if the update after the record never ran (the index is a superset)."""
    with CrashAfterRecord() as registry:
        store = ConsentStore(lambda: registry, PUBLIC)
        store.recount(SPACE)  # a tally that kept the index so far (no recount needed)
        with pytest.raises(RuntimeError, match="crashed"):
            give(store, 1, NOW - timedelta(days=1), LATER)
        assert consent_of(store, 1).state is ConsentState.GIVEN
        assert plan(store) == [consent_of(store, 1).iri]


def test_two_resources_at_two_origins_count_at_both(registry):
    store = ConsentStore(lambda: registry, PUBLIC)

    def two(history: ConsentHistory) -> None:
        made = new_consent(history, NOW - timedelta(days=1), LATER)
        reads = (
            PodResource("https://a.example:8443/x.ttl"),
            PodResource("https://b.example/d/", True),
        )
        history.consents.append(replace(made, resources=reads))

    store.change(SPACE, webid(1), two)
    give(store, 2, NOW - timedelta(days=1), LATER)
    found = store.in_force_plan(SPACE, TERMS, NOW).origins
    assert found == {"https://a.example:8443": 1, "https://b.example": 1, "https://p1.example": 1}
    assert_index_equals_the_records(store)


def test_concurrent_gives_and_withdrawals_leave_the_index_equal_to_the_records(registry):
    store = ConsentStore(lambda: registry, PUBLIC)
    people, threads = 10, 6
    failures: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
        for _ in range(8):
            n = rng.randrange(people)
            try:
                if rng.random() < 0.6:
                    ends = NOW + timedelta(hours=rng.choice((-5, 1, 300)))
                    give(store, n, NOW - timedelta(days=3), ends)
                else:
                    withdraw(store, n, NOW - timedelta(hours=1))
            except EditConflict:
                continue
            except BaseException as error:
                failures.append(error)

    crew = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
    for thread in crew:
        thread.start()
    for thread in crew:
        thread.join()
    assert not failures, failures
    for now in (NOW, NOW + timedelta(hours=2)):
        if registry.counts_with_record:
            assert_index_equals_the_records(store, now)
        # Elsewhere a lost race may leave an entry too many, never one too few, and the batch
        # re-check from the records says exactly who may be read.
        truth = store.in_force_iris_by_scan(SPACE, TERMS, now)
        found = plan(store, now)
        assert set(truth) <= set(found)
        assert sorted(store.in_force_among(SPACE, TERMS, found, now)) == truth


class QueryLog(EmbeddedRegistry):
    def __init__(self):
        super().__init__()
        self.queries: list[str] = []

    def select(self, query, bindings=None):
        self.queries.append(query)
        return super().select(query, bindings)

    def select_text(self, query, bindings=None):
        self.queries.append(query)
        return super().select_text(query, bindings)


def test_a_job_reads_the_index_and_no_consent_record():
    """The claim's cost grows with the people in force, not with every record of the space:
    no query of it matches a pattern over every graph (`GRAPH ?g`)."""
    with QueryLog() as registry:
        store = ConsentStore(lambda: registry, PUBLIC)
        for n in range(5):
            give(store, n, NOW - timedelta(days=1), LATER)
        withdraw(store, 3, NOW)
        registry.queries.clear()
        assert len(store.in_force_plan(SPACE, TERMS, NOW).iris) == 4
        assert registry.queries
        assert not [q for q in registry.queries if "GRAPH ?" in q]


def test_recounts_replace_the_index_whole_however_often_they_run(registry):
    """A recount writes each index graph's entries under one statement of whose tally the
    graph is (not one per entry): the next recount must still find and replace all of them,
    so a withdrawal written without the index (an older release) leaves no line behind after
    the next recount, and nothing is ever listed twice."""
    store = ConsentStore(lambda: registry, PUBLIC)
    for n in range(1, 7):
        give(store, n, NOW - timedelta(days=1), LATER)
    store.recount(SPACE)
    history = store.history(SPACE, webid(2))
    history.consents[-1].state = ConsentState.WITHDRAWN
    history.consents[-1].withdrawn_at = NOW
    registry.write_counted(  # the record and its write count only, as an older release did
        history.iri,
        history_graph(history),
        expected_revision=history.revision,
        deltas={counters.Counter(SPACE, counters.WRITES): 1},
    )
    assert len(index_lines(registry)) == 6  # the withdrawn consent is still listed ...
    store.recount(SPACE)
    store.recount(SPACE)
    lines = index_lines(registry)
    assert len(lines) == len(set(lines)) == 5  # ... until a recount rebuilds the index
    assert len(plan(store)) == 5
    assert_index_equals_the_records(store)


def _lines(count: int, width: int) -> list[counters.Entry]:
    index = in_force_index(TERMS)
    pad = "https://pod.example/" + "p" * width  # origins make a line long, as a person's may
    return [
        counters.Entry(SPACE, index, f"{SPACE}/consents/{n}#c", f"{n:08d} {pad}")
        for n in range(count)
    ]


def test_an_index_is_read_whole_on_every_back_end(registry):
    """One row of every line where values are not limited, up to 256 rows where they are:
    either way every line, once."""
    entries = _lines(3000, 40)
    for start in range(0, len(entries), 500):  # Virtuoso's SPARQL compiler takes ~500 at once
        registry.execute_update(counters.insert_entries(entries[start : start + 500]))
    lines = index_lines(registry)
    assert sorted(lines) == sorted(entry.text for entry in entries)


def test_an_index_larger_than_a_sparql_results_value_may_be_is_still_read(oxigraph):
    """Read in one row, 20 MB of index lines (a space of some 100,000 people) made a value
    past pyoxigraph's 16 MiB limit for SPARQL JSON results, and the claim failed."""
    oxigraph.reset()
    entries = _lines(20_000, 900)  # ~19 MB of lines
    with open_registry(
        sparql_query_url=oxigraph.query_url, sparql_update_url=oxigraph.update_url
    ) as registry:
        for start in range(0, len(entries), 5000):
            registry.execute_update(counters.insert_entries(entries[start : start + 5000]))
        assert len(index_lines(registry)) == len(entries)
