"""Consent counters kept in the same write as the records: exact under races, crashes and the
passing of time, on every registry back end (in memory, on disk, `oxigraph serve`, Virtuoso)."""

# ruff: noqa: F811 - the shared `registry` fixture is a parameter of every test

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

import pytest

from server.consent.model import ConsentState
from server.consent.store import ConsentStore
from server.dashboard import figures as f
from server.errors import EditConflict, Unavailable
from server.registry import EmbeddedRegistry, Registry, counters
from tests.support.registries import oxigraph, registry  # noqa: F401 - fixtures by name
from tests.support.tally_world import (
    NOW,
    PUBLIC,
    SPACE,
    TwoStepRegistry,
    give,
    webid,
    withdraw,
)


def assert_figures_equal_a_recount(store: ConsentStore, now: datetime) -> None:
    """The counters' figures against a full scan of the records, for both pages."""
    counted = store.figures(SPACE, now)
    by_scan = store.counts_by_scan(SPACE, now)
    assert counted.states == by_scan  # the dashboard's reading of the counters
    assert store.counts(SPACE, now) == by_scan  # the overview's, summed by the store
    from_records = f.per_day(store.dates(SPACE), now, at_least=f.MIN_DAYS)
    from_counters = f.days_of(
        counted.given, counted.withdrawn, counted.expired, now, at_least=f.MIN_DAYS
    )
    assert from_counters == from_records


# --- Races -------------------------------------------------------------------------------------


def test_concurrent_gives_and_withdrawals_leave_figures_equal_to_a_recount(registry):
    store = ConsentStore(lambda: registry, PUBLIC)
    people, threads = 12, 6
    # Ends spread over past days, today before and after noon, and later days.
    ends = [NOW + timedelta(hours=h) for h in (-70, -30, -3, -1, 1, 5, 30, 200)]

    failures: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
        for _ in range(10):
            n = rng.randrange(people)
            try:
                if rng.random() < 0.6:
                    given = NOW - timedelta(days=rng.randrange(10), hours=rng.randrange(24))
                    give(store, n, given, max(rng.choice(ends), given + timedelta(minutes=1)))
                else:
                    withdraw(store, n, NOW - timedelta(hours=rng.randrange(48)))
            except EditConflict:
                continue  # lost the race five times: the person is told to try again
            except BaseException as error:
                failures.append(error)

    crew = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
    for thread in crew:
        thread.start()
    for thread in crew:
        thread.join()
    assert not failures, failures
    assert sum(store.counts_by_scan(SPACE, NOW).values()) > 0
    for now in (NOW, NOW + timedelta(hours=2), NOW + timedelta(days=3)):
        assert_figures_equal_a_recount(store, now)


def test_a_withdrawal_shows_on_the_next_view(registry):
    store = ConsentStore(lambda: registry, PUBLIC)
    give(store, 1, NOW - timedelta(days=1), NOW + timedelta(days=30))
    give(store, 2, NOW - timedelta(days=1), NOW + timedelta(days=30))
    assert store.counts(SPACE, NOW) == {ConsentState.GIVEN: 2}
    withdraw(store, 1, NOW)
    assert store.counts(SPACE, NOW) == {ConsentState.GIVEN: 1, ConsentState.WITHDRAWN: 1}
    assert_figures_equal_a_recount(store, NOW)


def test_consents_ending_today_count_as_expired_to_the_second(registry):
    store = ConsentStore(lambda: registry, PUBLIC)
    for n, hours in enumerate((-2, 2, 30)):
        give(store, n, NOW - timedelta(days=3), NOW + timedelta(hours=hours))
    assert store.counts(SPACE, NOW) == {ConsentState.GIVEN: 2, ConsentState.EXPIRED: 1}
    ending = NOW + timedelta(hours=2)
    assert store.counts(SPACE, ending - timedelta(seconds=1))[ConsentState.GIVEN] == 2
    assert store.counts(SPACE, ending)[ConsentState.GIVEN] == 1
    for now in (ending - timedelta(seconds=1), ending, NOW + timedelta(days=2)):
        assert_figures_equal_a_recount(store, now)


# --- Crashes and repairs -----------------------------------------------------------------------


