"""Consents as RDF: DPV for the consent itself, ODRL for the agreement it makes.

The same description is written twice: into the registry (one graph per person and space, see
`store`) and, as the person's receipt, into their own pod, so what they hold is exactly what
the datacage is bound by.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from vocab import DCG, DCG_PROFILE, DCTERMS, DPV, ODRL2, PROV, RDF, XSD, bind_prefixes

from .model import Consent, ConsentHistory, ConsentState, PodResource


class DamagedConsent(ValueError):
    """A consent graph that lacks what every consent must have."""


def history_iri(public_url: str, space_iri: str, subject: str) -> str:
    """One graph per (space, person): the name is a digest, so it reveals neither."""
    digest = hashlib.sha256(f"{space_iri}\n{subject}".encode()).hexdigest()[:32]
    return f"{public_url}consents/{digest}"


def consent_iri(history: str, number: int) -> str:
    return f"{history}/{number}"


def agreement_iri(consent: Consent) -> URIRef:
    return URIRef(consent.iri + "#agreement")


# --- Writing ----------------------------------------------------------------------------------


def history_graph(history: ConsentHistory) -> Graph:
    graph = bind_prefixes(Graph())
    name = URIRef(history.iri)
    graph.add((name, DCG.space, URIRef(history.space_iri)))
    graph.add((name, DCG.agent, URIRef(history.subject)))
    for consent in history.consents:
        add_consent(graph, consent)
    return graph


def receipt_graph(consent: Consent) -> Graph:
    """The person's own copy, written into their pod."""
    graph = bind_prefixes(Graph())
    add_consent(graph, consent)
    return graph


def add_consent(graph: Graph, consent: Consent) -> None:
    c = URIRef(consent.iri)
    subject = URIRef(consent.subject)
    add = graph.add
    add((c, RDF.type, DPV.Consent))
    add((c, RDF.type, DPV.ExplicitlyExpressedConsent))
    add((c, RDF.type, DPV.InformedConsent))
    # The consent as recorded is what a run uses (dcg:usedConsent, a prov:used): an entity.
    add((c, RDF.type, PROV.Entity))
    add((c, DPV.hasConsentStatus, consent.state.value))
    add((c, DPV.hasDataSubject, subject))
    add((c, DPV.isIndicatedBy, subject))
    add((c, DPV.hasDataController, URIRef(consent.controller)))
    add((c, DPV.hasLegalBasis, URIRef(consent.legal_basis)))
    for purpose in consent.purposes:
        add((c, DPV.hasPurpose, URIRef(purpose)))
    for consumer in consent.consumers:
        add((c, DPV.hasRecipient, URIRef(consumer)))
    for resource in consent.resources:
        add((c, DPV.hasPersonalData, URIRef(resource.url)))
        kind = DCG.readsContainer if resource.is_container else DCG.readsResource
        add((c, kind, URIRef(resource.url)))
    add((c, DCG.space, URIRef(consent.space_iri)))
    add((c, DCTERMS.title, Literal(consent.space_name)))
    add((c, DCTERMS.identifier, Literal(consent.number)))
    add((c, DCG.grantee, URIRef(consent.grantee)))
    add((c, DCG.digest, Literal(consent.algorithm_digest)))
    add((c, DCG.termsDigest, Literal(consent.terms_digest)))
    add((c, DCG.recurringRuns, Literal(consent.recurring)))
    add((c, DCG.startedAt, _time(consent.started_at)))
    add((c, DCG.expiresAt, _time(consent.expires_at)))
    if consent.access_system:
        add((c, DCG.accessSystem, Literal(consent.access_system)))
    if consent.receipt_url:
        add((c, DCG.receipt, URIRef(consent.receipt_url)))
    if consent.given_at:
        # DPV's own term; receipts written before it said dcg:givenAt (still read, below).
        add((c, DPV.isIndicatedAtTime, _time(consent.given_at)))
    if consent.withdrawn_at:
        add((c, DCG.withdrawnAt, _time(consent.withdrawn_at)))
    if consent.withdrawal_reason:
        add((c, DCG.withdrawalReason, Literal(consent.withdrawal_reason)))
    if consent.grant_removed_at:
        add((c, DCG.grantRemovedAt, _time(consent.grant_removed_at)))
    if consent.usage_records:
        add((c, DCG.usageRecords, URIRef(consent.usage_records)))
    if consent.retention:
        add((c, DCG.retentionPeriod, Literal(consent.retention, datatype=XSD.duration)))
    if consent.consent_period:
        add((c, DCG.consentPeriod, Literal(consent.consent_period, datatype=XSD.duration)))
    if consent.min_individuals is not None:
        add((c, DCG.minimumIndividuals, Literal(consent.min_individuals)))
    _add_agreement(graph, consent)


