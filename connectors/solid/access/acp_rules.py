"""Access Control Policies evaluation as pure functions over rdflib graphs.

Follows the ACP specification (https://solid.github.io/authorization-panel/acp-specification/)
the way Community Solid Server applies it (its `AcpReader` and `@solid/access-control-policy`):

- The effective policies of a resource are those its own ACR applies with `acp:accessControl`,
  plus those every ancestor's ACR applies with `acp:memberAccessControl`. ACP adds up: an
  ancestor's member controls still count when the resource has an ACR of its own.
- An ACR speaks for a resource through a node that names it with `acp:resource`. ACP says the
  inverse, `acp:accessControlResource`, MUST be taken into account too (its definition of
  `acp:AccessControlResource`), but CSS's `AcpReader` reads `acp:resource` only. So a policy
  reached only through the inverse *might* apply: its denials count, its allowances do not.
  Access controls hung on a node linked neither way count for nothing.
  (CSS also applies the member controls of a node naming some *other* resource, even in the
  resource's own ACR. We do not: ACP describes no such documents, and we never write them.)
- A policy applies when all its `acp:allOf` matchers, at least one of its `acp:anyOf` matchers
  (if it lists any) and none of its `acp:noneOf` matchers are satisfied, and it lists at least
  one allOf or anyOf matcher. Modes are the applying policies' `acp:allow` minus their `acp:deny`.

Only the agent is known here, never the client application, identity provider or credentials
of a request, nor who created or owns the resource. A matcher that depends on those (`acp:client`,
`acp:issuer`, `acp:vc` other than the always-satisfied `acp:PublicClient` / `acp:PublicIssuer`;
`acp:CreatorAgent`, `acp:OwnerAgent`) is *unknown*, and evaluation is three-valued (Kleene):
allOf is "and", anyOf "or", noneOf "not or". The modes reported are those every request by the
agent is sure to get: allowed by a policy that surely applies, and denied by no policy that
might apply. So an unknown matcher never adds access (in allOf or anyOf of an allow policy), and
never takes a denial away (in a deny policy, or in the noneOf of an allow policy, where it might
exclude the agent). Both readers want exactly this lower bound: reporting access must never
over-report, and the owner lock-out check must never conclude "the owner keeps Control" from a
policy the owner might not satisfy.
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
#: Agents that depend on facts about the resource we do not have.
_UNKNOWN_AGENTS = (ACP.CreatorAgent, ACP.OwnerAgent)
#: Matcher attributes whose value we never know when evaluating for an agent alone, each with
#: the value that matches every request whatever it is. The ACP ontology makes both
#: `acp:PublicClient` and `acp:PublicIssuer` always satisfied, but CSS's engine
#: (@solid/access-control-policy) honours only the first: a public issuer stays unknown.
_REQUEST_ATTRIBUTES = (
    (ACP.client, ACP.PublicClient),
    (ACP.issuer, None),
    (ACP.vc, None),
)

#: Three-valued truth: True, False, or None for "depends on what we cannot know".
Truth = bool | None
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
    #: False when only `acp:accessControlResource` links it to the resource: not every
    #: engine reads that link, so the policy might apply, or not.
    certain: bool = True


def acr_nodes(graph: Graph, resource_url: str) -> list[Node]:
    """The nodes of an ACR document that speak for `resource_url` with `acp:resource` (the
    link every engine reads, and the one our edits use)."""
    return sorted(set(graph.subjects(ACP.resource, URIRef(resource_url))), key=str)


def inverse_acr_nodes(graph: Graph, resource_url: str) -> list[Node]:
    """Nodes the resource names with `acp:accessControlResource` that `acp:resource` misses."""
    named = set(graph.objects(URIRef(resource_url), ACP.accessControlResource))
    return sorted(named - set(acr_nodes(graph, resource_url)), key=str)


def access_controls(
    graph: Graph, resource_url: str, link: URIRef, *, inverse: bool = False
) -> list[Node]:
    """Access controls linked with `link` (`acp:accessControl` or `acp:memberAccessControl`)."""
    nodes = inverse_acr_nodes if inverse else acr_nodes
    controls = {c for acr in nodes(graph, resource_url) for c in graph.objects(acr, link)}
    return sorted(controls, key=str)


def policies(graph: Graph, resource_url: str, link: URIRef) -> list[PolicyRef]:
    found: dict[Node, bool] = {}
    for inverse in (False, True):
        for control in access_controls(graph, resource_url, link, inverse=inverse):
            for policy in graph.objects(control, ACP.apply):
                found.setdefault(policy, not inverse)
    return [PolicyRef(graph, policy, found[policy]) for policy in sorted(found, key=str)]


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
    """The modes the agent surely holds, without implied ones: allowed by a policy that surely
    applies, denied by none that might.

    Revocations work on these: taking Write from someone takes the Append it implied too.
    """
    allowed: set[Node] = set()
    denied: set[Node] = set()
    for policy in found:
        applies = policy_truth(policy.graph, policy.node, agent)
        if not policy.certain:
            applies = _and(None, applies)
        if applies is True:
            allowed.update(policy.graph.objects(policy.node, ACP.allow))
        if applies is not False:  # a denial that might apply is counted as applying
            denied.update(policy.graph.objects(policy.node, ACP.deny))
    # Only the four ACL modes mean anything to a Solid server; other IRIs grant nothing.
    return frozenset(_MODES[iri] for iri in allowed - denied if iri in _MODES)


def policy_applies(graph: Graph, policy: Node, agent: str) -> bool:
    """True only when the policy applies to every request `agent` could make."""
    return policy_truth(graph, policy, agent) is True


def policy_truth(graph: Graph, policy: Node, agent: str) -> Truth:
    """Whether the policy applies to the agent's requests: True, False or None (it depends)."""
    all_of = [matcher_truth(graph, m, agent) for m in graph.objects(policy, ACP.allOf)]
    any_of = [matcher_truth(graph, m, agent) for m in graph.objects(policy, ACP.anyOf)]
    none_of = [matcher_truth(graph, m, agent) for m in graph.objects(policy, ACP.noneOf)]
    if not all_of and not any_of:
        return False  # a policy that only excludes selects nobody
    return _and(_and(*all_of), _or(*any_of) if any_of else True, _not(_or(*none_of)))


