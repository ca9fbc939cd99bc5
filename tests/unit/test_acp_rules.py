"""Access Control Policies as pure graph functions: evaluation, grant and revoke."""

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from connectors.solid.access import AccessMode
from connectors.solid.access.acp import add_grant, remove_grant
from connectors.solid.access.acp_rules import Acr, effective_modes

POD = "https://pod.example/alice/"
CONTAINER = POD + "data/"
RESOURCE = CONTAINER + "customers.ttl"
ACR_URL = RESOURCE + ".acr"
ALICE = POD + "profile/card#me"
BOB = "https://bob.example/profile#me"
CAROL = "https://carol.example/profile#me"
STRANGER = "https://stranger.example/#me"

R, W, A, C = AccessMode.READ, AccessMode.WRITE, AccessMode.APPEND, AccessMode.CONTROL

PREFIXES = """
@prefix acp: <http://www.w3.org/ns/solid/acp#> .
@prefix acl: <http://www.w3.org/ns/auth/acl#> .
"""

#: The pod root ACR Community Solid Server 7.2 writes, blank nodes and all.
CSS_ROOT = f"""
<#root> a acp:AccessControlResource; acp:resource <./>;
    acp:accessControl <#fullOwnerAccess>, <#publicReadAccess>;
    acp:memberAccessControl <#fullOwnerAccess>.
<#publicReadAccess> a acp:AccessControl; acp:apply [ a acp:Policy; acp:allow acl:Read;
    acp:anyOf [ a acp:Matcher; acp:agent acp:PublicAgent ] ].
<#fullOwnerAccess> a acp:AccessControl; acp:apply [ a acp:Policy;
    acp:allow acl:Read, acl:Write, acl:Control;
    acp:anyOf [ a acp:Matcher; acp:agent <{ALICE}> ] ].
"""


def acr(turtle: str, base: str = ACR_URL) -> Graph:
    return Graph().parse(data=PREFIXES + turtle, format="turtle", publicID=base)


def own(body: str) -> Acr:
    """An ACR for RESOURCE whose `<#root>` applies `body`'s `<#p>` through `<#c>`."""
    return Acr(
        acr(
            f"""<#root> acp:resource <{RESOURCE}>; acp:accessControl <#c>.
            <#c> acp:apply <#p>. {body}"""
        ),
        RESOURCE,
    )


def root_acr() -> Acr:
    return Acr(acr(CSS_ROOT, base=POD + ".acr"), POD)


def modes(own_acr: Acr | None, agent: str, *ancestors: Acr) -> frozenset[AccessMode]:
    return effective_modes(own_acr, ancestors, agent)


# --- Evaluation ---------------------------------------------------------------------------------


def test_css_root_with_blank_node_policies():
    root = root_acr()
    assert modes(root, ALICE) == {R, W, A, C}
    assert modes(root, STRANGER) == {R}  # the pod's home page is public
    # Members inherit the owner's access only; the public read is for the root itself.
    child = Acr(Graph(), RESOURCE)
    assert modes(child, ALICE, root) == {R, W, A, C}
    assert modes(child, STRANGER, root) == frozenset()
    assert modes(None, ALICE, root) == {R, W, A, C}  # no ACR of its own yet


def test_all_of_needs_every_matcher():
    both = f"<#p> acp:allow acl:Read; acp:allOf [ acp:agent <{BOB}> ], [ acp:agent <{CAROL}> ]."
    assert modes(own(both), BOB) == frozenset()
    authenticated = (
        f"<#p> acp:allow acl:Read; acp:allOf [ acp:agent <{BOB}> ], "
        "[ acp:agent acp:AuthenticatedAgent ]."
    )
    assert modes(own(authenticated), BOB) == {R}
    assert modes(own(authenticated), CAROL) == frozenset()


