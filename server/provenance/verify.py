"""`verify_result`: is this document a result the attested datacage made, unchanged?

The checks, in order, each raising (never a boolean):

1. the document parses as Turtle and holds exactly one signed `dcg:Result`;
2. the detached JWS verifies over the canonical form of every other triple (`canonical`), so
   one triple added, removed or changed, or another signature, is refused;
3. the key that signed is the one the embedded attestation evidence binds (`report_data`), and
   the thumbprint the description states is that key's;
4. the evidence verifies under the caller's `TrustPolicy` (`verify_evidence`: the provider's
   proof, approved code and bundle) as of the run's end, which must not lie in the future;
5. the algorithm the description names is the bundle the evidence measured.

Freshness is judged at the run's end because a result is read long after it was made: the
evidence must have been fresh *when the datacage signed*, which the signed end time states.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from rdflib import Graph, URIRef
from rdflib.term import Literal

from connectors.rfc7638 import jwk_thumbprint
from vocab import DCG, PROV

from ..attestation import TrustPolicy, VerifiedEvidence, public_key_sha256, verify_evidence
from ..attestation.verify import CLOCK_SKEW
from .canonical import canonical_nquads
from .errors import MalformedResult, ResultNotAuthentic
from .jws import public_jwk, verify_detached

MAX_RESULT_BYTES = 32 << 20


@dataclass(frozen=True)
class VerifiedResult:
    result: str
    run: str
    space: str
    algorithm_digest: str
    ended_at: datetime
    consents: tuple[str, ...]
    evidence: VerifiedEvidence
    # "tls", "plain-http" (a development setting), or None for results made before it was said
    pull_transport: str | None = None


def verify_result(document: bytes, *, policy: TrustPolicy, now: datetime) -> VerifiedResult:
    graph = _parse(document)
    signed = list(graph.triples((None, DCG.signature, None)))
    if len(signed) != 1 or not isinstance(signed[0][2], Literal):
        raise MalformedResult(
            f"A result carries exactly one signature; this document has {len(signed)}."
        )
    result, _, jws = signed[0]
    graph.remove(signed[0])
    key = verify_detached(str(jws), canonical_nquads(graph))

    run = _one(graph, result, PROV.wasGeneratedBy, "the run that generated it")
    attestation = _one(graph, run, DCG.evidence, "the attestation evidence")
    evidence = str(_one(graph, attestation, DCG.evidenceDocument, "the evidence document"))
    stated = str(_one(graph, attestation, DCG.keyThumbprint, "the enclave key's thumbprint"))
    if not hmac.compare_digest(stated.encode(), jwk_thumbprint(public_jwk(key)).encode()):
        raise ResultNotAuthentic("The result names another enclave key than the one that signed.")
    ended = _one(graph, run, PROV.endedAtTime, "when the run ended")
    ended_at = ended.toPython() if isinstance(ended, Literal) else None
    if not isinstance(ended_at, datetime) or ended_at.tzinfo is None:
        raise MalformedResult("The run's end time is not a dateTime with a time zone.")
    if ended_at > now + CLOCK_SKEW:
        raise ResultNotAuthentic("The result says its run ended in the future of this clock.")
    verified = verify_evidence(
        evidence.encode(), public_key_sha256=public_key_sha256(key), policy=policy, now=ended_at
    )
    algorithm = _one(graph, run, DCG.algorithm, "the algorithm")
    digest = str(_one(graph, algorithm, DCG.digest, "the algorithm's digest"))
    if not hmac.compare_digest(digest.encode(), verified.measurement.bundle_digest.encode()):
        raise ResultNotAuthentic(
            "The result names another algorithm than the bundle the evidence measured."
        )
    return VerifiedResult(
        result=str(result),
        run=str(run),
        space=str(_one(graph, run, DCG.space, "the space")),
        algorithm_digest=digest,
        ended_at=ended_at,
        consents=tuple(sorted(str(c) for c in graph.objects(run, DCG.usedConsent))),
        evidence=verified,
        pull_transport=_optional_text(graph, run, DCG.pullTransport),
    )


def _optional_text(graph: Graph, subject, predicate) -> str | None:
    value = graph.value(subject, predicate)
    return str(value) if value is not None else None


def _parse(document: bytes) -> Graph:
    if len(document) > MAX_RESULT_BYTES:
        raise MalformedResult(f"The document is over {MAX_RESULT_BYTES >> 20} MiB.")
    graph = Graph()
    try:
        graph.parse(data=document, format="turtle")
    except Exception as exc:  # rdflib raises many kinds for bad Turtle
        raise MalformedResult(f"The document is not Turtle: {exc}") from None
    return graph


def _one(graph: Graph, subject, predicate: URIRef, what: str):
    values = list(graph.objects(subject, predicate))
    if len(values) != 1:
        raise MalformedResult(
            f"The result's provenance must name {what} once ({len(values)} found)."
        )
    return values[0]