def _add_agreement(graph: Graph, consent: Consent) -> None:
    """ODRL: the person (assigner) lets the datacage (assignee) read exactly these resources,
    for these purposes, with this algorithm, until the expiry, results going only to these
    recipients; passing the data on is prohibited."""
    agreement = agreement_iri(consent)
    add = graph.add
    add((agreement, RDF.type, ODRL2.Agreement))
    add((agreement, ODRL2.uid, agreement))
    # The algorithm constraint uses a left operand of the datacage profile, not ODRL's core.
    add((agreement, ODRL2.profile, DCG_PROFILE))
    add((URIRef(consent.iri), DCTERMS.references, agreement))
    permission = URIRef(consent.iri + "#permission")
    prohibition = URIRef(consent.iri + "#prohibition")
    add((agreement, ODRL2.permission, permission))
    add((agreement, ODRL2.prohibition, prohibition))
    for rule, action in ((permission, ODRL2.read), (prohibition, ODRL2.distribute)):
        add((rule, ODRL2.assigner, URIRef(consent.subject)))
        add((rule, ODRL2.assignee, URIRef(consent.grantee)))
        add((rule, ODRL2.action, action))
        for resource in consent.resources:
            add((rule, ODRL2.target, URIRef(resource.url)))
    _constraint(graph, permission, "expiry", ODRL2.dateTime, ODRL2.lt, _time(consent.expires_at))
    purposes = [URIRef(p) for p in consent.purposes]
    _constraint(graph, permission, "purpose", ODRL2.purpose, ODRL2.isAnyOf, _list(graph, purposes))
    recipients = [URIRef(r) for r in consent.consumers]
    _constraint(
        graph, permission, "recipient", ODRL2.recipient, ODRL2.isAnyOf, _list(graph, recipients)
    )
    # The algorithm is named by digest: a datacage running anything else has no permission.
    _constraint(
        graph,
        permission,
        "algorithm",
        DCG.algorithmDigest,
        ODRL2.eq,
        Literal(consent.algorithm_digest),
    )


def _constraint(
    graph: Graph, rule: URIRef, name: str, left: URIRef, operator: URIRef, right: Node
) -> None:
    node = URIRef(f"{rule}-{name}")
    graph.add((rule, ODRL2.constraint, node))
    graph.add((node, ODRL2.leftOperand, left))
    graph.add((node, ODRL2.operator, operator))
    graph.add((node, ODRL2.rightOperand, right))


def _list(graph: Graph, items: list[URIRef]) -> BNode:
    head = BNode()
    Collection(graph, head, list(items))
    return head


def _time(value: datetime) -> Literal:
    return Literal(value.isoformat(timespec="seconds"), datatype=XSD.dateTime)


# --- Reading ----------------------------------------------------------------------------------


def history_from_graph(name: str, graph: Graph, revision: int) -> ConsentHistory:
    node = URIRef(name)
    space, subject = graph.value(node, DCG.space), graph.value(node, DCG.agent)
    if space is None or subject is None:
        raise DamagedConsent(f"{name} names no space or data subject.")
    consents = [
        consent_from_graph(graph, c)
        for c in graph.subjects(RDF.type, DPV.Consent)
        if isinstance(c, URIRef)
    ]
    consents.sort(key=lambda c: c.number)
    return ConsentHistory(name, str(space), str(subject), consents, revision)


