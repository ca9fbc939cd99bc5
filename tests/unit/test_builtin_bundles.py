"""The built-in DataFuse bundles are approve-able: they pass every upload check, their shapes
are closed, ask for dcg:individuals, and name only terms the DataFuse vocabulary declares."""

from __future__ import annotations

import pytest
from rdflib import URIRef

from server.algorithms import build_bundle, read_bundle
from tests.support.datafuse_samples import COMMON_CUSTOMERS, JOINT_STATS
from vocab import DCG, DF, SH

BUNDLES = {"common-customers": COMMON_CUSTOMERS, "joint-stats": JOINT_STATS}
EVENTS = {
    "common-customers": ("CHECK_COMMON_DEMO_CUSTOMERS",),
    "joint-stats": ("COMPUTE_JOINT_STATISTICS",),
}


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_a_builtin_bundle_passes_the_upload_checks(name):
    bundle = read_bundle(build_bundle(BUNDLES[name]))
    assert bundle.manifest.name == name
    assert bundle.manifest.events == EVENTS[name]
    assert bundle.digest == read_bundle(build_bundle(BUNDLES[name])).digest  # reproducible


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_a_builtin_shape_is_closed_counts_individuals_and_uses_declared_terms(name):
    shape = read_bundle(build_bundle(BUNDLES[name])).output_shape
    node_shapes = set(shape.subjects(SH.targetClass, None))
    assert node_shapes
    for node_shape in node_shapes:
        assert shape.value(node_shape, SH.closed).toPython() is True
        paths = {shape.value(p, SH.path) for p in shape.objects(node_shape, SH.property)}
        assert DCG.individuals in paths
    used = {t for t in shape.all_nodes() if isinstance(t, URIRef) and str(t).startswith(str(DF))}
    assert used
    for term in used:
        assert term in DF, f"{term} is not declared in vocab/datafuse.ttl"