def test_any_of_needs_one_matcher_and_a_matcher_lists_alternatives():
    any_of = f"<#p> acp:allow acl:Read; acp:anyOf [ acp:agent <{BOB}> ], [ acp:agent <{CAROL}> ]."
    one_matcher = f"<#p> acp:allow acl:Read; acp:allOf [ acp:agent <{BOB}>, <{CAROL}> ]."
    for body in (any_of, one_matcher):
        assert modes(own(body), BOB) == {R}
        assert modes(own(body), CAROL) == {R}
        assert modes(own(body), STRANGER) == frozenset()


def test_none_of_excludes_and_alone_selects_nobody():
    body = (
        "<#p> acp:allow acl:Read; acp:anyOf [ acp:agent acp:AuthenticatedAgent ]; "
        f"acp:noneOf [ acp:agent <{BOB}> ]."
    )
    assert modes(own(body), CAROL) == {R}
    assert modes(own(body), BOB) == frozenset()
    only_none_of = f"<#p> acp:allow acl:Read; acp:noneOf [ acp:agent <{BOB}> ]."
    assert modes(own(only_none_of), CAROL) == frozenset()


def test_deny_beats_allow_across_policies():
    body = f"""<#c> acp:apply <#q>.
    <#p> acp:allow acl:Read, acl:Write; acp:anyOf [ acp:agent acp:PublicAgent ].
    <#q> acp:deny acl:Write; acp:allOf [ acp:agent <{BOB}> ]."""
    assert modes(own(body), BOB) == {R}
    assert modes(own(body), CAROL) == {R, W, A}  # Write includes Append


def test_denying_append_does_not_take_it_from_write_as_on_css():
    body = f"<#p> acp:allow acl:Write; acp:deny acl:Append; acp:allOf [ acp:agent <{BOB}> ]."
    assert modes(own(body), BOB) == {W, A}


def test_public_agent_matches_every_webid():
    body = "<#p> acp:allow acl:Read; acp:anyOf [ acp:agent acp:PublicAgent ]."
    assert modes(own(body), STRANGER) == {R}


# What a request may carry besides the agent: a matcher naming it is *unknown* to us, except
# acp:PublicClient, which matches every client (ACP ontology; CSS's engine agrees).
UNKNOWN_CONSTRAINTS = [
    "acp:client <https://app.example/id>",
    "acp:issuer <https://idp.example/>",
    "acp:issuer acp:PublicIssuer",  # always satisfied by the ontology, never by CSS's engine
    "acp:vc <https://example.org/Credential>",
]


@pytest.mark.parametrize("constraint", UNKNOWN_CONSTRAINTS)
def test_a_matcher_that_also_constrains_the_request_grants_nothing_for_sure(constraint):
    body = f"<#p> acp:allow acl:Read; acp:allOf [ acp:agent <{BOB}>; {constraint} ]."
    assert modes(own(body), BOB) == frozenset()


def test_a_public_client_matches_every_client():
    body = f"<#p> acp:allow acl:Read; acp:allOf [ acp:agent <{BOB}>; acp:client acp:PublicClient ]."
    assert modes(own(body), BOB) == {R}


# The truth table of a policy with one matcher, for BOB: the matcher is True (names BOB), False
# (names CAROL) or unknown (names BOB and a client). Each row: where the matcher sits, whether
# the policy allows or denies, and the modes BOB is *sure* to hold, given that a second policy
# allows him Read and Write outright. Both readers (reporting access, and the owner lock-out
# check) need this lower bound: an unknown allow grants nothing, an unknown deny denies.
MATCHERS = {
    "true": f"[ acp:agent <{BOB}> ]",
    "false": f"[ acp:agent <{CAROL}> ]",
    "unknown": f"[ acp:agent <{BOB}>; acp:client <https://app.example/id> ]",
}
EVERYONE = "[ acp:agent acp:PublicAgent ]"
BASE = {R, W, A}  # what the second policy gives BOB; allow rows add Control
TRUTH_TABLE = [
    # condition, matcher, effect, BOB surely holds
    ("allOf", "true", "allow", BASE | {C}),
    ("allOf", "false", "allow", BASE),
    ("allOf", "unknown", "allow", BASE),
    ("anyOf", "true", "allow", BASE | {C}),
    ("anyOf", "false", "allow", BASE),
    ("anyOf", "unknown", "allow", BASE),
    # noneOf beside "everyone": excludes BOB when true, might exclude him when unknown
    ("noneOf", "true", "allow", BASE),
    ("noneOf", "false", "allow", BASE | {C}),
    ("noneOf", "unknown", "allow", BASE),
    ("allOf", "true", "deny", {R}),
    ("allOf", "false", "deny", BASE),
    ("allOf", "unknown", "deny", {R}),
    ("anyOf", "true", "deny", {R}),
    ("anyOf", "false", "deny", BASE),
    ("anyOf", "unknown", "deny", {R}),
    ("noneOf", "true", "deny", BASE),
    ("noneOf", "false", "deny", {R}),
    ("noneOf", "unknown", "deny", {R}),
]


