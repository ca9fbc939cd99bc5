"""A space and its named graph in the registry, in both directions.

The graph is the record: it is what the registry stores and what anyone in the space can
dereference as Turtle or JSON-LD. Every node is named by an IRI under the space's own IRI
(no blank nodes), so participants, invitations, algorithms and approvals are each
dereferenceable on their own.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from datafuse.noise import DifferentialPrivacy
from vocab import DCG, DCTERMS, OWL, PROV, RDF, XSD, bind_prefixes

from .model import (
    DEFAULT_CONSENT_PERIOD,
    DEFAULT_MIN_INDIVIDUALS,
    Algorithm,
    Approval,
    DataRequest,
    Invitation,
    InvitationStatus,
    Parameter,
    Participant,
    Role,
    Space,
    SpaceStatus,
    Terms,
)
from .privacy import add_privacy, read_privacy, term_iri


class DamagedRecord(ValueError):
    """The stored graph is not a space this code can read (edited by hand, or another version)."""


# --- IRIs ----------------------------------------------------------------------------------------


def space_iri(public_url: str, space_id: str) -> str:
    return f"{public_url}spaces/{space_id}"


def participant_iri(space: Space, webid: str) -> URIRef:
    return URIRef(f"{space.iri}/participants/{hashlib.sha256(webid.encode()).hexdigest()[:16]}")


def invitation_iri(space: Space, invitation_id: str) -> URIRef:
    return URIRef(f"{space.iri}/invitations/{invitation_id}")


def algorithm_iri(space: Space, digest: str) -> URIRef:
    return URIRef(f"{space.iri}/algorithms/{digest.removeprefix('sha256:')}")


def output_shape_iri(space: Space, digest: str) -> URIRef:
    return URIRef(f"{algorithm_iri(space, digest)}/shape")


def approval_iri(space: Space, approval_id: str) -> URIRef:
    return URIRef(f"{space.iri}/approvals/{approval_id}")


def request_iri(space: Space, index: int) -> URIRef:
    return URIRef(f"{space.iri}#request-{index + 1}")


# --- Space -> graph ----------------------------------------------------------------------------


def to_graph(space: Space) -> Graph:
    graph = bind_prefixes(Graph())
    s = URIRef(space.iri)
    add = graph.add
    add((s, RDF.type, DCG.CollaborationSpace))
    add((s, DCTERMS.title, Literal(space.name)))
    add((s, DCTERMS.description, Literal(space.description)))
    add((s, DCG.owner, URIRef(space.owner)))
    add((s, DCTERMS.created, _time(space.created_at)))
    add((s, DCG.status, space.status.value))
    for purpose in space.terms.purposes:
        add((s, DCG.purpose, URIRef(purpose)))
    add((s, DCG.legalBasis, URIRef(space.terms.legal_basis)))
    add((s, DCG.retentionPeriod, Literal(space.terms.retention, datatype=XSD.duration)))
    add((s, DCG.consentPeriod, Literal(space.terms.consent_period, datatype=XSD.duration)))
    add((s, DCG.recurringRuns, Literal(space.terms.recurring)))  # rdflib types it xsd:boolean
    add((s, DCG.minimumIndividuals, Literal(space.terms.min_individuals)))  # xsd:integer
    if space.terms.privacy is not None:
        add_privacy(graph, s, term_iri(space.iri), space.terms.privacy)
    for measurement in space.terms.accepted_measurements:
        add((s, DCG.acceptedMeasurement, Literal(measurement)))
    if space.closed_at:
        add((s, PROV.invalidatedAtTime, _time(space.closed_at)))
    for index, request in enumerate(space.terms.data_requests):
        r = request_iri(space, index)
        add((s, DCG.dataRequest, r))
        add((r, RDF.type, DCG.DataRequest))
        add((r, DCG.plainDescription, Literal(request.description)))
        if request.path is not None:
            add((r, DCG.resourcePath, Literal(request.path)))
        if request.rdf_class is not None:
            add((r, DCG.resourceClass, URIRef(request.rdf_class)))
    for participant in space.participants:
        _add_participant(graph, space, participant)
    for invitation in space.invitations:
        _add_invitation(graph, space, invitation)
    for algorithm in space.algorithms:
        _add_algorithm(graph, space, algorithm)
    if space.current_algorithm:
        add((s, DCG.algorithm, algorithm_iri(space, space.current_algorithm)))
    for approval in space.approvals:
        _add_approval(graph, space, approval)
    return graph


def _add_participant(graph: Graph, space: Space, participant: Participant) -> None:
    p = participant_iri(space, participant.webid)
    graph.add((URIRef(space.iri), DCG.participant, p))
    graph.add((p, RDF.type, DCG.Participation))
    graph.add((p, DCG.space, URIRef(space.iri)))
    graph.add((p, DCG.agent, URIRef(participant.webid)))
    graph.add((p, DCTERMS.created, _time(participant.joined_at)))
    for role in participant.roles:
        graph.add((p, DCG.role, role.value))


def _add_invitation(graph: Graph, space: Space, invitation: Invitation) -> None:
    i = invitation_iri(space, invitation.id)
    graph.add((URIRef(space.iri), DCG.invitation, i))
    graph.add((i, RDF.type, DCG.Invitation))
    graph.add((i, DCG.invitee, URIRef(invitation.webid)))
    for role in invitation.roles:
        graph.add((i, DCG.invitedRoles, role.value))
    graph.add((i, DCG.status, invitation.status.value))
    graph.add((i, DCTERMS.created, _time(invitation.invited_at)))
    graph.add((i, PROV.wasAttributedTo, URIRef(invitation.invited_by)))
    if invitation.answered_at and invitation.status is InvitationStatus.ACCEPTED:
        graph.add((i, DCG.acceptedAt, _time(invitation.answered_at)))
    elif invitation.answered_at:
        graph.add((i, PROV.invalidatedAtTime, _time(invitation.answered_at)))


def _add_algorithm(graph: Graph, space: Space, algorithm: Algorithm) -> None:
    a = algorithm_iri(space, algorithm.digest)
    shape = output_shape_iri(space, algorithm.digest)
    for triple in (
        (a, RDF.type, DCG.Algorithm),
        (a, RDF.type, PROV.Entity),
        (a, DCG.space, URIRef(space.iri)),
        (a, DCG.digest, Literal(algorithm.digest)),
        (a, DCTERMS.title, Literal(algorithm.name)),
        (a, OWL.versionInfo, Literal(algorithm.version)),
        (a, DCTERMS.description, Literal(algorithm.description)),
        (a, DCG.entryPoint, Literal(algorithm.entry_point)),
        (a, DCG.parameters, Literal(_parameters_json(algorithm.parameters), datatype=RDF.JSON)),
        (a, DCG.outputShape, shape),
        (a, PROV.wasAttributedTo, URIRef(algorithm.registered_by)),
        (a, PROV.generatedAtTime, _time(algorithm.registered_at)),
        (shape, RDF.type, DCG.OutputShape),
        (shape, DCG.digest, Literal(algorithm.output_shape_digest)),
    ):
        graph.add(triple)
    for event in algorithm.events:
        graph.add((a, DCG.handlesEvent, Literal(event)))


def _add_approval(graph: Graph, space: Space, approval: Approval) -> None:
    a = approval_iri(space, approval.id)
    graph.add((URIRef(space.iri), DCG.approval, a))
    graph.add((a, RDF.type, DCG.Approval))
    graph.add((a, DCG.approvedBy, URIRef(approval.webid)))
    graph.add((a, DCG.approves, algorithm_iri(space, approval.algorithm_digest)))
    graph.add((a, DCG.termsDigest, Literal(approval.terms_digest)))
    graph.add((a, DCTERMS.created, _time(approval.approved_at)))
    status = DCG.ApprovalGiven if approval.standing else DCG.ApprovalVoided
    graph.add((a, DCG.status, status))
    if approval.voided_at:
        graph.add((a, PROV.invalidatedAtTime, _time(approval.voided_at)))


def _parameters_json(parameters: tuple[Parameter, ...]) -> str:
    return json.dumps(
        [
            {"name": p.name, "type": p.type, "default": p.default, "description": p.description}
            for p in parameters
        ],
        sort_keys=True,
    )


def _time(moment: datetime) -> Literal:
    return Literal(moment.isoformat(), datatype=XSD.dateTime)


# --- Graph -> space ----------------------------------------------------------------------------


def from_graph(name: str, graph: Graph, revision: int) -> Space:
    """Read a space back; a graph that is not one raises DamagedRecord naming what is missing."""
    s = URIRef(name)
    if (s, RDF.type, DCG.CollaborationSpace) not in graph:
        raise DamagedRecord(f"{name} is not a collaboration space.")
    reader = _Reader(graph)
    space = Space(
        id=name.rsplit("/", 1)[-1],
        iri=name,
        name=reader.text(s, DCTERMS.title),
        description=reader.text(s, DCTERMS.description, ""),
        owner=reader.iri(s, DCG.owner),
        created_at=reader.time(s, DCTERMS.created),
        terms=Terms(
            purposes=tuple(sorted(str(o) for o in graph.objects(s, DCG.purpose))),
            legal_basis=reader.iri(s, DCG.legalBasis),
            retention=reader.text(s, DCG.retentionPeriod),
            data_requests=_requests(graph, reader, s),
            # Spaces stored before consent terms existed have neither: they get the defaults.
            consent_period=reader.text(s, DCG.consentPeriod, DEFAULT_CONSENT_PERIOD),
            recurring=reader.boolean(s, DCG.recurringRuns, False),
            # Likewise spaces stored before the k threshold was a term.
            min_individuals=reader.integer(s, DCG.minimumIndividuals, DEFAULT_MIN_INDIVIDUALS),
            privacy=_privacy(graph, s),
            accepted_measurements=tuple(
                sorted(str(o) for o in graph.objects(s, DCG.acceptedMeasurement))
            ),
        ),
        status=_enum(SpaceStatus, reader.node(s, DCG.status), name),
        closed_at=reader.time(s, PROV.invalidatedAtTime, None),
        revision=revision,
    )
    for p in sorted(graph.objects(s, DCG.participant), key=str):
        space.participants.append(
            Participant(
                webid=reader.iri(p, DCG.agent),
                roles=frozenset(_enum(Role, r, name) for r in graph.objects(p, DCG.role)),
                joined_at=reader.time(p, DCTERMS.created),
            )
        )
    space.participants.sort(key=lambda p: p.joined_at)
    for i in graph.objects(s, DCG.invitation):
        status = _enum(InvitationStatus, reader.node(i, DCG.status), name)
        answered = reader.time(i, DCG.acceptedAt, None) or reader.time(
            i, PROV.invalidatedAtTime, None
        )
        space.invitations.append(
            Invitation(
                id=str(i).rsplit("/", 1)[-1],
                webid=reader.iri(i, DCG.invitee),
                roles=frozenset(_enum(Role, r, name) for r in graph.objects(i, DCG.invitedRoles)),
                invited_at=reader.time(i, DCTERMS.created),
                invited_by=reader.iri(i, PROV.wasAttributedTo),
                status=status,
                answered_at=answered,
            )
        )
    space.invitations.sort(key=lambda i: i.invited_at)
    for a in graph.subjects(RDF.type, DCG.Algorithm):
        space.algorithms.append(_algorithm(graph, reader, a))
    space.algorithms.sort(key=lambda a: a.registered_at)
    current = reader.node(s, DCG.algorithm, None)
    if current is not None:
        space.current_algorithm = reader.text(current, DCG.digest)
    for a in graph.objects(s, DCG.approval):
        approves = reader.node(a, DCG.approves)
        space.approvals.append(
            Approval(
                id=str(a).rsplit("/", 1)[-1],
                webid=reader.iri(a, DCG.approvedBy),
                terms_digest=reader.text(a, DCG.termsDigest),
                algorithm_digest="sha256:" + str(approves).rsplit("/", 1)[-1],
                approved_at=reader.time(a, DCTERMS.created),
                voided_at=reader.time(a, PROV.invalidatedAtTime, None),
            )
        )
    space.approvals.sort(key=lambda a: a.approved_at)
    return space


def _requests(graph: Graph, reader: _Reader, s: URIRef) -> tuple[DataRequest, ...]:
    def position(node: Node) -> int:
        fragment = str(node).rsplit("#request-", 1)[-1]
        return int(fragment) if fragment.isdigit() else 0

    return tuple(
        DataRequest(
            description=reader.text(r, DCG.plainDescription),
            path=reader.text(r, DCG.resourcePath, None),
            rdf_class=reader.iri(r, DCG.resourceClass, None),
        )
        for r in sorted(graph.objects(s, DCG.dataRequest), key=position)
    )


def _algorithm(graph: Graph, reader: _Reader, a: Node) -> Algorithm:
    try:
        raw_parameters = json.loads(reader.text(a, DCG.parameters, "[]"))
        parameters = tuple(Parameter(**p) for p in raw_parameters)
    except (ValueError, TypeError) as exc:
        raise DamagedRecord(f"The parameters of {a} cannot be read.") from exc
    shape = reader.node(a, DCG.outputShape)
    return Algorithm(
        digest=reader.text(a, DCG.digest),
        name=reader.text(a, DCTERMS.title),
        version=reader.text(a, OWL.versionInfo),
        description=reader.text(a, DCTERMS.description, ""),
        entry_point=reader.text(a, DCG.entryPoint),
        events=tuple(sorted(str(e) for e in graph.objects(a, DCG.handlesEvent))),
        parameters=parameters,
        output_shape_digest=reader.text(shape, DCG.digest),
        registered_by=reader.iri(a, PROV.wasAttributedTo),
        registered_at=reader.time(a, PROV.generatedAtTime),
    )


_MISSING = object()


class _Reader:
    """Single-valued reads that say what is missing instead of failing obscurely."""

    def __init__(self, graph: Graph):
        self.graph = graph

    def _value(self, s: Node, p: URIRef, default: object) -> Node | None:
        value = self.graph.value(s, p)
        if value is None and default is _MISSING:
            raise DamagedRecord(f"{s} has no {p}.")
        return value

    def node(self, s: Node, p: URIRef, default: object = _MISSING) -> Node:
        value = self._value(s, p, default)
        return default if value is None else value  # type: ignore[return-value]

    def text(self, s: Node, p: URIRef, default: object = _MISSING) -> str:
        value = self._value(s, p, default)
        return default if value is None else str(value)  # type: ignore[return-value]

    def iri(self, s: Node, p: URIRef, default: object = _MISSING) -> str:
        value = self._value(s, p, default)
        if value is None:
            return default  # type: ignore[return-value]
        if not isinstance(value, URIRef):
            raise DamagedRecord(f"{s} {p} should be an IRI.")
        return str(value)

    def boolean(self, s: Node, p: URIRef, default: object = _MISSING) -> bool:
        value = self._value(s, p, default)
        if value is None:
            return default  # type: ignore[return-value]
        # Only a real xsd:boolean: "false" as a plain string would be truthy in Python.
        if not isinstance(value, Literal) or value.datatype != XSD.boolean:
            raise DamagedRecord(f"{s} {p} should be true or false.")
        return bool(value.value)

    def integer(self, s: Node, p: URIRef, default: object = _MISSING) -> int:
        value = self._value(s, p, default)
        if value is None:
            return default  # type: ignore[return-value]
        # Only a real xsd:integer: a plain "5", or "5.9" as a decimal, is not what was written.
        if (
            not isinstance(value, Literal)
            or value.datatype != XSD.integer
            or not isinstance(value.value, int)
        ):
            raise DamagedRecord(f"{s} {p} should be a whole number.")
        return value.value

    def time(self, s: Node, p: URIRef, default: object = _MISSING) -> datetime:
        value = self._value(s, p, default)
        if value is None:
            return default  # type: ignore[return-value]
        try:
            return datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise DamagedRecord(f"{s} {p} is not a date and time.") from exc


def _privacy(graph: Graph, s: URIRef) -> DifferentialPrivacy | None:
    try:
        return read_privacy(graph, s)
    except ValueError as exc:
        raise DamagedRecord(str(exc)) from exc


def _enum(kind: type, node: Node, name: str):  # type: ignore[no-untyped-def]
    try:
        return kind(node)
    except ValueError as exc:
        raise DamagedRecord(f"{name}: {node} is not a known {kind.__name__}.") from exc
