"""A run as RDF: a `dcg:Run` (a `prov:Activity`) in its own registry graph, named by its IRI.

PROV carries the when and who (`prov:startedAtTime`, `prov:endedAtTime`, `prov:wasStartedBy`
the participant who asked, `prov:wasAssociatedWith` the datacage); our vocabulary carries the
rest: status and stage, the attestation the datacage presented, counts of individuals, the
outcome and notes as codes (`outcomes`), and the output gate's verdict with the rule a refusal
broke. No free text from the datacage is stored: a record from before the codes keeps its old
log in the registry, but it is not read back.
"""

from __future__ import annotations

from datetime import datetime

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from vocab import DCG, DCTERMS, PROV, RDF, XSD, bind_prefixes

from ..protocol.outcomes import Note, Outcome, Refusal
from ..protocol.pull_progress import PodServerProgress
from .model import Attestation, Run, RunStatus


class DamagedRun(ValueError):
    """A run graph that lacks what every run must have."""


def run_iri(public_url: str, run_id: str) -> str:
    return f"{public_url}runs/{run_id}"


def to_graph(run: Run) -> Graph:
    graph = bind_prefixes(Graph())
    r = URIRef(run.iri)
    add = graph.add
    add((r, RDF.type, DCG.Run))
    add((r, DCTERMS.identifier, Literal(run.id)))
    add((r, DCG.space, URIRef(run.space_iri)))
    add((r, DCG.digest, Literal(run.algorithm_digest)))
    add((r, DCG.termsDigest, Literal(run.terms_digest)))
    add((r, PROV.wasStartedBy, URIRef(run.requested_by)))
    add((r, DCTERMS.created, _time(run.requested_at)))
    add((r, DCG.status, run.status.value))
    add((r, DCG.stage, Literal(run.stage)))
    add((r, DCG.progress, Literal(round(run.progress, 4), datatype=XSD.decimal)))
    add((r, DCG.individualsIncluded, Literal(run.individuals_included)))
    add((r, DCG.individualsRead, Literal(run.individuals_read)))
    if run.pull_transport:
        add((r, DCG.pullTransport, Literal(run.pull_transport)))
    for index, server in enumerate(run.pod_servers):
        node = URIRef(f"{run.iri}#pod-server-{index:05d}")  # numbered: RDF has no order
        add((r, DCG.pullProgress, node))
        add((node, RDF.type, DCG.PodServerProgress))
        add((node, DCG.podServer, Literal(server.server)))
        add((node, DCG.peopleToRead, Literal(server.to_read)))
        add((node, DCG.peopleRead, Literal(server.read)))
        add((node, DCG.peopleFailed, Literal(server.failed)))
    if run.datacage:
        add((r, PROV.wasAssociatedWith, URIRef(run.datacage)))
    if run.claims:
        add((r, DCG.claimCount, Literal(run.claims)))
    if run.lease_until is not None and run.lease_digest:
        # Milliseconds: a lease is seconds long, and a rounded one would lapse early or late.
        until = run.lease_until.isoformat(timespec="milliseconds")
        add((r, DCG.leaseUntil, Literal(until, datatype=XSD.dateTime)))
        add((r, DCG.leaseDigest, Literal(run.lease_digest)))
    if run.started_at:
        add((r, PROV.startedAtTime, _time(run.started_at)))
    if run.finished_at:
        add((r, PROV.endedAtTime, _time(run.finished_at)))
    for index, problem in enumerate(run.problems):
        add((r, DCG.problem, Literal(f"{index:04d} {problem}")))  # numbered: RDF has no order
    if run.outcome is not None:
        add((r, DCG.outcome, Literal(run.outcome.value)))
    for note in run.notes:
        add((r, DCG.runNote, Literal(note.value)))
    if run.attestation:
        e = URIRef(run.iri + "#evidence")
        add((r, DCG.evidence, e))
        add((e, RDF.type, DCG.AttestationEvidence))
        add((e, DCG.attestationProvider, Literal(run.attestation.provider)))
        add((e, DCG.measurement, Literal(run.attestation.code_measurement)))
        add((e, DCG.digest, Literal(run.attestation.bundle_digest)))
        add((e, DCG.keyThumbprint, Literal(run.attestation.key_sha256)))
        if run.attestation.evidence:
            add((e, RDF.value, Literal(run.attestation.evidence)))
    if run.gate_passed is not None:
        v = URIRef(run.iri + "#verdict")
        add((r, DCG.verdict, v))
        add((v, RDF.type, DCG.GateVerdict))
        add((v, DCG.status, DCG.GatePassed if run.gate_passed else DCG.GateBlocked))
        if run.refusal is not None:
            add((v, DCG.gateRule, Literal(run.refusal.rule)))
            if run.refusal.shape_path:
                add((v, DCG.shapePath, URIRef(run.refusal.shape_path)))
    if run.result_digest:
        res = URIRef(run.iri + "#result")
        add((r, DCG.result, res))
        add((res, RDF.type, DCG.Result))
        add((res, PROV.wasGeneratedBy, r))
        add((res, DCG.digest, Literal(run.result_digest)))
        add((res, DCTERMS.extent, Literal(run.result_size or 0)))
    return graph