@pytest.mark.parametrize(("condition", "matcher", "effect", "expected"), TRUTH_TABLE)
def test_truth_table_of_an_unknown_matcher(condition, matcher, effect, expected):
    if condition == "noneOf":  # noneOf alone selects nobody: pair it with "everyone"
        selects = f"acp:anyOf {EVERYONE}; acp:noneOf {MATCHERS[matcher]}"
    else:
        selects = f"acp:{condition} {MATCHERS[matcher]}"
    modes_named = "acl:Control" if effect == "allow" else "acl:Write"
    body = f"""<#c> acp:apply <#q>.
    <#p> acp:allow acl:Read, acl:Write; acp:allOf [ acp:agent <{BOB}> ].
    <#q> acp:{effect} {modes_named}; {selects}."""
    assert modes(own(body), BOB) == expected


@pytest.mark.parametrize(
    ("all_of", "any_of", "expected"),
    [
        (["true", "unknown"], [], frozenset()),  # and: unknown
        (["false", "unknown"], [], frozenset()),  # and: false
        ([], ["true", "unknown"], {R}),  # or: true whatever the other
        ([], ["false", "unknown"], frozenset()),  # or: unknown
    ],
)
def test_unknown_combines_by_kleene_logic(all_of, any_of, expected):
    parts = [f"acp:allOf {MATCHERS[m]}" for m in all_of]
    parts += [f"acp:anyOf {MATCHERS[m]}" for m in any_of]
    body = f"<#p> acp:allow acl:Read; {'; '.join(parts)}."
    assert modes(own(body), BOB) == expected


def test_a_denial_bob_might_meet_through_an_app_keeps_him_from_control():
    """The owner lock-out check: a deny policy that names the owner with some client is no
    proof the owner keeps Control; it might apply to every request the owner makes."""
    body = f"""<#c> acp:apply <#q>.
    <#p> acp:allow acl:Read, acl:Write, acl:Control; acp:allOf [ acp:agent <{ALICE}> ].
    <#q> acp:deny acl:Control;
        acp:allOf [ acp:agent <{ALICE}>; acp:issuer <https://idp.example/> ]."""
    assert C not in modes(own(body), ALICE)


def test_creator_and_owner_agents_are_unknown_here():
    allow = "<#p> acp:allow acl:Read; acp:anyOf [ acp:agent acp:CreatorAgent, acp:OwnerAgent ]."
    assert modes(own(allow), ALICE) == frozenset()
    deny = f"""<#c> acp:apply <#q>.
    <#p> acp:allow acl:Read; acp:allOf [ acp:agent <{ALICE}> ].
    <#q> acp:deny acl:Read; acp:allOf [ acp:agent acp:OwnerAgent ]."""
    assert modes(own(deny), ALICE) == frozenset()  # she may be the owner, and be denied


