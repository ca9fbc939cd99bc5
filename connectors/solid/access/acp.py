"""Access Control Policies (https://solid.github.io/authorization-panel/acp-specification/).

Rules this editor keeps (the evaluation itself is in `acp_rules`):
- Only the resource's own ACR is ever written. ACP adds up (an ancestor's member controls keep
  applying whatever the resource's ACR says), so unlike WAC nothing has to be copied into a new
  ACR for everyone to keep their access, and ancestors' ACRs are only read.
- A grant is one access control of our own per agent and scope, named after them, so granting
  twice changes nothing. A revocation takes modes out of the policies that name the agent and
  leaves every other agent's access as it was.
- No edit is written if the editing WebID (and any listed owner) would lose `acl:Control`,
  counting the ancestors' member controls, denials included.
- Writes are conditional on the ETag we read (`If-Match`, or `If-None-Match: *` for a new ACR),
  retried with jittered backoff, so concurrent grants never overwrite each other.
- A grant may carry a label (a consent's IRI): it then gets an access control, policy and matcher
  of its own, named after the label, and revoking by that label removes those alone, so two
  consents reading one resource never share (and never take away) each other's policy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin

from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF
from rdflib.term import Node

from vocab import ACL, ACP

from .. import errors
from .acp_rules import (
    POSITIVE_CONDITIONS,
    Acr,
    acr_nodes,
    effective_modes,
    explicit_modes,
    named_agents,
    policies,
)
from .base import AccessControl, AccessMode
from .contention import write_attempts
from .discovery import described_acr
from .pod import PodClient

_LINKS = (ACP.accessControl, ACP.memberAccessControl)
_CONDITIONS = (*POSITIVE_CONDITIONS, ACP.noneOf)


@dataclass
class _AcrDocument:
    graph: Graph
    etag: str | None
    exists: bool


class AccessControlPolicies(AccessControl):
    system = "ACP"

    def __init__(
        self,
        client: PodClient,
        resource_url: str,
        acr_url: str,
        *,
        is_container: bool,
        is_storage: bool = False,
        owners: Iterable[str] = (),
    ):
        super().__init__(resource_url)
        self.client = client
        self.acr_url = acr_url
        self.is_container = is_container
        self.is_storage = is_storage
        self.owners = {*owners, *([client.webid] if client.webid else [])}

    # --- Reading ------------------------------------------------------------------------------

    def agent_modes(self, agent: str) -> frozenset[AccessMode]:
        own = self._read_own()
        return effective_modes(Acr(own.graph, self.resource_url), self._ancestors(), agent)

    def labelled_modes(self, agent: str, label: str) -> frozenset[AccessMode]:
        graph = self._read_own().graph
        found: set[AccessMode] = set()
        for control in labelled_controls(self.acr_url, agent, label):
            for policy in graph.objects(control, ACP.apply):
                if URIRef(agent) in named_agents(graph, policy):
                    found |= AccessMode.parse(str(m) for m in graph.objects(policy, ACP.allow))
        return frozenset(found)

    # --- Editing ------------------------------------------------------------------------------

    def grant(
        self,
        agent: str,
        modes: Iterable[AccessMode | str],
        *,
        include_members: bool = False,
        label: str | None = None,
    ) -> None:
        wanted = AccessMode.parse(modes)
        if not wanted:
            raise ValueError("Nothing to grant: no access modes given.")
        if include_members and not self.is_container:
            raise ValueError(f"{self.resource_url} is not a container; it has no members.")
        self._edit(
            lambda graph: add_grant(
                graph, self.acr_url, self.resource_url, agent, wanted, include_members, label
            )
        )

    def revoke(
        self,
        agent: str,
        modes: Iterable[AccessMode | str] | None = None,
        *,
        label: str | None = None,
        keep_labelled: bool = False,
    ) -> None:
        taken = AccessMode.parse(modes) if modes is not None else frozenset(AccessMode)
        if label is not None:
            self._edit(lambda graph: remove_labelled(graph, self.acr_url, agent, label, taken))
            return
        self._edit(
            lambda graph: remove_grant(
                graph, self.acr_url, self.resource_url, agent, taken, keep_labelled
            )
        )

    def _edit(self, change: Callable[[Graph], None]) -> None:
        ancestors = self._ancestors()  # never edited by us, so read once for all attempts
        for _ in write_attempts():
            document = self._read_own()
            edited = _copy(document.graph)
            change(edited)
            if isomorphic(edited, document.graph):
                return  # already as asked: nothing to write, and nobody loses anything
            self._check_owners_keep_control(edited, ancestors)
            try:
                self.client.put_graph(
                    self.acr_url,
                    edited,
                    if_match=document.etag if document.exists else None,
                    if_none_match=None if document.exists else "*",
                )
                return
            except errors.PreconditionFailed:
                continue  # someone changed the ACR meanwhile: read it again and redo our edit
        raise errors.AccessControlError(
            f"The access control resource of {self.resource_url} kept changing while we edited "
            "it; nothing was changed. Please try again.",
            url=self.resource_url,
        )

    def _check_owners_keep_control(self, graph: Graph, ancestors: list[Acr]) -> None:
        if not self.owners:
            raise errors.WouldLockOutOwner(
                "Only a signed-in owner can change access; this session has no WebID.",
                url=self.resource_url,
            )
        own = Acr(graph, self.resource_url)
        for owner in sorted(self.owners):
            if AccessMode.CONTROL not in effective_modes(own, ancestors, owner):
                raise errors.WouldLockOutOwner(
                    f"This change would take Control of {self.resource_url} away from {owner}; "
                    "it was not made.",
                    url=self.resource_url,
                )

    # --- ACR documents ------------------------------------------------------------------------

    def _read_own(self) -> _AcrDocument:
        try:
            graph, resource = self.client.get_graph(self.acr_url)
        except errors.NotFound:
            return _AcrDocument(Graph(), None, exists=False)
        return _AcrDocument(graph, resource.etag, exists=True)

    def _ancestors(self) -> list[Acr]:
        """The ACRs of every container above the resource, up to and including the storage.

        An ancestor without an ACR contributes nothing. One we may not read is an error: its
        member controls could deny us, so no answer (or edit) is safe without it.
        """
        found: list[Acr] = []
        current = self.resource_url
        at_storage = self.is_storage
        while not at_storage:
            parent = urljoin(current, "../" if current.endswith("/") else "./")
            if parent == current:
                break
            current = parent
            container = self.client.head(current)
            at_storage = container.is_storage
            acr_url = container.acl_url or described_acr(
                self.client, container.url, container.link("describedby")
            )
            if acr_url is None:
                continue
            try:
                # Only read here: within one answer the grants share one read of each.
                graph, _ = self.client.get_graph(acr_url, remember=True)
            except errors.NotFound:
                continue
            found.append(Acr(graph, current))
        return found


# --- Graph edits (pure, so they can be tested without a server) ----------------------------------


def add_grant(
    graph: Graph,
    acr_url: str,
    resource_url: str,
    agent: str,
    modes: Iterable[AccessMode],
    include_members: bool = False,
    label: str | None = None,
) -> None:
    """Give `agent` `modes` through an access control of its own (created or extended)."""
    links = _LINKS if include_members else (ACP.accessControl,)
    if label is None:
        key, prefix = f"{agent} {include_members}", "grant"
    else:
        key, prefix = _label_key(agent, label, include_members), "consent"
    _add_control(graph, acr_url, resource_url, agent, modes, links, key, prefix)


def _label_key(agent: str, label: str, include_members: bool) -> str:
    return f"{agent} {include_members} {label}"


def labelled_controls(acr_url: str, agent: str, label: str) -> tuple[URIRef, URIRef]:
    """The access controls a labelled grant uses: for the resource, and with its members."""
    return tuple(  # type: ignore[return-value]
        URIRef(_control_name(acr_url, _label_key(agent, label, members), "consent"))
        for members in (False, True)
    )


def _labelled_policy(graph: Graph, policy: Node) -> bool:
    return any(
        isinstance(c, URIRef) and urldefrag(str(c))[1].startswith("consent-")
        for c in graph.subjects(ACP.apply, policy)
    )


def remove_labelled(
    graph: Graph, acr_url: str, agent: str, label: str, taken: frozenset[AccessMode]
) -> None:
    """Take `taken` out of the label's own policies; every other policy stays as it was."""
    taken_iris = {URIRef(mode.iri) for mode in taken}
    for control in labelled_controls(acr_url, agent, label):
        for policy in list(graph.objects(control, ACP.apply)):
            for iri in taken_iris:
                graph.remove((policy, ACP.allow, iri))
            if next(graph.objects(policy, ACP.allow), None) is None:
                _drop_policy(graph, policy)


