"""The consents a run may read, decided in one store query, against the rule read history by
history (`consents_for_run`): every kind of history a space can hold, both must agree."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.consent.authority import consents_for_run
from server.consent.model import ConsentHistory
from server.consent.rdf import history_iri
from server.consent.store import MAX_BATCH, ConsentStore
from server.registry import open_registry
from tests.support.job_consents import (
    GIVEN,
    NOW,
    OLD_TERMS,
    PUBLIC,
    REQUESTED,
    TERMS,
    WITHDRAWN,
    consent,
)

SPACE = "https://dc.example/spaces/s1"
OTHER_SPACE = "https://dc.example/spaces/s2"
OTHER_TERMS = "sha256:" + "d" * 64  # a terms digest hashes its space's IRI: never the same


#: name -> the consents of one person's history, oldest first.
KINDS = {
    "given": [(GIVEN, {})],
    "withdrawn": [(WITHDRAWN, {})],
    "expired": [(GIVEN, {"expires_at": NOW - timedelta(seconds=1)})],
    "expires-now": [(GIVEN, {"expires_at": NOW})],
    "old-terms": [(GIVEN, {"terms_digest": OLD_TERMS})],
    "only-requested": [(REQUESTED, {})],
    "renewal-being-recorded": [(GIVEN, {}), (REQUESTED, {})],
    "renewed": [(WITHDRAWN, {}), (GIVEN, {})],
    "renewal-given-old-still-given": [(GIVEN, {}), (GIVEN, {})],
    "withdrawn-then-requested": [(WITHDRAWN, {}), (REQUESTED, {})],
    "two-requested-after-given": [(GIVEN, {}), (REQUESTED, {}), (REQUESTED, {})],
    "given-expired-renewal-requested": [
        (GIVEN, {"expires_at": NOW - timedelta(days=1)}),
        (REQUESTED, {}),
    ],
    "renewal-under-new-terms-recorded": [(GIVEN, {"terms_digest": OLD_TERMS}), (REQUESTED, {})],
    "ten-consents": [(WITHDRAWN, {})] * 9 + [(GIVEN, {})],
}


@pytest.fixture
def store():
    with open_registry(path=":memory:") as registry:
        yield ConsentStore(lambda: registry, PUBLIC)


def seed(store: ConsentStore, space: str = SPACE, terms: str = TERMS) -> dict[str, ConsentHistory]:
    made = {}
    for name, consents in KINDS.items():
        subject = f"https://{name}.example/profile/card#me"
        history = ConsentHistory(history_iri(PUBLIC, space, subject), space, subject)
        for number, (state, changes) in enumerate(consents, start=1):
            changes = {"terms_digest": terms, **changes}
            history.consents.append(consent(space, subject, number, state, **changes))
        store.write(history)
        made[name] = history
    return made


def test_one_query_finds_exactly_the_consents_the_history_by_history_rule_includes(store):
    seed(store)
    seed(store, OTHER_SPACE, OTHER_TERMS)  # the same people in another space: never this run
    expected = consents_for_run(store, SPACE, NOW, terms_digest=TERMS).included
    found = store.in_force_iris(SPACE, TERMS, NOW)
    assert found == sorted(c.iri for c in expected)
    people = {iri.rsplit("/", 1)[0] for iri in found}
    assert len(people) == len(found)  # one consent per person at most
    named = {name for name, h in seed_names(store).items() if h in people}
    assert named == {
        "given",
        "renewal-being-recorded",
        "renewed",
        "renewal-given-old-still-given",
        "ten-consents",
    }


def seed_names(store: ConsentStore) -> dict[str, str]:
    return {
        name: history_iri(PUBLIC, SPACE, f"https://{name}.example/profile/card#me")
        for name in KINDS
    }


def test_a_batch_question_answers_each_consent_with_what_its_read_needs(store):
    histories = seed(store)
    others = seed(store, OTHER_SPACE, OTHER_TERMS)
    # A record of another space that names this run's terms (only a damaged or forged record
    # could): the batch, the last word before a read, still leaves it out.
    forged = seed(store, "https://dc.example/spaces/s3")
    others |= {f"forged-{name}": history for name, history in forged.items()}
    asked = [c.iri for h in histories.values() for c in h.consents]
    asked += [c.iri for h in others.values() for c in h.consents]  # another space's
    asked += ["https://dc.example/consents/nothing/1", "not an IRI at all", asked[0]]
    answer = store.in_force_among(SPACE, TERMS, asked, NOW)
    expected = consents_for_run(store, SPACE, NOW, terms_digest=TERMS).included
    assert sorted(answer) == sorted(c.iri for c in expected)
    assert not any(iri in answer for h in forged.values() for iri in (c.iri for c in h.consents))
    given = histories["given"].consents[0]
    found = answer[given.iri]
    assert found.subject == given.subject
    assert found.resources == tuple(sorted(given.resources, key=lambda r: r.url))
    assert found.usage_records == given.usage_records
    assert found.purposes == given.purposes


def test_a_batch_question_is_bounded(store):
    with pytest.raises(ValueError, match=f"At most {MAX_BATCH}"):
        store.in_force_among(SPACE, TERMS, ["https://x.example/"] * (MAX_BATCH + 1), NOW)


def test_a_value_that_would_break_out_of_the_query_is_no_consent(store):
    seed(store)
    hostile = [
        "https://x.example/> } } SELECT * WHERE { ?s ?p ?o } #",
        'https://x.example/"',
        "https://x.example/\n",
    ]
    assert store.in_force_among(SPACE, TERMS, hostile, NOW) == {}
    assert store.in_force_iris(SPACE, 'x" } } #', NOW) == []


def test_the_index_agrees_with_the_scan_of_every_record_for_every_kind_of_history(store):
    seed(store)
    seed(store, OTHER_SPACE, OTHER_TERMS)
    for now in (NOW - timedelta(days=40), NOW, NOW + timedelta(days=29, hours=23)):
        assert store.in_force_iris(SPACE, TERMS, now) == store.in_force_iris_by_scan(
            SPACE, TERMS, now
        )
    assert store.in_force_origins(SPACE, TERMS, NOW) == store.in_force_origins_by_scan(
        SPACE, TERMS, NOW
    )


def test_a_consent_reading_nothing_is_counted_in_the_plan_at_no_server(store):
    subject = "https://empty.example/profile/card#me"
    history = ConsentHistory(history_iri(PUBLIC, SPACE, subject), SPACE, subject)
    history.consents.append(consent(SPACE, subject, 1, GIVEN, resources=()))
    store.write(history)
    plan = store.in_force_plan(SPACE, TERMS, NOW)
    assert plan.iris == [history.consents[0].iri]
    assert plan.origins == {}
