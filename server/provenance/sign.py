"""Signing a described result with the enclave key, inside the datacage."""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef

from connectors.rfc7638 import jwk_thumbprint
from vocab import DCG

from ..attestation import EnclaveKey
from .canonical import canonical_nquads
from .describe import RunFacts, describe, result_iri
from .jws import public_jwk, sign_detached


def key_thumbprint(key: EnclaveKey) -> str:
    """The RFC 7638 thumbprint the description states for the signing key."""
    return jwk_thumbprint(public_jwk(key.public_key))


def sign_result(described: Graph, result: str, key: EnclaveKey) -> Graph:
    """Add `<result> dcg:signature "<detached JWS>"` over the canonical form of the rest."""
    payload = canonical_nquads(described)
    jws = sign_detached(payload, key.public_key, key.sign_es256)
    described.add((URIRef(result), DCG.signature, Literal(jws)))
    return described


def signed_document(result: Graph, facts: RunFacts, key: EnclaveKey) -> bytes:
    """The Turtle delivered to every consumer: result, provenance and signature."""
    graph = sign_result(describe(result, facts), result_iri(facts.run_iri), key)
    return graph.serialize(format="turtle", encoding="utf-8")
