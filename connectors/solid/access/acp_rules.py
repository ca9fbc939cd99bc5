"""Access Control Policies evaluation as pure functions over rdflib graphs.

Follows the ACP specification (https://solid.github.io/authorization-panel/acp-specification/)
the way Community Solid Server applies it (its `AcpReader` and `@solid/access-control-policy`):

- The effective policies of a resource are those its own ACR applies with `acp:accessControl`,
  plus those every ancestor's ACR applies with `acp:memberAccessControl`. ACP adds up: an
  ancestor's member controls still count when the resource has an ACR of its own.
- An ACR speaks for a resource only through a node that names it with `acp:resource`; CSS
  ignores access controls hung on a node without one, so they count for nothing here either.
  (CSS also applies the member controls of a node naming some *other* resource, even in the
  resource's own ACR. We do not: ACP describes no such documents, and we never write them.)
- A policy applies when all its `acp:allOf` matchers, at least one of its `acp:anyOf` matchers
  (if it lists any) and none of its `acp:noneOf` matchers are satisfied, and it lists at least
  one allOf or anyOf matcher. Modes are the applying policies' `acp:allow` minus their `acp:deny`.

Only the agent is known here, never the client application, identity provider or credentials
of a request: a matcher that constrains those is treated as not satisfied. That under-reports
access granted only to some app, and never reports access a request might not get, so lock-out
checks built on these functions err on the safe side. For the same reason `acp:CreatorAgent`
and `acp:OwnerAgent` (which need facts about the resource we do not have) match nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rdflib import Graph, URIRef
from rdflib.term import Node

from vocab import ACP

from .base import AccessMode

_MODES = {URIRef(mode.iri): mode for mode in AccessMode}
_ANY_AGENT = (ACP.PublicAgent, ACP.AuthenticatedAgent)
#: Matcher attributes whose value we never know when evaluating for an agent alone.
_UNKNOWN_ATTRIBUTES = (ACP.client, ACP.issuer, ACP.vc)
#: The matcher lists a policy uses to select who it applies to (noneOf only excludes).
POSITIVE_CONDITIONS = (ACP.allOf, ACP.anyOf)


@dataclass(frozen=True)
class Acr:
    """One access control resource as read: its graph and the resource it governs."""

    graph: Graph
    resource_url: str


@dataclass(frozen=True)
class PolicyRef:
    """A policy node together with the graph it is described in (blank nodes are per graph)."""

    graph: Graph
    node: Node


def acr_nodes(graph: Graph, resource_url: str) -> list[Node]:
    """The nodes of an ACR document that speak for `resource_url` (`acp:resource`)."""
    return sorted(set(graph.subjects(ACP.resource, URIRef(resource_url))), key=str)


def access_controls(graph: Graph, resource_url: str, link: URIRef) -> list[Node]:
    """Access controls linked with `link` (`acp:accessControl` or `acp:memberAccessControl`)."""
    controls = {c for acr in acr_nodes(graph, resource_url) for c in graph.objects(acr, link)}
    return sorted(controls, key=str)


def policies(graph: Graph, resource_url: str, link: URIRef) -> list[PolicyRef]:
    applied = {
        policy
        for control in access_controls(graph, resource_url, link)
        for policy in graph.objects(control, ACP.apply)
    }
    return [PolicyRef(graph, policy) for policy in sorted(applied, key=str)]


def effective_policies(own: Acr | None, ancestors: Iterable[Acr]) -> list[PolicyRef]:
    """The resource's own `accessControl` policies and its ancestors' member policies."""
    found = policies(own.graph, own.resource_url, ACP.accessControl) if own else []
    for ancestor in ancestors:
        found += policies(ancestor.graph, ancestor.resource_url, ACP.memberAccessControl)
    return found


def effective_modes(own: Acr | None, ancestors: Iterable[Acr], agent: str) -> frozenset[AccessMode]:
    """The modes `agent` holds on `own.resource_url`, given the ACRs of it and its ancestors."""
    return allowed_modes(effective_policies(own, ancestors), agent)


def allowed_modes(found: Sequence[PolicyRef], agent: str) -> frozenset[AccessMode]:
    """Allowed minus denied modes over the policies that apply to `agent`."""
    modes = set(explicit_modes(found, agent))
    if AccessMode.WRITE in modes:
        # As in WAC, and as CSS maps `acl:Write`: Write includes Append. Denials are applied
        # to the IRIs first, so denying Append does not take it from an allowed Write (CSS).
        modes.add(AccessMode.APPEND)
    return frozenset(modes)


def explicit_modes(found: Sequence[PolicyRef], agent: str) -> frozenset[AccessMode]:
    """The modes the applying policies name, allowed and not denied, without implied ones.

    Revocations work on these: taking Write from someone takes the Append it implied too.
    """
    allowed: set[Node] = set()
    denied: set[Node] = set()
    for policy in found:
        if policy_applies(policy.graph, policy.node, agent):
            allowed.update(policy.graph.objects(policy.node, ACP.allow))
            denied.update(policy.graph.objects(policy.node, ACP.deny))
    # Only the four ACL modes mean anything to a Solid server; other IRIs grant nothing.
    return frozenset(_MODES[iri] for iri in allowed - denied if iri in _MODES)


def policy_applies(graph: Graph, policy: Node, agent: str) -> bool:
    all_of = list(graph.objects(policy, ACP.allOf))
    any_of = list(graph.objects(policy, ACP.anyOf))
    if not all_of and not any_of:
        return False  # a policy that only excludes selects nobody
    return (
        all(matcher_satisfied(graph, m, agent) for m in all_of)
        and (not any_of or any(matcher_satisfied(graph, m, agent) for m in any_of))
        and not any(matcher_satisfied(graph, m, agent) for m in graph.objects(policy, ACP.noneOf))
    )


def matcher_satisfied(graph: Graph, matcher: Node, agent: str) -> bool:
    """True when the matcher selects `agent`, whatever client or issuer it uses."""
    if any(True for attribute in _UNKNOWN_ATTRIBUTES for _ in graph.objects(matcher, attribute)):
        return False  # we cannot know the request's client, issuer or credentials
    agents = set(graph.objects(matcher, ACP.agent))
    return URIRef(agent) in agents or any(value in agents for value in _ANY_AGENT)


def named_agents(graph: Graph, policy: Node) -> set[Node]:
    """The `acp:agent` values of the matchers that select who a policy applies to."""
    return {
        value
        for condition in POSITIVE_CONDITIONS
        for matcher in graph.objects(policy, condition)
        for value in graph.objects(matcher, ACP.agent)
    }