def consent_from_graph(graph: Graph, node: URIRef) -> Consent:
    def one(predicate: URIRef) -> Node:
        value = graph.value(node, predicate)
        if value is None:
            raise DamagedConsent(f"{node} has no {predicate}.")
        return value

    def maybe_time(predicate: URIRef) -> datetime | None:
        value = graph.value(node, predicate)
        return _parse_time(value) if value is not None else None

    resources = [PodResource(str(r)) for r in graph.objects(node, DCG.readsResource)]
    resources += [PodResource(str(r), True) for r in graph.objects(node, DCG.readsContainer)]
    state = ConsentState(one(DPV.hasConsentStatus))
    space = str(one(DCG.space))
    receipt = graph.value(node, DCG.receipt)
    reason = graph.value(node, DCG.withdrawalReason)
    usage_records = graph.value(node, DCG.usageRecords)
    retention = graph.value(node, DCG.retentionPeriod)
    period = graph.value(node, DCG.consentPeriod)
    smallest = graph.value(node, DCG.minimumIndividuals)
    return Consent(
        iri=str(node),
        number=int(one(DCTERMS.identifier)),
        space_iri=space,
        space_id=space.rstrip("/").rsplit("/", 1)[-1],
        space_name=str(one(DCTERMS.title)),
        subject=str(one(DPV.hasDataSubject)),
        grantee=str(one(DCG.grantee)),
        resources=tuple(sorted(resources, key=lambda r: r.url)),
        purposes=tuple(sorted(str(p) for p in graph.objects(node, DPV.hasPurpose))),
        legal_basis=str(one(DPV.hasLegalBasis)),
        controller=str(one(DPV.hasDataController)),
        consumers=tuple(sorted(str(r) for r in graph.objects(node, DPV.hasRecipient))),
        algorithm_digest=str(one(DCG.digest)),
        terms_digest=str(one(DCG.termsDigest)),
        recurring=_boolean(one(DCG.recurringRuns)),
        started_at=_parse_time(one(DCG.startedAt)),
        expires_at=_parse_time(one(DCG.expiresAt)),
        state=state,
        access_system=str(graph.value(node, DCG.accessSystem) or ""),
        receipt_url=str(receipt) if receipt is not None else None,
        given_at=maybe_time(DPV.isIndicatedAtTime) or maybe_time(DCG.givenAt),
        withdrawn_at=maybe_time(DCG.withdrawnAt),
        withdrawal_reason=str(reason) if reason is not None else None,
        grant_removed_at=maybe_time(DCG.grantRemovedAt),
        usage_records=str(usage_records) if usage_records is not None else None,
        retention=str(retention) if retention is not None else None,
        consent_period=str(period) if period is not None else None,
        min_individuals=_integer(smallest) if smallest is not None else None,
    )


def _integer(value: Node) -> int:
    parsed = value.toPython() if isinstance(value, Literal) else None
    if not isinstance(parsed, int) or isinstance(parsed, bool):
        raise DamagedConsent(f"{value!r} is not a whole number.")
    return parsed


def _boolean(value: Node) -> bool:
    # Only a real xsd:boolean: bool("false") would be True.
    if isinstance(value, Literal) and value.datatype == XSD.boolean:
        parsed = value.toPython()
        if isinstance(parsed, bool):
            return parsed
    raise DamagedConsent(f"{value!r} is not true or false.")


def _parse_time(value: Node) -> datetime:
    parsed = value.toPython() if isinstance(value, Literal) else None
    if not isinstance(parsed, datetime) or parsed.tzinfo is None:
        raise DamagedConsent(f"{value!r} is not a date and time with a zone.")
    return parsed