def remove_grant(
    graph: Graph,
    acr_url: str,
    resource_url: str,
    agent: str,
    taken: frozenset[AccessMode],
    keep_labelled: bool = False,
) -> None:
    """Take `taken` from `agent` in the resource's own ACR; leave other agents as they were
    (and, with `keep_labelled`, every labelled grant too)."""
    who, taken_iris = URIRef(agent), {URIRef(mode.iri) for mode in taken}
    before = {link: explicit_modes(policies(graph, resource_url, link), agent) for link in _LINKS}
    own = {
        ref.node
        for link in _LINKS
        for ref in policies(graph, resource_url, link)
        if not (keep_labelled and _labelled_policy(graph, ref.node))
    }
    for policy in sorted(own, key=str):
        named = named_agents(graph, policy)
        if who not in named or not taken_iris & set(graph.objects(policy, ACP.allow)):
            continue
        if named == {who}:
            # The policy selects this agent alone: shrink it, or drop it when empty.
            for iri in taken_iris:
                graph.remove((policy, ACP.allow, iri))
            if not any(graph.objects(policy, ACP.allow)) and not any(
                graph.objects(policy, ACP.deny)
            ):
                _drop_policy(graph, policy)
        else:
            # Shared with others: take the agent out, and give back below what it keeps.
            _take_out_of_matchers(graph, acr_url, policy, who)
    after = {link: explicit_modes(policies(graph, resource_url, link), agent) for link in _LINKS}
    access, members = (before[link] - taken - after[link] for link in _LINKS)
    both = access & members
    for modes, links, key in (
        (both, _LINKS, f"{agent} True"),
        (access - both, (ACP.accessControl,), f"{agent} False"),
        (members - both, (ACP.memberAccessControl,), f"{agent} members"),
    ):
        if modes:
            _add_control(graph, acr_url, resource_url, agent, modes, links, key)