def from_graph(name: str, graph: Graph, revision: int) -> Run:
    r = URIRef(name)
    if (r, RDF.type, DCG.Run) not in graph:
        raise DamagedRun(f"{name} is not a run.")
    run = Run(
        id=_text(graph, r, DCTERMS.identifier),
        iri=name,
        space_id="",
        space_iri=_text(graph, r, DCG.space),
        algorithm_digest=_text(graph, r, DCG.digest),
        terms_digest=_text(graph, r, DCG.termsDigest),
        requested_by=_text(graph, r, PROV.wasStartedBy),
        requested_at=_moment(graph, r, DCTERMS.created),
        status=_status(graph.value(r, DCG.status)),
        stage=_text(graph, r, DCG.stage),
        progress=float(_literal(graph, r, DCG.progress)),
        individuals_included=int(_literal(graph, r, DCG.individualsIncluded)),
        individuals_read=int(_literal(graph, r, DCG.individualsRead)),
        revision=revision,
    )
    run.space_id = run.space_iri.rstrip("/").rsplit("/", 1)[-1]
    datacage = graph.value(r, PROV.wasAssociatedWith)
    run.datacage = str(datacage) if datacage is not None else None
    if graph.value(r, PROV.startedAtTime) is not None:
        run.started_at = _moment(graph, r, PROV.startedAtTime)
    if graph.value(r, PROV.endedAtTime) is not None:
        run.finished_at = _moment(graph, r, PROV.endedAtTime)
    run.problems = _numbered(graph, r, DCG.problem)
    if graph.value(r, DCG.claimCount) is not None:
        run.claims = int(_literal(graph, r, DCG.claimCount))
    if graph.value(r, DCG.leaseUntil) is not None:
        run.lease_until = _moment(graph, r, DCG.leaseUntil)
        run.lease_digest = _text(graph, r, DCG.leaseDigest)
    outcome = graph.value(r, DCG.outcome)
    run.outcome = _code(Outcome, outcome) if outcome is not None else None
    transport = graph.value(r, DCG.pullTransport)
    run.pull_transport = str(transport) if transport is not None else None
    run.pod_servers = [
        PodServerProgress(
            str(graph.value(node, DCG.podServer) or ""),
            int(_literal(graph, node, DCG.peopleToRead)),
            int(_literal(graph, node, DCG.peopleRead)),
            int(_literal(graph, node, DCG.peopleFailed)),
        )
        for node in sorted(graph.objects(r, DCG.pullProgress), key=str)
    ]
    run.notes = sorted(
        (_code(Note, n) for n in graph.objects(r, DCG.runNote)), key=lambda n: n.value
    )
    evidence = graph.value(r, DCG.evidence)
    if evidence is not None:
        run.attestation = Attestation(
            provider=_text(graph, evidence, DCG.attestationProvider),
            code_measurement=_text(graph, evidence, DCG.measurement),
            bundle_digest=_text(graph, evidence, DCG.digest),
            key_sha256=_text(graph, evidence, DCG.keyThumbprint),
            evidence=str(graph.value(evidence, RDF.value) or ""),
        )
    verdict = graph.value(r, DCG.verdict)
    if verdict is not None:
        run.gate_passed = graph.value(verdict, DCG.status) == DCG.GatePassed
        rule = graph.value(verdict, DCG.gateRule)
        if rule is not None:
            path = graph.value(verdict, DCG.shapePath)
            run.refusal = Refusal(str(rule), str(path) if path is not None else None)
    result = graph.value(r, DCG.result)
    if result is not None:
        run.result_digest = _text(graph, result, DCG.digest)
        run.result_size = int(_literal(graph, result, DCTERMS.extent))
    return run


def _time(moment: datetime) -> Literal:
    return Literal(moment.isoformat(timespec="seconds"), datatype=XSD.dateTime)


def _literal(graph: Graph, s: Node, p: URIRef) -> object:
    value = graph.value(s, p)
    if not isinstance(value, Literal):
        raise DamagedRun(f"{s} has no {p}.")
    return value.toPython()


def _text(graph: Graph, s: Node, p: URIRef) -> str:
    value = graph.value(s, p)
    if value is None:
        raise DamagedRun(f"{s} has no {p}.")
    return str(value)


def _moment(graph: Graph, s: Node, p: URIRef) -> datetime:
    value = _literal(graph, s, p)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise DamagedRun(f"{s} has a {p} that is not a time with a zone.")
    return value


def _status(node: Node | None) -> RunStatus:
    for status in RunStatus:
        if status.value == node:
            return status
    raise DamagedRun(f"Unknown run status {node}.")


def _code(vocabulary, value: Node):
    try:
        return vocabulary(str(value))
    except ValueError:
        raise DamagedRun(f"Unknown {vocabulary.__name__.lower()} code {value}.") from None


def _numbered(graph: Graph, s: Node, p: URIRef) -> list[str]:
    values = sorted(str(v) for v in graph.objects(s, p))
    return [v.split(" ", 1)[1] if " " in v else v for v in values]
