"""What the product writes respects the vocabularies it uses, checked by a little RDFS reasoning.

The graphs are made by the real writers, about one run: the consent receipt and the registry's
consent history, the usage record in the registry and the one in the person's pod, the result's
provenance, and the audit entry about the run. Over them, with PROV-O's axioms (a subset in
tests/fixtures/vocab/prov-o-axioms.ttl) and our own declarations (vocab/*.ttl), we infer every
node's types from the domains and ranges of the properties used (RDFS rules rdfs2, rdfs3, rdfs7,
rdfs9) and check:
- PROV-O's disjointness: nothing is both a `prov:Entity` and a `prov:Activity`, in any one graph
  or across them all (the run appears in every one);
- nothing is made a `prov:Location` (a pod resource is identified, not placed);
- every subject (and object) that a graph types itself is of the declared domain (range) of the
  properties used on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

import vocab
from server.audit.entry import GENESIS, Entry, Event, entry_graph
from server.audit.trail import head_graph as audit_head_graph
from server.consent.model import Consent, ConsentHistory, ConsentState, PodResource
from server.consent.rdf import history_graph, receipt_graph
from server.consent.usage import Read, usage_record_graph
from server.datacage.usage_receipts import Use, usage_graph
from server.destinations.status import DeliveryStatus
from server.destinations.status import status_graph as delivery_graph
from server.destinations.store import Destination, destination_graph
from server.provenance.describe import DatasetUse, InputUse, RunFacts, describe
from server.push.records import (
    PublishedEvidence,
    PushedDataset,
    datasets_to_graph,
    evidence_to_graph,
)
from server.runs.model import Attestation, Run, RunStatus
from server.runs.rdf import to_graph as run_graph
from server.spaces import lifecycle
from server.spaces.model import Space
from server.spaces.rdf import to_graph as space_graph
from tests.support import space_records
from tests.support.space_records import DIGEST_A
from vocab import OWL, PROV, RDF, RDFS

AXIOMS = Path(__file__).parent.parent / "fixtures" / "vocab" / "prov-o-axioms.ttl"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SPACE = "https://cp.example/spaces/s1"
RUN = SPACE + "/runs/r1"
PERSON = "https://ana.example/profile/card#me"
CAGE = "https://cage.example/profile/card#me"
CONSENT = "https://cp.example/consents/" + "a" * 32 + "/1"
READS = (Read("https://ana.example/data/orders.ttl", '"v1"'), Read("https://ana.example/f/", None))


def _consent() -> Consent:
    return Consent(
        iri=CONSENT,
        number=1,
        space_iri=SPACE,
        space_id="s1",
        space_name="Common customers",
        subject=PERSON,
        grantee=CAGE,
        resources=(PodResource(READS[0].url), PodResource(READS[1].url, True)),
        purposes=("https://w3id.org/dpv#Marketing",),
        legal_basis="https://w3id.org/dpv#Consent",
        controller="https://shop.example/profile/card#me",
        consumers=("https://insights.example/profile/card#me",),
        algorithm_digest="sha256:" + "1" * 64,
        terms_digest="sha256:" + "2" * 64,
        recurring=False,
        started_at=T0,
        expires_at=T0 + timedelta(days=30),
        state=ConsentState.GIVEN,
        receipt_url="https://ana.example/consent-receipts/s1-1.ttl",
        given_at=T0,
        usage_records="https://ana.example/consent-receipts/s1-1-usage/",
    )


def _space() -> Space:
    """An active space (submitted, every participant approving), named as the run's space."""
    made = space_records.space(
        iri=SPACE, algorithms=[space_records.algorithm()], current_algorithm=DIGEST_A
    )
    lifecycle.submit(made)
    space_records.approve_all(made)
    return made


