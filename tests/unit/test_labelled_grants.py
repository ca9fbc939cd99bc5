"""Labelled grants as pure graph edits: one entry per consent, removed alone (WAC and ACP)."""

from __future__ import annotations

from rdflib import Graph

from connectors.solid.access import AccessMode
from connectors.solid.access import acp as acp_editor
from connectors.solid.access import wac as wac_editor
from connectors.solid.access.acp_rules import Acr
from connectors.solid.access.acp_rules import effective_modes as acp_modes

POD = "https://pod.example/ana/"
RESOURCE = POD + "contacts/customers.ttl"
CAGE = "https://cage.example/profile#me"
FIRST, SECOND = "https://dc.example/consents/a/1", "https://dc.example/consents/b/1"
R, A = AccessMode.READ, AccessMode.APPEND


def test_wac_two_consents_two_authorizations_and_withdrawing_one_keeps_the_other():
    graph, acl_url = Graph(), RESOURCE + ".acl"
    scope = wac_editor._Scope(acl_url, RESOURCE, False)
    wac_editor._add_grant(graph, scope, CAGE, frozenset({R}), FIRST)
    wac_editor._add_grant(graph, scope, CAGE, frozenset({R}), SECOND)
    nodes = {s for s in graph.subjects() if wac_editor.is_labelled(s)}
    assert len(nodes) == 2
    wac_editor._remove_labelled(graph, acl_url, CAGE, FIRST, frozenset({R}))
    assert wac_editor.effective_modes(graph, RESOURCE, CAGE) == {R}
    wac_editor._remove_labelled(graph, acl_url, CAGE, SECOND, frozenset({R}))
    assert wac_editor.effective_modes(graph, RESOURCE, CAGE) == frozenset()
    assert len(graph) == 0


def test_wac_removing_a_shared_grant_can_spare_the_labelled_ones():
    graph, acl_url = Graph(), RESOURCE + ".acl"
    scope = wac_editor._Scope(acl_url, RESOURCE, False)
    wac_editor._add_grant(graph, scope, CAGE, frozenset({R}))  # as grants were before labels
    wac_editor._add_grant(graph, scope, CAGE, frozenset({R}), FIRST)
    wac_editor._remove_grant(graph, acl_url, RESOURCE, CAGE, frozenset({R}), keep_labelled=True)
    assert wac_editor.effective_modes(graph, RESOURCE, CAGE) == {R}  # FIRST's own entry
    wac_editor._remove_labelled(graph, acl_url, CAGE, FIRST, frozenset({R}))
    assert wac_editor.effective_modes(graph, RESOURCE, CAGE) == frozenset()


def test_acp_two_consents_two_policies_and_withdrawing_one_keeps_the_other():
    graph, acr_url = Graph(), RESOURCE + ".acr"
    acp_editor.add_grant(graph, acr_url, RESOURCE, CAGE, [R], False, FIRST)
    acp_editor.add_grant(graph, acr_url, RESOURCE, CAGE, [R], False, SECOND)
    acp_editor.remove_labelled(graph, acr_url, CAGE, FIRST, frozenset({R}))
    assert acp_modes(Acr(graph, RESOURCE), [], CAGE) == {R}
    acp_editor.remove_labelled(graph, acr_url, CAGE, SECOND, frozenset({R}))
    assert acp_modes(Acr(graph, RESOURCE), [], CAGE) == frozenset()


def test_acp_removing_a_shared_grant_can_spare_the_labelled_ones():
    graph, acr_url = Graph(), RESOURCE + ".acr"
    acp_editor.add_grant(graph, acr_url, RESOURCE, CAGE, [R, A])
    acp_editor.add_grant(graph, acr_url, RESOURCE, CAGE, [R], False, FIRST)
    acp_editor.remove_grant(graph, acr_url, RESOURCE, CAGE, frozenset({R, A}), keep_labelled=True)
    assert acp_modes(Acr(graph, RESOURCE), [], CAGE) == {R}
    acp_editor.remove_grant(graph, acr_url, RESOURCE, CAGE, frozenset({R, A}))
    assert acp_modes(Acr(graph, RESOURCE), [], CAGE) == frozenset()
