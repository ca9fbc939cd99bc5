"""Web Access Control rules as pure graph functions: who holds which modes, grant and revoke."""

import re

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import to_isomorphic

from connectors.solid.access import AccessMode
from connectors.solid.access.wac import ACL, _add_grant, _remove_grant, _Scope, effective_modes

POD = "https://pod.example/alice/"
RESOURCE = POD + "notes.ttl"
ACL_URL = RESOURCE + ".acl"
ALICE = "https://pod.example/alice/profile/card#me"
BOB = "https://bob.example/profile#me"
CAROL = "https://carol.example/profile#me"
STRANGER = "https://stranger.example/#me"

R, W, A, C = AccessMode.READ, AccessMode.WRITE, AccessMode.APPEND, AccessMode.CONTROL

PREFIXES = """
@prefix acl: <http://www.w3.org/ns/auth/acl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
"""


def acl(turtle: str) -> Graph:
    return Graph().parse(data=PREFIXES + turtle, format="turtle", publicID=ACL_URL)


def modes(graph: Graph, agent: str, target: str = RESOURCE, **kw) -> frozenset[AccessMode]:
    return effective_modes(graph, target, agent, **kw)


OWNER = f"""
<#owner> a acl:Authorization; acl:agent <{ALICE}>; acl:accessTo <{RESOURCE}>;
    acl:mode acl:Read, acl:Write, acl:Control.
"""
OWNER_AND_SHARED = (
    OWNER
    + f"""
<#team> a acl:Authorization; acl:agent <{BOB}>, <{CAROL}>; acl:accessTo <{RESOURCE}>;
    acl:mode acl:Read, acl:Write.
"""
)


# --- effective_modes --------------------------------------------------------------------------


def bob_may(mode: str) -> Graph:
    return acl(f"<#a> a acl:Authorization; acl:agent <{BOB}>; acl:accessTo <{RESOURCE}>; {mode}.")


def test_write_implies_append():
    assert modes(bob_may("acl:mode acl:Write"), BOB) == {W, A}


def test_append_alone_does_not_imply_write():
    assert modes(bob_may("acl:mode acl:Append"), BOB) == {A}


def test_an_authorization_names_only_its_agents():
    assert modes(bob_may("acl:mode acl:Read"), CAROL) == frozenset()


@pytest.mark.parametrize("agent_class", ["foaf:Agent", "acl:AuthenticatedAgent"])
def test_public_and_authenticated_classes_apply_to_anyone(agent_class):
    graph = acl(
        f"<#p> a acl:Authorization; acl:agentClass {agent_class}; acl:accessTo <{RESOURCE}>;"
        " acl:mode acl:Read."
    )
    assert modes(graph, STRANGER) == {R}


def test_an_agent_gets_the_union_of_every_authorization_that_names_them():
    graph = acl(
        OWNER_AND_SHARED
        + f"""
        <#public> a acl:Authorization; acl:agentClass foaf:Agent; acl:accessTo <{RESOURCE}>;
            acl:mode acl:Append."""
    )
    assert modes(graph, BOB) == {R, W, A}
    assert modes(graph, ALICE) == {R, W, A, C}
    assert modes(graph, STRANGER) == {A}


def test_own_and_inherited_authorizations_are_read_separately():
    graph = acl(f"""
        <#own> a acl:Authorization; acl:agent <{BOB}>; acl:accessTo <{POD}>; acl:mode acl:Read.
        <#kids> a acl:Authorization; acl:agent <{BOB}>; acl:default <{POD}>;
            acl:mode acl:Write.""")
    assert modes(graph, BOB, POD) == {R}
    assert modes(graph, BOB, POD, inherited=True) == {W, A}


def test_statements_that_are_not_authorizations_or_for_other_resources_grant_nothing():
    graph = acl(f"""
        <#untyped> acl:agent <{BOB}>; acl:accessTo <{RESOURCE}>; acl:mode acl:Control.
        <#other> a acl:Authorization; acl:agent <{BOB}>; acl:accessTo <{POD}other.ttl>;
            acl:mode acl:Read.""")
    assert modes(graph, BOB) == frozenset()