def matcher_truth(graph: Graph, matcher: Node, agent: str) -> Truth:
    """Whether the matcher selects the agent's requests: every attribute it defines must match
    (a value of each), and a matcher defining none is not satisfied (ACP, Matcher)."""
    results: list[Truth] = []
    agents = set(graph.objects(matcher, ACP.agent))
    if agents:
        if URIRef(agent) in agents or any(value in agents for value in _ANY_AGENT):
            results.append(True)
        else:
            results.append(None if any(value in agents for value in _UNKNOWN_AGENTS) else False)
    for attribute, always in _REQUEST_ATTRIBUTES:
        values = set(graph.objects(matcher, attribute))
        if values:
            results.append(True if always is not None and always in values else None)
    return _and(*results) if results else False


def matcher_satisfied(graph: Graph, matcher: Node, agent: str) -> bool:
    """True when the matcher surely selects `agent`, whatever client or issuer it uses."""
    return matcher_truth(graph, matcher, agent) is True


def _and(*values: Truth) -> Truth:
    if any(value is False for value in values):
        return False
    return None if any(value is None for value in values) else True


def _or(*values: Truth) -> Truth:
    if any(value is True for value in values):
        return True
    return None if any(value is None for value in values) else False


def _not(value: Truth) -> Truth:
    return None if value is None else not value


def named_agents(graph: Graph, policy: Node) -> set[Node]:
    """The `acp:agent` values of the matchers that select who a policy applies to."""
    return {
        value
        for condition in POSITIVE_CONDITIONS
        for matcher in graph.objects(policy, condition)
        for value in graph.objects(matcher, ACP.agent)
    }
