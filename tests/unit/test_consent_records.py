"""Consent records: expiry on the calendar, the RDF round trip, and sealed tokens at rest."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from rdflib import Graph, Literal, URIRef

import vocab
from connectors.solid import RefreshState
from server.consent.model import ConsentHistory, ConsentState, add_duration
from server.consent.rdf import (
    DamagedConsent,
    consent_from_graph,
    history_from_graph,
    history_graph,
    receipt_graph,
)
from server.consent.vault import PodSessions, TokenVault, VaultError
from tests.support.consent_records import (
    HISTORY,
    T0,
    consent,
)
from vocab import DCG, DCG_PROFILE, DPV, ODRL2, RDF, XSD


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("P1M", datetime(2026, 2, 28, 12, 0, tzinfo=UTC)),  # no 31 February
        ("P1Y", datetime(2027, 1, 31, 12, 0, tzinfo=UTC)),
        ("P1Y1M", datetime(2027, 2, 28, 12, 0, tzinfo=UTC)),
        ("P2W1D", datetime(2026, 2, 15, 12, 0, tzinfo=UTC)),
        ("P13M", datetime(2027, 2, 28, 12, 0, tzinfo=UTC)),
    ],
)
def test_a_consent_period_ends_on_the_calendar(duration, expected):
    assert add_duration(T0, duration) == expected


def test_an_unknown_duration_is_refused():
    with pytest.raises(ValueError, match="not a duration"):
        add_duration(T0, "PT5H")


def test_a_given_consent_counts_until_its_expiry_and_then_reads_as_expired():
    given = consent(state=ConsentState.GIVEN, given_at=T0)
    assert given.counts_at(given.expires_at - timedelta(seconds=1))
    assert not given.counts_at(given.expires_at)
    assert given.state_at(given.expires_at) is ConsentState.EXPIRED
    assert not consent().counts_at(T0)  # requested is not given
    assert not consent(state=ConsentState.WITHDRAWN).counts_at(T0)


def test_the_registry_record_reads_back_as_written():
    history = ConsentHistory(HISTORY, "https://dc.example/spaces/abc", consent().subject)
    history.consents = [
        consent(
            state=ConsentState.WITHDRAWN,
            access_system="ACP",
            receipt_url="https://ana.example/consent-receipts/abc-1.ttl",
            given_at=T0,
            withdrawn_at=T0 + timedelta(days=2),
            withdrawal_reason="You withdrew it.",
        ),
        consent(iri=HISTORY + "/2", number=2, state=ConsentState.GIVEN, recurring=True),
    ]
    read = history_from_graph(HISTORY, history_graph(history), 3)
    assert read.consents == history.consents
    assert read.revision == 3


def test_the_receipt_is_dpv_consent_with_an_odrl_agreement():
    graph = receipt_graph(consent(state=ConsentState.GIVEN, given_at=T0))
    c = URIRef(HISTORY + "/1")
    assert (c, DPV.hasConsentStatus, DPV.ConsentGiven) in graph
    assert (c, DPV.hasDataSubject, URIRef(consent().subject)) in graph
    assert set(graph.objects(c, DPV.hasPersonalData)) == {
        URIRef("https://ana.example/a.ttl"),
        URIRef("https://ana.example/f/"),
    }
    agreement = URIRef(HISTORY + "/1#agreement")
    assert (agreement, ODRL2.uid, agreement) in graph
    permission = graph.value(agreement, ODRL2.permission)
    assert graph.value(permission, ODRL2.action) == ODRL2.read
    assert graph.value(permission, ODRL2.assignee) == URIRef(consent().grantee)
    operands = {
        graph.value(k, ODRL2.leftOperand) for k in graph.objects(permission, ODRL2.constraint)
    }
    assert operands == {ODRL2.dateTime, ODRL2.purpose, ODRL2.recipient, DCG.algorithmDigest}
    prohibition = graph.value(agreement, ODRL2.prohibition)
    assert graph.value(prohibition, ODRL2.action) == ODRL2.distribute


def test_a_left_operand_outside_odrl_core_comes_from_a_profile_the_agreement_names():
    """ODRL Information Model 2.2: a policy using terms of a profile names it (odrl:profile),
    and the profile declares each of its left operands as an odrl:LeftOperand."""
    graph = receipt_graph(consent(state=ConsentState.GIVEN, given_at=T0))
    agreement = URIRef(HISTORY + "/1#agreement")
    profiles = set(graph.objects(agreement, ODRL2.profile))
    declared = vocab.load("datacage")
    for operand in graph.objects(None, ODRL2.leftOperand):
        if operand in ODRL2:
            continue
        assert DCG_PROFILE in profiles, f"{operand} is used without odrl:profile"
        assert str(operand).startswith(str(DCG_PROFILE))
        assert (operand, RDF.type, ODRL2.LeftOperand) in declared


def test_the_receipt_says_when_with_dpv_and_old_receipts_still_read():
    graph = receipt_graph(consent(state=ConsentState.GIVEN, given_at=T0))
    c = URIRef(HISTORY + "/1")
    assert graph.value(c, DPV.isIndicatedAtTime).toPython() == T0
    assert (c, DCG.givenAt, None) not in graph
    # A receipt written before the change said dcg:givenAt: it reads back the same.
    old = Graph()
    for s, p, o in graph:
        old.add((s, DCG.givenAt if p == DPV.isIndicatedAtTime else p, o))
    assert consent_from_graph(old, c).given_at == T0


def test_a_damaged_record_is_refused_not_guessed():
    history = ConsentHistory(
        HISTORY, "https://dc.example/spaces/abc", consent().subject, [consent()]
    )
    graph = history_graph(history)
    node = URIRef(HISTORY + "/1")
    graph.set((node, DCG.recurringRuns, Literal("false")))  # a plain string, not xsd:boolean
    with pytest.raises(DamagedConsent, match="true or false"):
        history_from_graph(HISTORY, graph, 1)
    graph.set((node, DCG.recurringRuns, Literal(False)))
    graph.set((node, DCG.expiresAt, Literal("2026-01-01T00:00:00", datatype=XSD.dateTime)))
    with pytest.raises(DamagedConsent, match="with a zone"):
        history_from_graph(HISTORY, graph, 1)


STATE = RefreshState(
    issuer="https://idp.example/",
    client_id="https://dc.example/clientid.jsonld",
    webid="https://ana.example/profile/card#me",
    refresh_token="refresh-secret-value",
    dpop_key_pem=b"-----BEGIN PRIVATE KEY-----\nxyz\n-----END PRIVATE KEY-----\n",
)


def test_the_vault_seals_refresh_tokens_with_private_files(tmp_path):
    vault = TokenVault(tmp_path)
    vault.put("https://dc.example/consents/x/1", STATE)
    [sealed] = (tmp_path / "vault" / "refresh").glob("*.sealed")
    assert b"refresh-secret-value" not in sealed.read_bytes()
    assert sealed.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "vault" / "vault.key").stat().st_mode & 0o777 == 0o600
    assert vault.get("https://dc.example/consents/x/1") == STATE
    vault.delete("https://dc.example/consents/x/1")
    assert vault.get("https://dc.example/consents/x/1") is None


def test_a_sealed_entry_moved_onto_another_consent_or_altered_does_not_open(tmp_path):
    vault = TokenVault(tmp_path)
    vault.put("https://dc.example/consents/x/1", STATE)
    vault.put("https://dc.example/consents/x/2", STATE)
    first, second = (
        vault._files._path("https://dc.example/consents/x/1"),
        vault._files._path("https://dc.example/consents/x/2"),
    )
    os.replace(first, second)  # bound to its consent IRI: it cannot stand in for another
    with pytest.raises(VaultError):
        vault.get("https://dc.example/consents/x/2")
    vault.put("https://dc.example/consents/x/3", STATE)
    third = vault._files._path("https://dc.example/consents/x/3")
    third.write_bytes(third.read_bytes()[:-8] + b"AAAAAAA=")
    with pytest.raises(VaultError):
        vault.get("https://dc.example/consents/x/3")


def test_a_pod_session_lasts_only_for_the_flow(tmp_path):
    sessions = PodSessions(tmp_path, lifetime=60)
    sessions.put("flow", {"webid": "https://ana.example/profile/card#me"})
    assert sessions.get("flow")["webid"].startswith("https://ana")
    sessions.lifetime = 0  # the person closed the tab and came back too late
    assert sessions.get("flow") is None
    assert not list((tmp_path / "vault" / "flows").glob("*.sealed"))  # deleted, not just hidden


def test_counts_take_each_persons_latest_consent_as_it_stands_now():
    from server.consent.store import ConsentStore
    from server.registry import open_registry

    with open_registry(path=":memory:") as registry:
        store = ConsentStore(lambda: registry, "https://dc.example/")
        space = "https://dc.example/spaces/abc"

        def person(name: str, *states: ConsentState, expired: bool = False) -> None:
            history = store.history(space, f"https://{name}.example/profile/card#me")
            for number, state in enumerate(states, start=1):
                ends = T0 - timedelta(days=1) if expired else T0 + timedelta(days=30)
                history.consents.append(
                    consent(
                        iri=f"{history.iri}/{number}",
                        number=number,
                        subject=history.subject,
                        state=state,
                        expires_at=ends,
                    )
                )
            store.write(history)

        person("ana", ConsentState.WITHDRAWN, ConsentState.GIVEN)  # came back: given
        person("bo", ConsentState.GIVEN, ConsentState.WITHDRAWN)  # left: withdrawn
        person("cy", ConsentState.GIVEN, expired=True)  # past its end: expired
        person("di", ConsentState.GIVEN)
        assert store.counts(space, T0) == {
            ConsentState.GIVEN: 2,
            ConsentState.WITHDRAWN: 1,
            ConsentState.EXPIRED: 1,
        }
        assert store.counts("https://dc.example/spaces/other", T0) == {}
