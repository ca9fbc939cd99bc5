"""One signature, one result: the canonical form of a graph is injective (attacks included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rdflib import Graph, Literal, URIRef

from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider, TrustPolicy
from server.provenance import (
    MalformedResult,
    ResultNotAuthentic,
    RunFacts,
    canonical_nquads,
    key_thumbprint,
    signed_document,
    verify_result,
)

CODE, BUNDLE = "sha256:" + "c" * 64, "sha256:" + "b" * 64
ENDED = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
EX = "https://example.org/ns#"
# Every character Python's str.splitlines() splits on besides "\n" and "\r".
SPLITTERS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


def _sign(result: Graph, tmp_path) -> tuple[bytes, TrustPolicy]:
    provider = SoftwareAttestationProvider(tmp_path / "attestation")
    key = EnclaveKey.generate()
    evidence = provider.attest(key, Measurement(CODE, BUNDLE), now=ENDED - timedelta(seconds=30))
    facts = RunFacts(
        run_iri="https://cp.example/runs/r1",
        space_iri="https://cp.example/spaces/s1",
        purposes=(),
        algorithm_digest=BUNDLE,
        datacage="https://pods.example/cage/profile/card#me",
        started_at=ENDED - timedelta(seconds=20),
        ended_at=ENDED,
        evidence=evidence.to_bytes().decode(),
        provider=evidence.provider,
        code_measurement=CODE,
        key_thumbprint=key_thumbprint(key),
        result_digest="sha256:" + "d" * 64,
        inputs=(),
    )
    policy = TrustPolicy(
        frozenset({CODE}),
        frozenset({BUNDLE}),
        allow_software=True,
        software_keys=(provider.public_key_pem(),),
    )
    return signed_document(result, facts, key), policy


@pytest.mark.parametrize("separator", SPLITTERS)
def test_swapping_literal_tails_between_two_triples_breaks_the_signature(separator, tmp_path):
    a, b = URIRef(EX + "a"), URIRef(EX + "b")
    p = URIRef(EX + "says")
    result = Graph()
    result.add((a, p, Literal(f"yes{separator}pay 10")))
    result.add((b, p, Literal(f"no{separator}pay 1000")))
    document, policy = _sign(result, tmp_path)
    verify_result(document, policy=policy, now=ENDED)  # the genuine one verifies

    graph = Graph().parse(data=document, format="turtle")
    graph.set((a, p, Literal(f"yes{separator}pay 1000")))
    graph.set((b, p, Literal(f"no{separator}pay 10")))
    with pytest.raises(ResultNotAuthentic):
        verify_result(graph.serialize(format="turtle").encode(), policy=policy, now=ENDED)


def test_the_canonical_form_has_one_line_per_triple_and_no_raw_separator():
    graph = Graph()
    text = "".join(SPLITTERS) + '\x00\x7f\x9f\t\r\n\\"end'
    graph.add((URIRef(EX + "a"), URIRef(EX + "p"), Literal(text)))
    graph.add((URIRef(EX + "a"), URIRef(EX + "p"), Literal("")))
    payload = canonical_nquads(graph).decode("utf-8")
    assert payload.count("\n") == 2
    assert payload.endswith("\n")
    assert payload.split("\n")[:-1] == payload.splitlines()  # nothing else splits a line
    assert not any(c in payload for c in [*SPLITTERS, "\x00", "\x7f", "\x9f", "\r"])
    again = Graph().parse(data=payload, format="nt")  # still N-Triples, same graph
    assert set(again) == set(graph)


def test_an_iri_holding_what_no_iri_may_hold_is_refused():
    graph = Graph()
    graph.add((URIRef(EX + "a\nb"), URIRef(EX + "p"), Literal("x")))
    with pytest.raises(MalformedResult, match="IRI"):
        canonical_nquads(graph)
    other = Graph()
    other.add((URIRef(EX + "a\\u000bb"), URIRef(EX + "p"), Literal("x")))
    with pytest.raises(MalformedResult, match="IRI"):
        canonical_nquads(other)
