"""Signed provenance of results: describe, sign, verify; a changed triple or signature fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rdflib import BNode, Graph, Literal, URIRef

from server.attestation import (
    EnclaveKey,
    Measurement,
    SoftwareAttestationProvider,
    TrustPolicy,
)
from server.attestation.errors import MeasurementNotApproved, StaleEvidence
from server.provenance import (
    InputUse,
    MalformedResult,
    ResultNotAuthentic,
    RunFacts,
    key_thumbprint,
    signed_document,
    verify_result,
)
from vocab import DCG, PROV

CODE, BUNDLE = "sha256:" + "c" * 64, "sha256:" + "b" * 64
ENDED = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
RUN = "https://cp.example/runs/r1"
EX = "https://example.org/ns#"


@pytest.fixture
def made(tmp_path):
    provider = SoftwareAttestationProvider(tmp_path / "attestation")
    key = EnclaveKey.generate()
    evidence = provider.attest(key, Measurement(CODE, BUNDLE), now=ENDED - timedelta(seconds=30))
    result = Graph()
    stats = BNode()
    result.add((stats, URIRef(EX + "orders"), Literal(21)))
    result.add((stats, URIRef(EX + "shoppers"), Literal(6)))
    facts = RunFacts(
        run_iri=RUN,
        space_iri="https://cp.example/spaces/s1",
        purposes=("https://w3id.org/dpv#ResearchAndDevelopment",),
        algorithm_digest=BUNDLE,
        datacage="https://pods.example/cage/profile/card#me",
        started_at=ENDED - timedelta(seconds=20),
        ended_at=ENDED,
        evidence=evidence.to_bytes().decode(),
        provider=evidence.provider,
        code_measurement=CODE,
        key_thumbprint=key_thumbprint(key),
        result_digest="sha256:" + "d" * 64,
        inputs=(InputUse("https://cp.example/consents/abc/1", ('"v1"', '"v2"')),),
    )
    policy = TrustPolicy(
        frozenset({CODE}),
        frozenset({BUNDLE}),
        allow_software=True,
        software_keys=(provider.public_key_pem(),),
    )
    return signed_document(result, facts, key), policy


def test_a_genuine_result_verifies_and_says_what_made_it(made):
    document, policy = made
    verified = verify_result(document, policy=policy, now=ENDED + timedelta(days=30))
    assert verified.run == RUN
    assert verified.algorithm_digest == BUNDLE
    assert verified.consents == ("https://cp.example/consents/abc/1",)
    assert verified.evidence.provider.startswith("software")
    assert verified.pull_transport == "tls"  # said under the signature
    graph = Graph().parse(data=document, format="turtle")
    assert (URIRef(RUN), PROV.startedAtTime, None) in graph
    assert len(list(graph.objects(URIRef(RUN), PROV.used))) == 3  # algorithm + two inputs
    assert not any(isinstance(n, BNode) for t in graph for n in t)  # named, so signable


def test_re_serialised_documents_still_verify(made):
    document, policy = made
    as_ntriples = Graph().parse(data=document, format="turtle").serialize(format="nt")
    again = Graph().parse(data=as_ntriples, format="nt").serialize(format="turtle")
    verify_result(again.encode(), policy=policy, now=ENDED)


@pytest.mark.parametrize("change", ["add", "remove", "alter"])
def test_one_triple_changed_is_refused(made, change):
    document, policy = made
    graph = Graph().parse(data=document, format="turtle")
    orders = next(graph.triples((None, URIRef(EX + "orders"), None)))
    if change == "add":
        graph.add((URIRef(EX + "x"), URIRef(EX + "y"), Literal("z")))
    elif change == "remove":
        graph.remove(orders)
    else:
        graph.set((orders[0], orders[1], Literal(22)))
    with pytest.raises(ResultNotAuthentic, match="changed after the datacage signed"):
        verify_result(graph.serialize(format="turtle").encode(), policy=policy, now=ENDED)


def test_a_changed_or_foreign_signature_is_refused(made, tmp_path):
    document, policy = made
    graph = Graph().parse(data=document, format="turtle")
    result, _, jws = next(graph.triples((None, DCG.signature, None)))
    header, _, signature = str(jws).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    graph.set((result, DCG.signature, Literal(f"{header}..{flipped}")))
    with pytest.raises(ResultNotAuthentic):
        verify_result(graph.serialize(format="turtle").encode(), policy=policy, now=ENDED)


def test_a_signature_by_another_key_than_the_evidence_binds_is_refused(made):
    document, policy = made
    graph = Graph().parse(data=document, format="turtle")
    result, _, _ = next(graph.triples((None, DCG.signature, None)))
    graph.remove((result, DCG.signature, None))
    from server.provenance import sign_result

    other = EnclaveKey.generate()
    resigned = sign_result(graph, str(result), other).serialize(format="turtle").encode()
    with pytest.raises(ResultNotAuthentic, match="another enclave key"):
        verify_result(resigned, policy=policy, now=ENDED)


def test_the_evidence_is_checked_against_the_callers_approvals(made):
    document, policy = made
    other = TrustPolicy(
        frozenset({CODE}),
        frozenset({"sha256:" + "e" * 64}),
        allow_software=True,
        software_keys=policy.software_keys,
    )
    with pytest.raises(MeasurementNotApproved):
        verify_result(document, policy=other, now=ENDED)
    short = TrustPolicy(
        policy.code_digests,
        policy.bundle_digests,
        allow_software=True,
        software_keys=policy.software_keys,
        max_age=timedelta(seconds=10),
    )
    with pytest.raises(StaleEvidence):  # evidence 30 s older than the run's end
        verify_result(document, policy=short, now=ENDED)


def test_unsigned_or_unparsable_documents_are_malformed(made):
    document, policy = made
    graph = Graph().parse(data=document, format="turtle")
    graph.remove((None, DCG.signature, None))
    with pytest.raises(MalformedResult, match="exactly one signature"):
        verify_result(graph.serialize(format="turtle").encode(), policy=policy, now=ENDED)
    with pytest.raises(MalformedResult, match="not Turtle"):
        verify_result(b"<oops", policy=policy, now=ENDED)