def test_a_node_named_only_by_access_control_resource_might_apply():
    """ACP: `acp:accessControlResource` links a resource to its ACR as `acp:resource` does the
    other way; CSS reads only the latter. Its denials count, its allowances are not sure."""
    graph = acr(
        f"""<#root> acp:resource <{RESOURCE}>; acp:accessControl <#c>.
        <#c> acp:apply [ acp:allow acl:Read, acl:Write; acp:allOf [ acp:agent <{BOB}> ] ].
        <{RESOURCE}> acp:accessControlResource <#inverse>.
        <#inverse> acp:accessControl <#d>.
        <#d> acp:apply [ acp:deny acl:Write; acp:allOf [ acp:agent <{BOB}> ] ],
            [ acp:allow acl:Control; acp:allOf [ acp:agent <{BOB}> ] ]."""
    )
    assert modes(Acr(graph, RESOURCE), BOB) == {R}


def test_unknown_mode_iris_grant_nothing():
    body = f"<#p> acp:allow <https://evil.example/Control>; acp:allOf [ acp:agent <{BOB}> ]."
    assert modes(own(body), BOB) == frozenset()


def test_only_the_node_naming_the_resource_counts():
    stray = acr(
        f"""<#other> a acp:AccessControlResource; acp:accessControl <#c>.
        <#c> acp:apply [ acp:allow acl:Read; acp:allOf [ acp:agent <{BOB}> ] ]."""
    )
    assert modes(Acr(stray, RESOURCE), BOB) == frozenset()


def test_member_controls_come_from_ancestors_only():
    grant = f"[ acp:allow acl:Read; acp:allOf [ acp:agent <{BOB}> ] ]"
    container = Acr(
        acr(
            f"""<#root> acp:resource <{CONTAINER}>; acp:memberAccessControl <#m>;
            acp:accessControl <#own>.
            <#m> acp:apply {grant}.
            <#own> acp:apply [ acp:allow acl:Write; acp:allOf [ acp:agent <{BOB}> ] ].""",
            base=CONTAINER + ".acr",
        ),
        CONTAINER,
    )
    # The container itself: its own accessControl only, not what it gives its members.
    assert modes(container, BOB, root_acr()) == {W, A}
    # A member: the container's member control, not the container's own control.
    assert modes(None, BOB, container, root_acr()) == {R}
    # The member's own ACR listing member controls gives nothing to the member itself.
    self_members = Acr(
        acr(f"<#root> acp:resource <{RESOURCE}>; acp:memberAccessControl [ acp:apply {grant} ]."),
        RESOURCE,
    )
    assert modes(self_members, BOB) == frozenset()


def test_an_ancestor_denial_reaches_members():
    container = Acr(
        acr(
            f"""<#root> acp:resource <{CONTAINER}>; acp:memberAccessControl <#m>.
            <#m> acp:apply [ acp:deny acl:Control; acp:allOf [ acp:agent <{ALICE}> ] ].""",
            base=CONTAINER + ".acr",
        ),
        CONTAINER,
    )
    assert modes(None, ALICE, container, root_acr()) == {R, W, A}


# --- Editing ------------------------------------------------------------------------------------


def granted(graph: Graph, agent: str) -> frozenset[AccessMode]:
    return modes(Acr(graph, RESOURCE), agent)


def test_grant_creates_the_acr_node_and_is_idempotent():
    graph = Graph()
    add_grant(graph, ACR_URL, RESOURCE, BOB, {R})
    assert (URIRef(ACR_URL + "#root"), URIRef("http://www.w3.org/ns/solid/acp#resource"),
            URIRef(RESOURCE)) in graph  # fmt: skip
    once = Graph() + graph
    add_grant(graph, ACR_URL, RESOURCE, BOB, {R})
    assert isomorphic(graph, once)
    assert granted(graph, BOB) == {R}
    assert granted(graph, CAROL) == frozenset()
    add_grant(graph, ACR_URL, RESOURCE, BOB, {W})  # extends the same grant
    assert granted(graph, BOB) == {R, W, A}


