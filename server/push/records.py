"""The control plane's records of push: datasets registered to a space, evidence published.

* A space's pushed datasets are one named graph, `<space IRI>/datasets`, written by
  compare-and-swap like every registry record; each dataset is a `dcg:Dataset` node in it.
* The datacage's published evidence is one named graph per bundle digest,
  `<public URL>datacage/evidence/<hex>`, replaced whenever the datacage attests again (a new
  key after a restart, or fresh evidence before the old one is too old).

Nothing here holds key material. A dataset's read grant (a presigned or SAS URL) is a
read-only credential to ciphertext: it is kept for the datacage's job and never shown on pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, XSD

from vocab import DCG

FORMATS = ("csv", "parquet", "turtle", "jsonld")
COLUMN_TYPES = ("string", "integer", "decimal", "boolean", "date")


@dataclass(frozen=True)
class PushedDataset:
    id: str
    iri: str
    provider: str  # the data provider's WebID
    name: str
    connector: str
    location: str  # where it is kept, without credentials
    format: str
    schema: dict[str, Any] | None  # {"columns": [{"name", "type"}]} for tables
    ciphertext_digest: str  # sha256:<hex> of the envelope as stored
    size: int  # bytes of the envelope
    evidence_sha256: str  # hex SHA-256 of the evidence the provider verified
    key_sha256: str  # hex SHA-256 of the enclave public key it was sealed to
    registered_at: datetime
    grant: dict[str, str] = field(default_factory=dict, repr=False)  # the datacage's only

    def for_job(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "name": self.name,
            "connector": self.connector,
            "grant": self.grant,
            "format": self.format,
            "schema": self.schema,
            "ciphertext_digest": self.ciphertext_digest,
            "size": self.size,
            "evidence_sha256": self.evidence_sha256,
            "key_sha256": self.key_sha256,
        }

    def public(self) -> dict[str, Any]:
        """What participants may see: everything but the read grant."""
        shown = self.for_job()
        del shown["grant"]
        return {**shown, "location": self.location, "registered_at": self.registered_at.isoformat()}


@dataclass(frozen=True)
class PublishedEvidence:
    bundle_digest: str
    evidence: str  # the evidence JSON as the datacage made it
    public_key_pem: str  # the enclave public key the evidence's report_data names
    evidence_sha256: str
    published_at: datetime
    #: The key service's signed statement {"statement", "signature"} of the fleet key that
    #: providers seal to instead of the enclave key (a fleet with a key service), or None.
    fleet_key: dict[str, str] | None = None


def datasets_graph_name(space_iri: str) -> str:
    return space_iri + "/datasets"


def evidence_graph_name(public_url: str, bundle_digest: str) -> str:
    return public_url + "datacage/evidence/" + bundle_digest.removeprefix("sha256:")


def datasets_to_graph(space_iri: str, datasets: list[PushedDataset]) -> Graph:
    graph = Graph()
    space = URIRef(space_iri)
    for d in datasets:
        node = URIRef(d.iri)
        graph.add((space, DCG.pushedDataset, node))
        for predicate, value in (
            (DCTERMS.identifier, Literal(d.id)),
            (DCTERMS.publisher, URIRef(d.provider)),
            (DCTERMS.title, Literal(d.name)),
            (DCG.connector, Literal(d.connector)),
            (DCG.storageLocation, Literal(d.location)),
            (DCG.readGrant, Literal(json.dumps(d.grant, sort_keys=True))),
            (DCTERMS.format, Literal(d.format)),
            (DCG.digest, Literal(d.ciphertext_digest)),
            (DCAT.byteSize, Literal(d.size, datatype=XSD.integer)),
            (DCG.evidenceDigest, Literal(d.evidence_sha256)),
            (DCG.enclaveKeyDigest, Literal(d.key_sha256)),
            (DCTERMS.created, Literal(d.registered_at, datatype=XSD.dateTime)),
        ):
            graph.add((node, predicate, value))
        graph.add((node, RDF.type, DCG.Dataset))
        if d.schema is not None:
            graph.add((node, DCG.tableSchema, Literal(json.dumps(d.schema, sort_keys=True))))
    return graph


def datasets_from_graph(space_iri: str, graph: Graph) -> list[PushedDataset]:
    found = []
    for node in graph.objects(URIRef(space_iri), DCG.pushedDataset):

        def one(predicate, node=node) -> Any:
            value = graph.value(node, predicate)
            if value is None:
                raise ValueError(f"The dataset record {node} has no {predicate}.")
            return value.toPython() if isinstance(value, Literal) else str(value)

        schema = graph.value(node, DCG.tableSchema)
        found.append(
            PushedDataset(
                id=one(DCTERMS.identifier),
                iri=str(node),
                provider=one(DCTERMS.publisher),
                name=one(DCTERMS.title),
                connector=one(DCG.connector),
                location=one(DCG.storageLocation),
                format=one(DCTERMS.format),
                schema=json.loads(str(schema)) if schema is not None else None,
                ciphertext_digest=one(DCG.digest),
                size=int(one(DCAT.byteSize)),
                evidence_sha256=one(DCG.evidenceDigest),
                key_sha256=one(DCG.enclaveKeyDigest),
                registered_at=one(DCTERMS.created),
                grant=json.loads(one(DCG.readGrant)),
            )
        )
    return sorted(found, key=lambda d: (d.registered_at, d.id))


def evidence_to_graph(name: str, published: PublishedEvidence) -> Graph:
    graph = Graph()
    node = URIRef(name)
    graph.add((node, RDF.type, DCG.AttestationEvidence))
    graph.add((node, DCG.digest, Literal(published.bundle_digest)))
    graph.add((node, DCG.evidenceDocument, Literal(published.evidence)))
    graph.add((node, DCG.evidenceDigest, Literal(published.evidence_sha256)))
    graph.add((node, DCG.enclavePublicKey, Literal(published.public_key_pem)))
    graph.add((node, DCTERMS.created, Literal(published.published_at, datatype=XSD.dateTime)))
    if published.fleet_key is not None:
        graph.add((node, DCG.fleetKeyStatement, Literal(json.dumps(published.fleet_key))))
    return graph


def evidence_from_graph(name: str, graph: Graph) -> PublishedEvidence:
    node = URIRef(name)

    def one(predicate):
        value = graph.value(node, predicate)
        if value is None:
            raise ValueError(f"The evidence record {name} has no {predicate}.")
        return value.toPython()

    return PublishedEvidence(
        bundle_digest=one(DCG.digest),
        evidence=one(DCG.evidenceDocument),
        public_key_pem=one(DCG.enclavePublicKey),
        evidence_sha256=one(DCG.evidenceDigest),
        published_at=one(DCTERMS.created),
        fleet_key=_fleet_key(graph.value(node, DCG.fleetKeyStatement)),
    )


def _fleet_key(value) -> dict[str, str] | None:
    return None if value is None else json.loads(str(value))