def _run() -> Run:
    return Run(
        id="r1",
        iri=RUN,
        space_id="s1",
        space_iri=SPACE,
        algorithm_digest="sha256:" + "1" * 64,
        terms_digest="sha256:" + "2" * 64,
        requested_by="https://coder.example/profile#me",
        requested_at=T0,
        status=RunStatus.SUCCEEDED,
        datacage=CAGE,
        attestation=Attestation("software-unattested", "sha256:" + "c" * 64, "sha256:1", "k" * 64),
        started_at=T0,
        finished_at=T0 + timedelta(seconds=20),
        individuals_included=6,
        individuals_read=6,
        gate_passed=True,
        result_digest="sha256:" + "d" * 64,
        result_size=120,
    )


def _delivery() -> DeliveryStatus:
    consumer = "https://insights.example/profile/card#me"
    return DeliveryStatus(
        RUN,
        consumer,
        "delivered",
        1,
        "https://insights.example/results/s1/r1.ttl",
        "Delivered.",
        True,
        T0 + timedelta(seconds=30),
    )


def _destination() -> Destination:
    return Destination(
        SPACE,
        "https://insights.example/profile/card#me",
        "https://insights.example/results/",
        ("Append",),
        "WAC",
        T0,
        "https://insights.example/inbox/",
    )


def _dataset() -> PushedDataset:
    return PushedDataset(
        id="d1",
        iri=SPACE + "/datasets/d1",
        provider="https://bank.example/profile/card#me",
        name="customers",
        connector="s3",
        location="s3://bank/customers.enc",
        format="csv",
        schema={"columns": [{"name": "email", "type": "string"}]},
        ciphertext_digest="sha256:" + "f" * 64,
        size=1024,
        evidence_sha256="e" * 64,
        key_sha256="k" * 64,
        registered_at=T0,
    )


def _evidence() -> PublishedEvidence:
    return PublishedEvidence("sha256:1", "{}", "-----BEGIN PUBLIC KEY-----", "e" * 64, T0)


def _entry(event: Event) -> Entry:
    return Entry(SPACE + "/audit/1", SPACE, 1, event, GENESIS, "h" * 64)


def product_graphs() -> dict[str, Graph]:
    consent = _consent()
    result = Graph()
    result.add((BNode(), URIRef("https://example.org/ns#orders"), Literal(21)))
    facts = RunFacts(
        run_iri=RUN,
        space_iri=SPACE,
        purposes=consent.purposes,
        algorithm_digest=consent.algorithm_digest,
        datacage=CAGE,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=20),
        evidence="{}",
        provider="software",
        code_measurement="sha256:" + "c" * 64,
        key_thumbprint="thumb",
        result_digest="sha256:" + "d" * 64,
        inputs=(InputUse(CONSENT, tuple(r.version for r in READS)),),
        datasets=(DatasetUse("https://org.example/profile#me", "sales", "sha256:" + "e" * 64),),
    )
    use = Use(CONSENT, consent.usage_records, consent.purposes, READS, T0)
    event = Event("run-finished", CAGE, T0, "The run ended.", about=(SPACE, RUN, CONSENT))
    history = ConsentHistory("https://cp.example/consents/" + "a" * 32, SPACE, PERSON, [consent])
    entry = _entry(event)
    return {
        "consent receipt": receipt_graph(consent),
        "consent history": history_graph(history),
        "usage record (registry)": usage_record_graph(RUN, consent, list(READS), T0, "sha256:1"),
        "usage record (pod)": usage_graph(
            use,
            run_iri=RUN,
            run_id="r1",
            space_iri=SPACE,
            digest="sha256:1",
            datacage=CAGE,
            consumers=consent.consumers,
        ),
        "result provenance": describe(result, facts),
        "audit entry": entry_graph(SPACE, 1, event, GENESIS),
        "space": space_graph(_space()),
        "run": run_graph(_run()),
        "delivery status": delivery_graph(RUN + "/deliveries/1", _delivery()),
        "result destination": destination_graph(SPACE + "/destinations/1", _destination()),
        "pushed datasets": datasets_to_graph(SPACE, [_dataset()]),
        "published evidence": evidence_to_graph("https://cp.example/evidence/1", _evidence()),
        "audit head": audit_head_graph(SPACE, entry),
    }