def test_the_record_and_its_counters_change_together_or_not_at_all(monkeypatch):
    """An update failing after the record's part has run leaves neither changed."""
    with EmbeddedRegistry() as registry:
        store = ConsentStore(lambda: registry, PUBLIC)
        give(store, 1, NOW - timedelta(days=1), NOW + timedelta(days=30))
        before = registry.read(store.history(SPACE, webid(1)).iri)
        real = counters.increments

        def failing(deltas, guard=""):  # the counters' part fails once the record's has run
            return [*real(deltas, guard), "LOAD <http://127.0.0.1:9/unreachable.ttl>"]

        monkeypatch.setattr("server.registry.embedded.increments", failing)
        with pytest.raises(Exception, match="registry"):
            withdraw(store, 1, NOW)
        monkeypatch.undo()
        after = registry.read(before.name)
        assert after.revision == before.revision
        assert store.counts(SPACE, NOW) == {ConsentState.GIVEN: 1}
        assert_figures_equal_a_recount(store, NOW)


def test_a_crash_between_record_and_counters_is_repaired_by_a_recount():
    with TwoStepRegistry() as registry:
        store = ConsentStore(lambda: registry, PUBLIC)
        give(store, 1, NOW - timedelta(days=1), NOW + timedelta(days=30))
        give(store, 2, NOW - timedelta(days=1), NOW + timedelta(days=30))
        registry.crash = True
        with pytest.raises(Exception, match="crashed"):
            withdraw(store, 1, NOW)
        registry.crash = False
        # The record was saved, its counters were not: the figures lag behind...
        assert store.counts_by_scan(SPACE, NOW) == {
            ConsentState.GIVEN: 1,
            ConsentState.WITHDRAWN: 1,
        }
        assert store.counts(SPACE, NOW) == {ConsentState.GIVEN: 2}
        # ... until the repair path recounts them from the records.
        assert store.recount(SPACE) == 2
        assert_figures_equal_a_recount(store, NOW)


def test_a_recount_is_not_kept_if_a_consent_was_written_meanwhile(registry):
    store = ConsentStore(lambda: registry, PUBLIC)
    give(store, 1, NOW - timedelta(days=1), NOW + timedelta(days=30))
    seen = counters.writes(registry, SPACE)
    stale = {counters.Counter(SPACE, "person-withdrawn"): 5}
    give(store, 2, NOW - timedelta(days=1), NOW + timedelta(days=30))  # lands mid-recount
    assert not counters.replace(registry, SPACE, stale, expected_writes=seen)
    assert store.counts(SPACE, NOW) == {ConsentState.GIVEN: 2}


def test_a_space_without_counters_is_recounted_on_first_view(registry):
    """Consents written before counters were kept (or bulk-loaded) are counted once."""
    store = ConsentStore(lambda: registry, PUBLIC)
    for n in range(3):
        give(store, n, NOW - timedelta(days=n + 1), NOW + timedelta(days=n - 1))
    registry.execute_update(
        f"DROP SILENT GRAPH <{counters.tally_iri(SPACE)}> ; "
        f"DROP SILENT GRAPH <{counters.day_graph(SPACE, NOW.date())}>"
    )
    assert_figures_equal_a_recount(store, NOW)


# --- Cost --------------------------------------------------------------------------------------


class CountingRegistry(EmbeddedRegistry):
    """Counts the items queries return (rows, and lines of a value that packs many): what a
    page's cost grows with."""

    rows = 0

    def select(self, query, bindings=None):
        found = super().select(query, bindings)
        self.rows += len(found)
        return found

    def select_text(self, query, bindings=None):
        found = super().select_text(query, bindings)
        self.rows += sum(value.count("\n") + 1 for row in found for value in row.values())
        return found


@pytest.mark.parametrize("view", ["counts", "figures"])
def test_the_pages_figures_read_as_many_rows_for_200_people_as_for_10(view):
    read = {}
    for people in (10, 200):
        with CountingRegistry() as registry:
            store = ConsentStore(lambda registry=registry: registry, PUBLIC)
            for n in range(people):
                # All given on the same 3 days, ending on the same 3 later days (minutes apart).
                given = NOW - timedelta(days=n % 3, minutes=n)
                give(store, n, given, NOW + timedelta(days=1 + n % 3, minutes=n))
            registry.rows = 0
            getattr(store, view)(SPACE, NOW)
            read[people] = registry.rows
    assert read[200] == read[10] > 1, read


