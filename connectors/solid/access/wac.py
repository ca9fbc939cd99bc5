"""Web Access Control (https://solidproject.org/TR/wac): reading and editing ACL documents.

Rules this editor keeps:
- A resource without its own ACL inherits the `acl:default` authorizations of its nearest
  ancestor (WAC "ACL Inheritance Algorithm"). The first edit therefore starts from a copy of
  what was inherited, so nobody loses access they had, the owner included.
- No edit is written if the editing WebID (and any listed owner) would lose `acl:Control`.
  An `acl:agentGroup` counts for an owner only when its group document (`vcard:hasMember`,
  WAC "Groups of agents") can be read, lists the owner, and lies in the same storage as the
  resource: a group kept elsewhere can be changed by someone else, and then would lock the
  owner out. For reporting access a readable group document that lists the agent is enough.
- Writes are conditional on the ETag we read (`If-Match`, or `If-None-Match: *` for a new ACL),
  retried with jittered backoff, so concurrent grants never overwrite each other.
- A grant may carry a label (a consent's IRI): it then gets an authorization of its own, named
  after the label, and revoking by that label removes that authorization alone. Two consents
  reading one file keep two authorizations, so withdrawing one leaves the other's Read in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin

from rdflib import Graph, URIRef
from rdflib.namespace import FOAF, RDF
from rdflib.term import Node

from vocab import ACL, VCARD

from .. import errors
from .base import AccessControl, AccessMode
from .contention import write_attempts
from .pod import PodClient

_SUBJECT_PREDICATES = (ACL.agent, ACL.agentClass, ACL.agentGroup, ACL.origin)
_MODES = {URIRef(mode.iri): mode for mode in AccessMode}

#: A group's members, or None when they cannot be known (the group then grants nothing).
GroupMembers = Callable[[URIRef], frozenset[URIRef] | None]


@dataclass
class _AclDocument:
    graph: Graph
    etag: str | None
    exists: bool


class WebAccessControl(AccessControl):
    system = "WAC"

    def __init__(
        self,
        client: PodClient,
        resource_url: str,
        acl_url: str,
        *,
        is_container: bool,
        owners: Iterable[str] = (),
    ):
        super().__init__(resource_url)
        self.client = client
        self.acl_url = acl_url
        self.is_container = is_container
        self.owners = {*owners, *([client.webid] if client.webid else [])}

    # --- Reading ------------------------------------------------------------------------------

    def agent_modes(self, agent: str) -> frozenset[AccessMode]:
        document = self._read_own()
        groups = self._group_reader(same_storage_only=False)
        if document.exists:
            return effective_modes(
                document.graph, self.resource_url, agent, inherited=False, groups=groups
            )
        inherited = self._inherited()
        if inherited is None:
            return frozenset()
        graph, container = inherited
        return effective_modes(graph, container, agent, inherited=True, groups=groups)

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
            lambda graph: _add_grant(graph, self._scope(include_members), agent, wanted, label)
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
            # Without an ACL of its own the resource holds no labelled grant: write nothing.
            self._edit(
                lambda graph: _remove_labelled(graph, self.acl_url, agent, label, taken),
                create=False,
            )
            return
        self._edit(
            lambda graph: _remove_grant(
                graph, self.acl_url, self.resource_url, agent, taken, keep_labelled
            )
        )

    def labelled_modes(self, agent: str, label: str) -> frozenset[AccessMode]:
        document = self._read_own()
        found: set[AccessMode] = set()
        for node in labelled_nodes(self.acl_url, agent, label):
            if (node, ACL.agent, URIRef(agent)) in document.graph:
                found |= {_MODES[m] for m in document.graph.objects(node, ACL.mode) if m in _MODES}
        return frozenset(found)

    def _scope(self, include_members: bool) -> _Scope:
        return _Scope(self.acl_url, self.resource_url, include_members)

    def _edit(self, change, *, create: bool = True) -> None:  # change: Callable[[Graph], None]
        for _ in write_attempts():
            document = self._read_own()
            if not document.exists and not create:
                return
            if not document.exists:
                document.graph = self._seed_from_inherited()
            before = set(document.graph)
            change(document.graph)
            if document.exists and set(document.graph) == before:
                return  # already as asked: nothing to write
            self._check_owners_keep_control(document.graph)
            try:
                self.client.put_graph(
                    self.acl_url,
                    document.graph,
                    if_match=document.etag if document.exists else None,
                    if_none_match=None if document.exists else "*",
                )
                return
            except errors.PreconditionFailed:
                continue  # someone changed the ACL meanwhile: read it again and redo our edit
        raise errors.AccessControlError(
            f"The access list of {self.resource_url} kept changing while we edited it; "
            "nothing was changed. Please try again.",
            url=self.resource_url,
        )

    def _check_owners_keep_control(self, graph: Graph) -> None:
        if not self.owners:
            raise errors.WouldLockOutOwner(
                "Only a signed-in owner can change access; this session has no WebID.",
                url=self.resource_url,
            )
        groups = self._group_reader(same_storage_only=True)
        for owner in sorted(self.owners):
            held = effective_modes(graph, self.resource_url, owner, groups=groups)
            if AccessMode.CONTROL not in held:
                raise errors.WouldLockOutOwner(
                    f"This change would take Control of {self.resource_url} away from {owner}; "
                    "it was not made.",
                    url=self.resource_url,
                )

    # --- Groups -------------------------------------------------------------------------------

    def _group_reader(self, *, same_storage_only: bool) -> GroupMembers:
        """Read each group document once; a group we cannot read (or trust) has no members."""
        cache: dict[URIRef, frozenset[URIRef] | None] = {}
        storage: list[str | None] = []

        def members(group: URIRef) -> frozenset[URIRef] | None:
            if group not in cache:
                cache[group] = self._read_group(group, same_storage_only, storage)
            return cache[group]

        return members

    def _read_group(
        self, group: URIRef, same_storage_only: bool, storage: list[str | None]
    ) -> frozenset[URIRef] | None:
        document = urldefrag(str(group))[0]
        try:
            if same_storage_only:
                if not storage:
                    storage.append(self.client.find_storage(self.resource_url))
                if storage[0] is None or self.client.find_storage(document) != storage[0]:
                    return None
            graph, _ = self.client.get_graph(document)
        except errors.SolidError:
            return None
        return frozenset(m for m in graph.objects(group, VCARD.hasMember) if isinstance(m, URIRef))

    # --- ACL documents ------------------------------------------------------------------------

    def _read_own(self) -> _AclDocument:
        try:
            graph, resource = self.client.get_graph(self.acl_url)
        except errors.NotFound:
            return _AclDocument(Graph(), None, exists=False)
        return _AclDocument(graph, resource.etag, exists=True)

    def _inherited(self) -> tuple[Graph, str] | None:
        """The nearest ancestor's ACL and that ancestor's URL, or None at the storage root."""
        current = self.resource_url
        while True:
            parent = urljoin(current, "../" if current.endswith("/") else "./")
            if parent == current:
                return None
            current = parent
            acl_url = self.client.head(current).acl_url
            if acl_url is None:
                return None
            try:
                # An ancestor's ACL is only read here (never edited through this editor), so
                # within one answer its grants share one read (`SolidClient.reads_once`).
                graph, _ = self.client.get_graph(acl_url, remember=True)
            except errors.NotFound:
                continue
            return graph, current

    def _seed_from_inherited(self) -> Graph:
        """A first ACL equal in effect to what the resource inherits today."""
        graph = Graph()
        graph.bind("acl", ACL)
        graph.bind("foaf", FOAF)
        inherited = self._inherited()
        if inherited is None:
            return graph
        source, container = inherited
        for index, auth in enumerate(_authorizations(source, URIRef(container), ACL.default)):
            node = URIRef(f"{self.acl_url}#inherited-{index}")
            if is_labelled(auth):
                # A labelled grant keeps its name in the copy, so revoking that label on the
                # folder's members (`revoke(label=...)`) finds and removes the copy too.
                node = URIRef(f"{self.acl_url}#{urldefrag(str(auth))[1]}")
            graph.add((node, RDF.type, ACL.Authorization))
            graph.add((node, ACL.accessTo, URIRef(self.resource_url)))
            if self.is_container:
                graph.add((node, ACL.default, URIRef(self.resource_url)))
            for predicate in (*_SUBJECT_PREDICATES, ACL.mode):
                for value in source.objects(auth, predicate):
                    graph.add((node, predicate, value))
        return graph


@dataclass(frozen=True)
class _Scope:
    acl_url: str
    resource_url: str
    include_members: bool


def effective_modes(
    graph: Graph,
    target: str,
    agent: str,
    *,
    inherited: bool = False,
    groups: GroupMembers | None = None,
) -> frozenset[AccessMode]:
    """Modes `agent` gets from `graph` on `target` (`acl:default` when read as inherited).

    `groups` tells the members of an `acl:agentGroup`; without it no group grants anything,
    which never reports access the agent might not have."""
    predicate = ACL.default if inherited else ACL.accessTo
    modes: set[AccessMode] = set()
    for auth in _authorizations(graph, URIRef(target), predicate):
        if _applies_to(graph, auth, agent, groups):
            # The ACL is the pod's document: a mode IRI that is not one of WAC's grants nothing
            # here (matching on the name alone would read `ex:Control` as `acl:Control`).
            modes |= {_MODES[m] for m in graph.objects(auth, ACL.mode) if m in _MODES}
    if AccessMode.WRITE in modes:
        modes.add(AccessMode.APPEND)  # WAC: Write includes Append
    return frozenset(modes)


def _authorizations(graph: Graph, target: URIRef, predicate: URIRef) -> list[Node]:
    return sorted(
        {
            auth
            for auth in graph.subjects(predicate, target)
            if (auth, RDF.type, ACL.Authorization) in graph
        },
        key=str,
    )


def _applies_to(graph: Graph, auth: Node, agent: str, groups: GroupMembers | None) -> bool:
    if (auth, ACL.agent, URIRef(agent)) in graph:
        return True
    classes = set(graph.objects(auth, ACL.agentClass))
    if FOAF.Agent in classes or ACL.AuthenticatedAgent in classes:
        return True
    if groups is None:
        return False
    for group in graph.objects(auth, ACL.agentGroup):
        members = groups(group) if isinstance(group, URIRef) else None
        if members is not None and URIRef(agent) in members:
            return True
    return False


def _subjects_of(graph: Graph, auth: Node) -> set[tuple[Node, Node]]:
    return {(p, o) for p in _SUBJECT_PREDICATES for o in graph.objects(auth, p)}


def labelled_nodes(acl_url: str, agent: str, label: str) -> tuple[URIRef, URIRef]:
    """The authorizations a labelled grant uses: one for the resource, one with its members."""
    return (
        _labelled_node(acl_url, agent, label, include_members=False),
        _labelled_node(acl_url, agent, label, include_members=True),
    )


def _labelled_node(acl_url: str, agent: str, label: str, *, include_members: bool) -> URIRef:
    digest = hashlib.sha256(f"{agent} {include_members} {label}".encode()).hexdigest()[:16]
    return URIRef(f"{urldefrag(acl_url)[0]}#consent-{digest}")


def _add_grant(
    graph: Graph,
    scope: _Scope,
    agent: str,
    modes: frozenset[AccessMode],
    label: str | None = None,
) -> None:
    resource, who = URIRef(scope.resource_url), URIRef(agent)
    if label is not None:
        node = _labelled_node(scope.acl_url, agent, label, include_members=scope.include_members)
    else:
        digest = hashlib.sha256(f"{agent} {scope.include_members}".encode()).hexdigest()[:16]
        node = URIRef(f"{urldefrag(scope.acl_url)[0]}#grant-{digest}")
    graph.add((node, RDF.type, ACL.Authorization))
    graph.add((node, ACL.agent, who))
    graph.add((node, ACL.accessTo, resource))
    if scope.include_members:
        graph.add((node, ACL.default, resource))
    for mode in modes:
        graph.add((node, ACL.mode, URIRef(mode.iri)))


def _remove_labelled(
    graph: Graph, acl_url: str, agent: str, label: str, taken: frozenset[AccessMode]
) -> None:
    """Take `taken` out of the label's own authorizations; every other one stays as it was."""
    taken_iris = {URIRef(mode.iri) for mode in taken}
    for node in labelled_nodes(acl_url, agent, label):
        for mode in taken_iris:
            graph.remove((node, ACL.mode, mode))
        if next(graph.objects(node, ACL.mode), None) is None:
            graph.remove((node, None, None))