def test_a_mode_outside_wac_is_ignored_rather_than_fatal_or_mistaken_for_a_wac_mode():
    graph = acl(f"""
        <#odd> a acl:Authorization; acl:agent <{BOB}>; acl:accessTo <{RESOURCE}>;
            acl:mode acl:Read, acl:Delete, <https://evil.example/ns#Control>.""")
    assert modes(graph, BOB) == {R}


# --- _add_grant -------------------------------------------------------------------------------


def test_a_grant_gives_exactly_the_modes_asked_on_exactly_the_resource():
    graph = acl(OWNER_AND_SHARED)
    _add_grant(graph, _Scope(ACL_URL, RESOURCE, False), STRANGER, frozenset({R}))
    assert modes(graph, STRANGER) == {R}
    assert modes(graph, STRANGER, RESOURCE, inherited=True) == frozenset()
    assert modes(graph, BOB) == {R, W, A}  # nobody else changed


def test_a_grant_with_members_is_inherited_by_the_containers_contents():
    graph = Graph()
    _add_grant(graph, _Scope(POD + ".acl", POD, True), BOB, frozenset({R, A}))
    assert modes(graph, BOB, POD) == {R, A}
    assert modes(graph, BOB, POD, inherited=True) == {R, A}


def test_granting_the_same_thing_twice_leaves_the_same_graph():
    once, twice = acl(OWNER_AND_SHARED), acl(OWNER_AND_SHARED)
    scope = _Scope(ACL_URL, RESOURCE, False)
    _add_grant(once, scope, STRANGER, frozenset({R, W}))
    _add_grant(twice, scope, STRANGER, frozenset({R, W}))
    _add_grant(twice, scope, STRANGER, frozenset({R, W}))
    assert set(once) == set(twice)
    assert len(twice) == len(acl(OWNER_AND_SHARED)) + 5  # type, agent, accessTo, two modes


def test_a_second_grant_adds_modes_to_the_first():
    graph = Graph()
    scope = _Scope(ACL_URL, RESOURCE, False)
    _add_grant(graph, scope, BOB, frozenset({R}))
    _add_grant(graph, scope, BOB, frozenset({W}))
    assert modes(graph, BOB) == {R, W, A}
    assert len(set(graph.subjects(ACL.agent, URIRef(BOB)))) == 1


# --- _remove_grant ----------------------------------------------------------------------------


def test_revoking_some_modes_shrinks_an_agents_own_authorization():
    graph = acl(f"""<#bob> a acl:Authorization; acl:agent <{BOB}>; acl:accessTo <{RESOURCE}>;
        acl:mode acl:Read, acl:Write.""")
    _remove_grant(graph, ACL_URL, RESOURCE, BOB, frozenset({W}))
    assert modes(graph, BOB) == {R}
    assert set(graph.objects(URIRef(ACL_URL + "#bob"), ACL.mode)) == {ACL.Read}


def test_revoking_every_mode_removes_the_authorization_entirely():
    graph = acl(
        OWNER
        + f"""<#bob> a acl:Authorization; acl:agent <{BOB}>; acl:accessTo <{RESOURCE}>;
            acl:mode acl:Read, acl:Append."""
    )
    _remove_grant(graph, ACL_URL, RESOURCE, BOB, frozenset(AccessMode))
    assert set(graph) == set(acl(OWNER))


def test_revoking_from_a_shared_authorization_keeps_the_others_and_the_agents_remainder():
    graph = acl(OWNER_AND_SHARED)
    _remove_grant(graph, ACL_URL, RESOURCE, BOB, frozenset({W}))
    assert modes(graph, BOB) == {R}
    assert modes(graph, CAROL) == {R, W, A}
    assert modes(graph, ALICE) == {R, W, A, C}
    team = URIRef(ACL_URL + "#team")
    assert set(graph.objects(team, ACL.agent)) == {URIRef(CAROL)}