def test_grant_with_members_reaches_the_container_and_its_members():
    graph = Graph()
    add_grant(graph, CONTAINER + ".acr", CONTAINER, BOB, {R}, include_members=True)
    container = Acr(graph, CONTAINER)
    assert modes(container, BOB) == {R}
    assert modes(None, BOB, container) == {R}


def test_grant_then_revoke_leaves_only_the_acr_node():
    graph = Graph()
    add_grant(graph, ACR_URL, RESOURCE, BOB, {R, W})
    remove_grant(graph, ACR_URL, RESOURCE, BOB, frozenset({W}))
    assert granted(graph, BOB) == {R}  # Write taken, and the Append it implied with it
    remove_grant(graph, ACR_URL, RESOURCE, BOB, frozenset(AccessMode))
    assert granted(graph, BOB) == frozenset()
    assert set(graph.subjects()) == {URIRef(ACR_URL + "#root")}


def test_revoking_from_a_shared_matcher_keeps_the_others_and_gives_back_the_rest():
    graph = acr(
        f"""<#root> acp:resource <{RESOURCE}>; acp:accessControl <#c>.
        <#c> acp:apply <#p>.
        <#p> acp:allow acl:Read, acl:Write; acp:anyOf <#m>.
        <#m> acp:agent <{BOB}>, <{CAROL}>."""
    )
    remove_grant(graph, ACR_URL, RESOURCE, BOB, frozenset({W}))
    assert granted(graph, BOB) == {R}
    assert granted(graph, CAROL) == {R, W, A}
    assert (URIRef(ACR_URL + "#m"), None, URIRef(BOB)) not in graph


def test_revoking_keeps_denials_and_other_policies_using_the_same_matcher():
    graph = acr(
        f"""<#root> acp:resource <{RESOURCE}>; acp:accessControl <#c>, <#d>.
        <#c> acp:apply [ acp:allow acl:Read, acl:Write; acp:anyOf <#m> ].
        <#d> acp:apply [ acp:deny acl:Write; acp:allOf <#m>; acp:anyOf <#m> ].
        <#m> acp:agent <{BOB}>, <{CAROL}>."""
    )
    remove_grant(graph, ACR_URL, RESOURCE, BOB, frozenset({R}))
    assert granted(graph, BOB) == frozenset()  # still denied Write, Read taken
    assert granted(graph, CAROL) == {R}
    add_grant(graph, ACR_URL, RESOURCE, BOB, {W})
    assert granted(graph, BOB) == frozenset()  # the denial still holds for Bob


def test_revoking_the_owner_on_the_css_root_drops_only_their_policy():
    graph = root_acr().graph
    remove_grant(graph, POD + ".acr", POD, ALICE, frozenset(AccessMode))
    root = Acr(graph, POD)
    assert modes(root, ALICE) == {R}  # as a member of the public
    assert modes(None, ALICE, root) == frozenset()
    assert modes(root, STRANGER) == {R}
    assert (None, URIRef("http://www.w3.org/ns/solid/acp#memberAccessControl"), None) not in graph


def test_revoking_leaves_member_access_it_did_not_take():
    graph = acr(
        f"""<#root> acp:resource <{CONTAINER}>; acp:accessControl <#c>;
            acp:memberAccessControl <#c>.
        <#c> acp:apply [ acp:allow acl:Read, acl:Append; acp:anyOf [ acp:agent <{BOB}>, <{CAROL}> ]
        ].""",
        base=CONTAINER + ".acr",
    )
    remove_grant(graph, CONTAINER + ".acr", CONTAINER, BOB, frozenset({A}))
    container = Acr(graph, CONTAINER)
    assert modes(container, BOB) == {R}
    assert modes(None, BOB, container) == {R}
    assert modes(None, CAROL, container) == {R, A}


def test_revoking_what_was_never_granted_changes_nothing():
    graph = root_acr().graph
    before = Graph() + graph
    remove_grant(graph, POD + ".acr", POD, BOB, frozenset(AccessMode))
    assert isomorphic(graph, before)
