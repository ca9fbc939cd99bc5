"""The audit chain in an in-memory registry: appends under compare-and-swap, and `verify`
naming the entry an attacker edited, deleted or moved by writing the store directly."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from rdflib import Literal, URIRef

from server.audit import GENESIS, AuditTrail, ChainBroken, verify_space
from server.audit.entry import entry_iri, head_iri
from server.registry import EmbeddedRegistry
from vocab import DCTERMS

PUBLIC_URL = "http://localhost:5000/"
SPACE = PUBLIC_URL + "spaces/abc"
OTHER = PUBLIC_URL + "spaces/xyz"
OWNER = "https://owner.example/profile/card#me"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry():
    with EmbeddedRegistry(None) as registry:
        yield registry


@pytest.fixture
def trail(registry) -> AuditTrail:
    return AuditTrail(lambda: registry, PUBLIC_URL, clock=lambda: T0)


def fill(trail: AuditTrail, count: int, space: str = SPACE) -> None:
    for n in range(count):
        trail.record(space, "space-edited", OWNER, f"Edit {n}.", at=T0 + timedelta(minutes=n))


def test_entries_chain_from_genesis_and_verify_intact(trail, registry):
    fill(trail, 4)
    fill(trail, 2, OTHER)
    entries = trail.entries(SPACE)
    assert [e.sequence for e in entries] == [0, 1, 2, 3]
    assert entries[0].previous_hash == GENESIS
    assert all(b.previous_hash == a.hash for a, b in itertools.pairwise(entries))
    assert entries[2].event.summary == "Edit 2."
    assert entries[2].event.about == (SPACE,)
    intact = verify_space(trail, registry, SPACE)
    assert (intact.entries, intact.head_hash) == (4, entries[-1].hash)
    assert verify_space(trail, registry, OTHER).entries == 2  # one chain per space
    assert trail.spaces() == [SPACE, OTHER]


def test_concurrent_appends_never_fork_or_lose_an_entry(trail, registry):
    def append(worker: int) -> None:
        for n in range(10):
            trail.record(SPACE, "space-edited", OWNER, f"{worker}-{n}")

    threads = [threading.Thread(target=append, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = trail.entries(SPACE)
    assert len(entries) == 60
    assert sorted(e.event.summary for e in entries) == sorted(
        f"{w}-{n}" for w in range(6) for n in range(10)
    )
    assert verify_space(trail, registry, SPACE).entries == 60


def test_an_append_walks_past_entries_the_head_does_not_know(trail, registry):
    fill(trail, 3)
    stored = registry.read(head_iri(SPACE))
    # A crash between an entry's write and its head's: the head still names entry 0.
    first = trail.entries(SPACE)[0]
    head = stored.graph
    from vocab import DCG

    head.set((URIRef(head_iri(SPACE)), DCG.sequence, Literal(0)))
    head.set((URIRef(head_iri(SPACE)), DCG.eventHash, Literal(first.hash)))
    registry.write(head_iri(SPACE), head, expected_revision=stored.revision)
    assert verify_space(trail, registry, SPACE).entries == 3  # a lagging head is no break
    entry = trail.record(SPACE, "space-closed", OWNER, "Closed.")
    assert entry is not None
    assert entry.sequence == 3
    assert verify_space(trail, registry, SPACE).entries == 4


# --- An attacker with write access to the store ------------------------------------------------


def test_an_edited_entry_is_named(trail, registry):
    fill(trail, 5)
    name = entry_iri(SPACE, 2)
    stored = registry.read(name)
    stored.graph.set((URIRef(name), DCTERMS.description, Literal("Nothing happened.")))
    registry.write(name, stored.graph, expected_revision=stored.revision)
    with pytest.raises(ChainBroken) as caught:
        verify_space(trail, registry, SPACE)
    assert caught.value.entry == name
    assert "changed" in caught.value.reason


def test_an_edited_entry_with_its_hash_recomputed_breaks_the_next_link(trail, registry):
    from server.audit.entry import content_hash
    from vocab import DCG

    fill(trail, 5)
    name = entry_iri(SPACE, 2)
    stored = registry.read(name)
    graph = stored.graph
    graph.set((URIRef(name), DCTERMS.description, Literal("Nothing happened.")))
    graph.set((URIRef(name), DCG.eventHash, Literal(content_hash(graph))))
    registry.write(name, graph, expected_revision=stored.revision)
    with pytest.raises(ChainBroken) as caught:
        verify_space(trail, registry, SPACE)
    assert caught.value.entry == entry_iri(SPACE, 3)
    assert "does not chain" in caught.value.reason


def test_a_deleted_entry_is_named(trail, registry):
    fill(trail, 5)
    name = entry_iri(SPACE, 1)
    registry.delete(name, expected_revision=registry.revision(name))
    with pytest.raises(ChainBroken) as caught:
        verify_space(trail, registry, SPACE)
    assert caught.value.entry == name
    assert "missing" in caught.value.reason


def test_a_deleted_last_entry_is_named_by_the_head(trail, registry):
    fill(trail, 3)
    name = entry_iri(SPACE, 2)
    registry.delete(name, expected_revision=registry.revision(name))
    with pytest.raises(ChainBroken) as caught:
        verify_space(trail, registry, SPACE)
    assert caught.value.entry == name
    assert "deleted" in caught.value.reason


def test_reordered_entries_are_named(trail, registry):
    fill(trail, 5)
    first, second = entry_iri(SPACE, 1), entry_iri(SPACE, 2)
    a, b = registry.read(first), registry.read(second)

    def renamed(graph, old: str, new: str):
        # Move the entry wholesale under the other name, as an attacker would.
        out = type(graph)()
        swap = {URIRef(old): URIRef(new), URIRef(old + "#activity"): URIRef(new + "#activity")}
        for s, p, o in graph:
            out.add((swap.get(s, s), p, swap.get(o, o)))
        return out

    registry.write(first, renamed(b.graph, second, first), expected_revision=a.revision)
    registry.write(second, renamed(a.graph, first, second), expected_revision=b.revision)
    with pytest.raises(ChainBroken) as caught:
        verify_space(trail, registry, SPACE)
    assert caught.value.entry == first
    assert "reordered" in caught.value.reason


def test_reordering_by_swapping_contents_under_their_names_is_named(trail, registry):
    fill(trail, 4)
    first, second = entry_iri(SPACE, 1), entry_iri(SPACE, 2)
    a, b = registry.read(first), registry.read(second)
    registry.write(first, b.graph, expected_revision=a.revision)
    registry.write(second, a.graph, expected_revision=b.revision)
    with pytest.raises(ChainBroken) as caught:
        verify_space(trail, registry, SPACE)
    assert caught.value.entry == first


def test_a_failing_registry_never_fails_the_action(registry, caplog):
    class Broken:
        def read(self, name):
            from server.registry import RegistryUnavailable

            raise RegistryUnavailable("The registry is down; nothing was saved.")

    trail = AuditTrail(lambda: Broken(), PUBLIC_URL)  # type: ignore[arg-type,return-value]
    assert trail.record(SPACE, "space-edited", OWNER, "Edited.") is None
    assert "audit entry not appended" in caplog.text


# --- `datacage audit verify` -------------------------------------------------------------------


def test_the_command_exits_0_when_intact_and_1_naming_the_entry(tmp_path, monkeypatch):
    from server import create_app
    from server.cli import main
    from server.services import services

    for name in [n for n in __import__("os").environ if n.startswith("DATACAGE_")]:
        monkeypatch.delenv(name)
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": PUBLIC_URL,
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
        }
    )
    with app.app_context():
        found = services(app)
        fill(found.audit, 3)
        fill(found.audit, 2, OTHER)
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "2 chain(s) intact." in result.output
    registry = found.registry
    name = entry_iri(OTHER, 1)
    registry.delete(name, expected_revision=registry.revision(name))
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"at {name}" in result.output
    assert runner.invoke(main, ["audit", "verify", "--space", "abc"]).exit_code == 0
    with app.app_context():
        head = verify_space(found.audit, registry, SPACE).head_hash
    kept = runner.invoke(main, ["audit", "verify", "--space", "abc", "--expect", head])
    assert kept.exit_code == 0, kept.output
    assert "the noted hash is entry 2" in kept.output
    lost = runner.invoke(main, ["audit", "verify", "--space", "abc", "--expect", GENESIS])
    assert lost.exit_code == 1
    assert "rewritten" in lost.output
    assert runner.invoke(main, ["audit", "verify", "--expect", head]).exit_code == 2


# --- Consent events ----------------------------------------------------------------------------


def test_consent_events_name_a_pseudonym_and_an_unchanged_withdrawal_is_not_logged(trail, registry):
    from server.consent.model import ConsentState
    from server.consent.rdf import consent_iri, history_iri
    from server.consent.store import ConsentStore
    from server.consent.withdraw import mark_withdrawn
    from tests.support.consent_records import consent as make_consent

    store = ConsentStore(lambda: registry, PUBLIC_URL, audit=trail)
    subject = "https://ana.example/profile/card#me"
    given = make_consent(
        iri=consent_iri(history_iri(PUBLIC_URL, SPACE, subject), 1),
        space_iri=SPACE,
        subject=subject,
        state=ConsentState.GIVEN,
    )
    store.change(SPACE, subject, lambda history: history.consents.append(given))
    mark_withdrawn(store, given, reason="You withdrew it.", now=T0)
    mark_withdrawn(store, given, reason="Again.", now=T0)  # already withdrawn: no new event
    entries = trail.entries(SPACE)
    assert [e.event.action for e in entries] == ["consent-withdrawn"]
    agent = entries[0].event.agent
    assert agent == given.iri.rsplit("/", 1)[0] + "#person"
    assert subject not in str(registry.read(entries[0].iri).graph.serialize(format="nt"))
    assert given.iri in entries[0].event.about

    other = "https://ben.example/profile/card#me"
    lapsed = make_consent(
        iri=consent_iri(history_iri(PUBLIC_URL, SPACE, other), 1),
        space_iri=SPACE,
        subject=other,
        state=ConsentState.GIVEN,
    )
    store.change(SPACE, other, lambda history: history.consents.append(lapsed))
    mark_withdrawn(store, lapsed, reason="Ended.", now=T0, state=ConsentState.EXPIRED)
    expired = trail.entries(SPACE)[-1]
    assert (expired.event.action, expired.event.agent) == ("consent-expired", PUBLIC_URL)


def test_a_delivery_is_appended_for_the_lead_s_delivery_report(trail, registry):
    from server.audit.events import record_delivery

    run = PUBLIC_URL + "runs/r1"
    consumer = "https://insights.example/profile/card#me"
    cage = "https://cage.example/profile/card#me"
    record_delivery(
        trail, space_iri=SPACE, run_iri=run, consumer=consumer, delivered=True, agent=cage
    )
    record_delivery(
        trail,
        space_iri=SPACE,
        run_iri=run,
        consumer=consumer,
        delivered=False,
        agent=cage,
        detail="The pod answered 507.",
    )
    done, failed = trail.entries(SPACE)
    assert (done.event.action, done.event.agent) == ("result-delivered", cage)
    assert set(done.event.about) == {SPACE, run, consumer}
    assert failed.event.action == "delivery-failed"
    assert failed.event.summary.endswith("The pod answered 507.")
    assert verify_space(trail, registry, SPACE).entries == 2


def test_a_noted_head_catches_a_chain_rewritten_from_scratch(trail, registry):
    fill(trail, 4)
    noted = verify_space(trail, registry, SPACE).head_hash
    assert verify_space(trail, registry, SPACE).require_contains(noted) == 3
    # The attacker rewrites every entry and the head: the chain verifies again, on its own...
    for n in range(4):
        name = entry_iri(SPACE, n)
        registry.delete(name, expected_revision=registry.revision(name))
    head = head_iri(SPACE)
    registry.delete(head, expected_revision=registry.revision(head))
    for n in range(4):
        trail.record(SPACE, "space-edited", OWNER, f"Forged {n}.", at=T0)
    rewritten = verify_space(trail, registry, SPACE)
    # ...but no longer holds the hash a participant noted.
    with pytest.raises(ChainBroken, match="rewritten"):
        rewritten.require_contains(noted)


def test_an_entry_in_the_shape_written_before_still_reads_and_its_hash_still_checks():
    """Entries once said what they concern with `prov:used` on the activity; they stay valid."""
    from rdflib import Graph

    from server.audit.entry import Event, content_hash, entry_from_graph, entry_graph
    from vocab import DCG, PROV

    space, run = "https://dc.example/spaces/s", "https://dc.example/runs/r"
    event = Event(
        "run-finished",
        "https://cage.example/#me",
        datetime(2026, 1, 1, tzinfo=UTC),
        "The run ended.",
        about=(run, space),
    )
    current = entry_graph(space, 0, event, GENESIS)
    name = entry_iri(space, 0)
    old = Graph()
    for s, p, o in current:
        if p == DCTERMS.subject:
            old.add((URIRef(name + "#activity"), PROV.used, o))
        elif p != DCG.eventHash:
            old.add((s, p, o))
    old.add((URIRef(name), DCG.eventHash, Literal(content_hash(old))))
    read = entry_from_graph(name, old)
    assert read.event.about == tuple(sorted((run, space)))
    assert read.hash == content_hash(old)
    assert entry_from_graph(name, current).event == read.event