# --- A small RDFS reasoner over our declarations and PROV-O's --------------------------------


class Schema:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.superclasses = _closure(graph, RDFS.subClassOf)
        self.superproperties = _closure(graph, RDFS.subPropertyOf)

    def declared(self, prop: Node, link: URIRef) -> set[Node]:
        """The domains (or ranges) of `prop`, its super-properties' included."""
        props = {prop} | self.superproperties.get(prop, set())
        return {c for p in props for c in self.graph.objects(p, link)}

    def widen(self, classes: Iterable[Node]) -> set[Node]:
        return {s for c in classes for s in {c} | self.superclasses.get(c, set())}

    def disjoint_pairs(self) -> list[tuple[Node, Node]]:
        return list(self.graph.subject_objects(OWL.disjointWith))


def _closure(graph: Graph, link: URIRef) -> dict[Node, set[Node]]:
    direct: dict[Node, set[Node]] = defaultdict(set)
    for sub, sup in graph.subject_objects(link):
        direct[sub].add(sup)
    closed: dict[Node, set[Node]] = {}
    for start in list(direct):
        seen, todo = set(), list(direct[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(direct.get(node, ()))
        closed[start] = seen
    return closed


def asserted_types(schema: Schema, data: Graph) -> dict[Node, set[Node]]:
    types: dict[Node, set[Node]] = defaultdict(set)
    for node, cls in data.subject_objects(RDF.type):
        types[node].add(cls)
    return {node: schema.widen(classes) for node, classes in types.items()}


def inferred_types(schema: Schema, data: Graph) -> dict[Node, set[Node]]:
    types: dict[Node, set[Node]] = defaultdict(set)
    for s, p, o in data:
        if p == RDF.type:
            types[s].add(o)
            continue
        types[s] |= schema.declared(p, RDFS.domain)
        if not isinstance(o, Literal):
            types[o] |= schema.declared(p, RDFS.range)
    return {node: schema.widen(classes) for node, classes in types.items()}


@pytest.fixture(scope="module")
def schema() -> Schema:
    graph = Graph().parse(AXIOMS, format="turtle")
    for name in vocab.VOCABULARIES:
        graph += vocab.load(name)
    return Schema(graph)


@pytest.fixture(scope="module")
def graphs() -> dict[str, Graph]:
    return product_graphs()


def _everything(graphs: dict[str, Graph]) -> Graph:
    union = Graph()
    for graph in graphs.values():
        union += graph
    return union


def test_the_axioms_declare_prov_disjointness(schema):
    assert (PROV.Entity, PROV.Activity) in schema.disjoint_pairs()


@pytest.mark.parametrize("name", list(product_graphs()))
def test_no_node_is_both_an_entity_and_an_activity(schema, graphs, name):
    _assert_disjoint(schema, graphs[name], name)


def test_no_node_is_both_an_entity_and_an_activity_across_all_we_write(schema, graphs):
    _assert_disjoint(schema, _everything(graphs), "all graphs together")


def _assert_disjoint(schema: Schema, data: Graph, name: str) -> None:
    types = inferred_types(schema, data)
    clashes = [
        (str(node), str(a), str(b))
        for node, classes in types.items()
        for a, b in schema.disjoint_pairs()
        if a in classes and b in classes
    ]
    assert clashes == [], f"{name}: nodes of disjoint classes"


def test_no_pod_resource_is_made_a_location(schema, graphs):
    types = inferred_types(schema, _everything(graphs))
    assert sorted(str(n) for n, c in types.items() if PROV.Location in c) == []


@pytest.mark.parametrize("name", list(product_graphs()))
def test_typed_nodes_are_in_the_declared_domains_and_ranges(schema, graphs, name):
    everything = _everything(graphs)  # a node typed in one graph keeps its type in the others
    typed = asserted_types(schema, everything)
    wrong = []
    for s, p, o in graphs[name]:
        if p == RDF.type:
            continue
        for domain in schema.declared(p, RDFS.domain):
            if s in typed and domain not in typed[s]:
                wrong.append(f"{s} {p} ...: subject is not a {domain}")
        for range_ in schema.declared(p, RDFS.range):
            if not isinstance(o, Literal) and o in typed and range_ not in typed[o]:
                wrong.append(f"... {p} {o}: object is not a {range_}")
    assert sorted(wrong) == [], name


def test_the_run_is_the_activity_that_used_the_inputs(graphs):
    """Not only consistent but saying the right thing: the run used what the record lists."""
    run = URIRef(RUN)
    for name in ("usage record (registry)", "usage record (pod)"):
        graph = graphs[name]
        used = set(graph.objects(run, PROV.used))
        assert {graph.value(node, PROV.specializationOf) for node in used} == {
            URIRef(r.url) for r in READS
        }, name


def test_my_data_reads_usage_records_of_the_new_shape_and_of_the_old():
    from server.consent.usage import record_use, usage_record_name, uses_of
    from server.registry import EmbeddedRegistry
    from vocab import DCG

    consent = _consent()
    with EmbeddedRegistry(None) as registry:
        record_use(registry, RUN, consent, list(READS), T0, "sha256:1")
        # The same use as written before: the record "used" the inputs, at a "location".
        old_run = SPACE + "/runs/r0"
        old = usage_record_graph(old_run, consent, list(READS), T0 - timedelta(days=1), "sha256:0")
        name = URIRef(usage_record_name(old_run, consent))
        for s, p, o in list(old):
            if p == PROV.used:
                old.remove((s, p, o))
                old.add((name, PROV.used, o))
            elif p == PROV.specializationOf:
                old.remove((s, p, o))
                old.add((s, PROV.atLocation, o))
            elif p == DCG.underConsent and s == name:
                old.remove((s, p, o))
                old.add((s, DCG.usedConsent, o))
        registry.write(str(name), old, expected_revision=registry.revision(str(name)))
        uses = uses_of(registry, PERSON)
    assert [u.run for u in uses] == [RUN, old_run]
    for use in uses:
        assert use.consent == CONSENT
        assert use.reads == tuple(sorted(READS, key=lambda r: r.url))


def test_run_pages_read_delivery_records_of_the_new_shape_and_of_the_old():
    from server.destinations.status import record_delivery, states_of_space, statuses_of
    from server.registry import EmbeddedRegistry
    from vocab import DCG

    status = _delivery()
    container = "https://insights.example/results/"
    body = {
        "consumer": status.consumer,
        "state": status.state,
        "attempts": status.attempts,
        "location": status.location,
        "detail": status.detail,
        "notified": status.notified,
    }
    with EmbeddedRegistry(None) as registry:
        registry.write(RUN, run_graph(_run()), expected_revision=registry.revision(RUN))
        record_delivery(registry, RUN, body, status.at, container)
        # Another consumer's delivery as written before: the run as its "result", a time of
        # generation and a "location".
        other = "https://other.example/profile/card#me"
        name = RUN + "/deliveries/old"
        old = delivery_graph(name, replace(status, consumer=other))
        node = URIRef(name)
        for s, p, o in list(old):
            swap = {
                DCG.deliveryOf: DCG.result,
                DCG.stateReportedAt: PROV.generatedAtTime,
                DCG.deliveredCopy: PROV.atLocation,
            }.get(p)
            if swap is not None:
                old.remove((s, p, o))
                old.add((node, swap, o))
        assert (node, PROV.generatedAtTime, None) in old
        assert (node, DCG.result, URIRef(RUN)) in old
        registry.write(name, old, expected_revision=registry.revision(name))
        statuses = statuses_of(registry, RUN)
        states = states_of_space(registry, SPACE)
    assert [(s.consumer, s.location, s.at) for s in statuses] == [
        (status.consumer, status.location, status.at),
        (other, status.location, status.at),
    ]
    assert states == [(RUN, "delivered"), (RUN, "delivered")]