def _add_control(
    graph: Graph,
    acr_url: str,
    resource_url: str,
    agent: str,
    modes: Iterable[AccessMode],
    links: tuple[URIRef, ...],
    key: str,
    prefix: str = "grant",
) -> None:
    document = urldefrag(acr_url)[0]
    name = _control_name(acr_url, key, prefix)
    control, policy, matcher = URIRef(name), URIRef(name + "-policy"), URIRef(name + "-matcher")
    acr = _acr_node(graph, document, resource_url)
    graph.add((control, RDF.type, ACP.AccessControl))
    graph.add((control, ACP.apply, policy))
    graph.add((policy, RDF.type, ACP.Policy))
    graph.add((policy, ACP.allOf, matcher))
    graph.add((matcher, RDF.type, ACP.Matcher))
    graph.add((matcher, ACP.agent, URIRef(agent)))
    for mode in modes:
        graph.add((policy, ACP.allow, URIRef(mode.iri)))
    for link in links:
        graph.add((acr, link, control))


def _control_name(acr_url: str, key: str, prefix: str) -> str:
    return f"{urldefrag(acr_url)[0]}#{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _acr_node(graph: Graph, document: str, resource_url: str) -> Node:
    """The node that speaks for the resource (`acp:resource`), added to a new or bare ACR."""
    existing = acr_nodes(graph, resource_url)
    if existing:
        return existing[0]
    node = URIRef(f"{document}#root")
    graph.add((node, RDF.type, ACP.AccessControlResource))
    graph.add((node, ACP.resource, URIRef(resource_url)))
    return node


def _drop_policy(graph: Graph, policy: Node) -> None:
    """Remove a policy, the matchers only it used, and access controls left applying nothing."""
    controls = set(graph.subjects(ACP.apply, policy))
    matchers = {m for condition in _CONDITIONS for m in graph.objects(policy, condition)}
    graph.remove((None, None, policy))
    graph.remove((policy, None, None))
    for matcher in matchers:
        if next(graph.subjects(None, matcher), None) is None:
            graph.remove((matcher, None, None))
    for control in controls:
        if next(graph.objects(control, ACP.apply), None) is None:
            graph.remove((None, None, control))  # the ACR's links to it
            graph.remove((control, None, None))


def _take_out_of_matchers(graph: Graph, acr_url: str, policy: Node, who: URIRef) -> None:
    for condition in POSITIVE_CONDITIONS:
        for matcher in list(graph.objects(policy, condition)):
            if (matcher, ACP.agent, who) not in graph:
                continue
            if len(set(graph.subject_predicates(matcher))) == 1:
                graph.remove((matcher, ACP.agent, who))
                continue
            # Other policies use this matcher too: edit a copy for this policy alone, so the
            # agent keeps what those give it (or, for a denial, stays denied).
            digest = hashlib.sha256(f"{policy} {matcher} {who}".encode()).hexdigest()[:16]
            copy = URIRef(f"{urldefrag(acr_url)[0]}#matcher-{digest}")
            for predicate, value in graph.predicate_objects(matcher):
                if (predicate, value) != (ACP.agent, who):
                    graph.add((copy, predicate, value))
            graph.remove((policy, condition, matcher))
            graph.add((policy, condition, copy))


def _copy(graph: Graph) -> Graph:
    copy = Graph()
    copy.bind("acp", str(ACP))
    copy.bind("acl", str(ACL))
    for triple in graph:
        copy.add(triple)
    return copy