def test_revoking_everything_from_a_shared_authorization_leaves_no_trace_of_the_agent():
    graph = acl(OWNER_AND_SHARED)
    _remove_grant(graph, ACL_URL, RESOURCE, BOB, frozenset(AccessMode))
    assert modes(graph, BOB) == frozenset()
    assert (None, None, URIRef(BOB)) not in graph
    assert modes(graph, CAROL) == {R, W, A}


def test_revoking_does_not_touch_public_access_or_other_resources():
    graph = acl(f"""
        <#public> a acl:Authorization; acl:agentClass foaf:Agent; acl:accessTo <{RESOURCE}>;
            acl:mode acl:Read.
        <#elsewhere> a acl:Authorization; acl:agent <{BOB}>; acl:accessTo <{POD}other.ttl>;
            acl:mode acl:Read.""")
    before = to_isomorphic(graph)
    _remove_grant(graph, ACL_URL, RESOURCE, BOB, frozenset(AccessMode))
    assert to_isomorphic(graph) == before
    assert modes(graph, BOB) == {R}  # still public: revoking Bob cannot take that away


def test_revoking_reaches_inherited_authorizations_of_a_container():
    graph = acl(f"""<#kids> a acl:Authorization; acl:agent <{BOB}>; acl:default <{POD}>;
        acl:mode acl:Read.""")
    _remove_grant(graph, POD + ".acl", POD, BOB, frozenset({R}))
    assert modes(graph, BOB, POD, inherited=True) == frozenset()


# --- AccessMode.parse -------------------------------------------------------------------------


def test_modes_are_parsed_from_iris_names_in_any_case_and_members():
    parsed = AccessMode.parse(
        ["http://www.w3.org/ns/auth/acl#Read", "write", "APPEND", AccessMode.CONTROL, "Read"]
    )
    assert parsed == {R, W, A, C}
    assert AccessMode.parse([]) == frozenset()
    assert R.iri == "http://www.w3.org/ns/auth/acl#Read"


@pytest.mark.parametrize("junk", ["Delete", "", "rea d", "http://www.w3.org/ns/auth/acl#"])
def test_an_unknown_mode_is_refused_naming_it_and_the_valid_ones(junk):
    message = f"{junk!r} is not an access mode (Read, Write, Append, Control)."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        AccessMode.parse(["Read", junk])


def test_an_agent_split_out_of_a_blank_node_authorization_gets_an_iri_in_the_acl_document():
    graph = acl(
        OWNER
        + f"""[] a acl:Authorization; acl:agent <{BOB}>, <{CAROL}>;
        acl:accessTo <{RESOURCE}>; acl:mode acl:Read, acl:Write."""
    )
    _remove_grant(graph, ACL_URL, RESOURCE, BOB, frozenset({W}))
    assert modes(graph, BOB) == {R}
    assert modes(graph, CAROL) == {R, W, A}
    (bobs,) = set(graph.subjects(ACL.agent, URIRef(BOB)))
    assert str(bobs).startswith(ACL_URL + "#split-")


# --- Groups -----------------------------------------------------------------------------------

TEAM = "https://pod.example/alice/groups/team.ttl#it"
GROUP_ACL = f"""
<#team> a acl:Authorization; acl:agentGroup <{TEAM}>; acl:accessTo <{RESOURCE}>;
    acl:mode acl:Read, acl:Control.
"""


def test_a_group_grants_its_listed_members_only():
    members = {URIRef(TEAM): frozenset({URIRef(BOB)})}
    graph = acl(GROUP_ACL)
    assert modes(graph, BOB, groups=members.get) == {R, C}
    assert modes(graph, CAROL, groups=members.get) == frozenset()


def test_a_group_whose_members_are_unknown_grants_nothing():
    graph = acl(GROUP_ACL)
    assert modes(graph, BOB) == frozenset()  # no reader: groups are not guessed
    assert modes(graph, BOB, groups=lambda group: None) == frozenset()