def test_my_data_reads_one_persons_uses_however_many_others_were_used():
    """What My data reads grows with the person's own uses, not with everyone's."""
    from server.consent.usage import record_results_sent, record_use, uses_of

    read = {}
    for others in (5, 100):
        with CountingRegistry() as registry:
            store = ConsentStore(lambda registry=registry: registry, PUBLIC)
            run = PUBLIC + f"runs/r{others}"
            for n in range(others + 1):
                give(store, n, NOW - timedelta(days=1), NOW + timedelta(days=30))
                consent = store.history(SPACE, webid(n)).consents[-1]
                record_use(registry, run, consent, [], NOW, "sha256:" + "1" * 64)
            record_results_sent(registry, run, ["https://insights.example/profile/card#me"])
            registry.rows = 0
            [use] = uses_of(registry, webid(0))
            assert use.results_sent_to == ("https://insights.example/profile/card#me",)
            read[others] = registry.rows
    assert read[100] == read[5], read


def test_views_arriving_together_at_a_space_without_counters_recount_it_once(monkeypatch):
    """A thundering herd on a space loaded behind the registry's back reads its records once."""
    with EmbeddedRegistry() as registry:
        store = ConsentStore(lambda: registry, PUBLIC)
        for n in range(20):
            give(store, n, NOW - timedelta(days=1), NOW + timedelta(days=n - 10))
        registry.execute_update(
            f"DROP SILENT GRAPH <{counters.tally_iri(SPACE)}> ; "
            f"DROP SILENT GRAPH <{counters.day_graph(SPACE, NOW.date())}>"
        )
        real, scans = store._recounted, []

        def counted(space_iri):
            scans.append(space_iri)
            return real(space_iri)

        monkeypatch.setattr(store, "_recounted", counted)
        answers: list[dict] = []
        crew = [
            threading.Thread(target=lambda: answers.append(store.counts(SPACE, NOW)))
            for _ in range(8)
        ]
        for thread in crew:
            thread.start()
        for thread in crew:
            thread.join()
        assert len(scans) == 1
        assert answers == [store.counts_by_scan(SPACE, NOW)] * 8


class NoUpdatesRegistry(EmbeddedRegistry):
    """A back end that implements only the contract's abstract methods."""

    execute_update = Registry.execute_update
    write_counted = Registry.write_counted

    def write(self, name, graph, *, expected_revision):
        return EmbeddedRegistry.write_counted(
            self, name, graph, expected_revision=expected_revision, deltas={}
        )


def test_a_back_end_that_cannot_count_refuses_before_writing_the_record():
    with NoUpdatesRegistry() as registry:
        store = ConsentStore(lambda: registry, PUBLIC)
        with pytest.raises(Unavailable, match="cannot run SPARQL updates"):
            give(store, 1, NOW - timedelta(days=1), NOW + timedelta(days=30))
        assert store.history(SPACE, webid(1)).revision == 0  # nothing half written


def test_a_view_sees_a_write_or_a_repair_made_by_another_process(registry):
    """Each process keeps a copy of the counters under the tally's version: a write or a
    recount made elsewhere (another worker, another server) moves it."""
    here, there = ConsentStore(lambda: registry, PUBLIC), ConsentStore(lambda: registry, PUBLIC)
    give(there, 1, NOW - timedelta(days=1), NOW + timedelta(days=30))
    give(there, 2, NOW - timedelta(days=1), NOW + timedelta(days=30))
    assert here.counts(SPACE, NOW) == {ConsentState.GIVEN: 2}
    withdraw(there, 1, NOW)
    assert here.counts(SPACE, NOW) == {ConsentState.GIVEN: 1, ConsentState.WITHDRAWN: 1}
    assert here.figures(SPACE, NOW).states == here.counts(SPACE, NOW)
    # Counters damaged, and seen damaged here; then a repair elsewhere, which changes the
    # figures without counting a write.
    registry.execute_update(
        f"DELETE WHERE {{ GRAPH <{counters.tally_iri(SPACE)}> {{ "
        f"<{counters.tally_iri(SPACE)}#person-withdrawn> ?p ?o }} }}"
    )
    damaged = ConsentStore(lambda: registry, PUBLIC)  # a process started after the damage
    assert damaged.counts(SPACE, NOW) == {ConsentState.GIVEN: 1}
    there.recount(SPACE)
    assert damaged.counts(SPACE, NOW) == {ConsentState.GIVEN: 1, ConsentState.WITHDRAWN: 1}
    assert_figures_equal_a_recount(damaged, NOW)
