"""A space's terms can name the datacage launch measurements its participants accept."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.attestation.policy import HardwarePolicyError, accepted_from_terms
from server.spaces.rdf import from_graph, to_graph
from tests.support.measurements import (
    SNP,
    TDX,
)
from tests.support.space_records import algorithm, space
from vocab import DCG


def _with(measurements: tuple[str, ...]):
    s = space(algorithms=[algorithm()], current_algorithm="sha256:" + "a" * 64)
    s.terms = replace(s.terms, accepted_measurements=measurements)
    return s


def test_accepted_measurements_round_trip_through_the_registry_graph():
    s = _with((TDX, SNP))
    graph = to_graph(s)
    assert len(list(graph.objects(None, DCG.acceptedMeasurement))) == 2
    back = from_graph(s.iri, graph, 1)
    assert back.terms.accepted_measurements == (SNP, TDX)


def test_naming_or_changing_a_measurement_changes_what_participants_approve():
    none, one, other = _with(()), _with((SNP,)), _with((TDX,))
    assert len({none.terms_digest, one.terms_digest, other.terms_digest}) == 3


def test_spaces_without_the_term_keep_their_digest():
    # The term is left out of the digest when empty, so approvals given before it still count.
    s = _with(())
    assert s.terms.accepted_measurements == ()
    assert (
        s.terms_digest
        == space(algorithms=[algorithm()], current_algorithm="sha256:" + "a" * 64).terms_digest
    )


@pytest.mark.parametrize("bad", ["sev-snp:abc", "sgx:" + "0" * 96, "7a1e" * 24])
def test_a_malformed_measurement_is_refused(bad):
    with pytest.raises(ValueError, match="sev-snp:<96 hex> or tdx:<96 hex>"):
        _with((bad,))


def test_the_terms_give_a_pod_provider_its_policy_values():
    accepted = accepted_from_terms([SNP, TDX])
    assert accepted["sev-snp"] == {bytes.fromhex(SNP.split(":")[1])}
    assert accepted["tdx"] == {bytes.fromhex(TDX.split(":")[1])}
    with pytest.raises(HardwarePolicyError):
        accepted_from_terms(["sgx:00"])