def is_labelled(node: Node) -> bool:
    """Is this authorization a labelled grant's own (see `labelled_nodes`)?"""
    return isinstance(node, URIRef) and urldefrag(str(node))[1].startswith("consent-")


def _remove_grant(
    graph: Graph,
    acl_url: str,
    resource_url: str,
    agent: str,
    taken: frozenset[AccessMode],
    keep_labelled: bool = False,
) -> None:
    resource, who = URIRef(resource_url), URIRef(agent)
    taken_iris = {URIRef(mode.iri) for mode in taken}
    touching = {
        a
        for a in graph.subjects(ACL.agent, who)
        if ((a, ACL.accessTo, resource) in graph or (a, ACL.default, resource) in graph)
        and not (keep_labelled and is_labelled(a))
    }
    for auth in sorted(touching, key=str):
        kept = set(graph.objects(auth, ACL.mode)) - taken_iris
        if _subjects_of(graph, auth) == {(ACL.agent, who)}:
            # The authorization is this agent's alone: shrink it, or drop it when empty.
            for mode in taken_iris:
                graph.remove((auth, ACL.mode, mode))
            if not kept:
                graph.remove((auth, None, None))
            continue
        # Shared with others: take the agent out, and give back what it keeps on its own.
        graph.remove((auth, ACL.agent, who))
        if kept:
            # Named inside the ACL document: `auth` may be a blank node with no IRI to extend.
            digest = hashlib.sha256(f"{auth} {agent}".encode()).hexdigest()[:16]
            own = URIRef(f"{urldefrag(acl_url)[0]}#split-{digest}")
            graph.add((own, RDF.type, ACL.Authorization))
            graph.add((own, ACL.agent, who))
            for predicate in (ACL.accessTo, ACL.default):
                for value in graph.objects(auth, predicate):
                    graph.add((own, predicate, value))
            for mode in kept:
                graph.add((own, ACL.mode, mode))
