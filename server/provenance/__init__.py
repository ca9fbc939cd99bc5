"""Provenance carried by every delivered result: a PROV-O description, signed by the enclave key.

`describe` adds to a gated result who made it (the attested datacage), how (the run, the
algorithm's digest), from what (consent IRIs and the versions read, never pod URLs; pushed
datasets by the digest of what was pushed) and why (the space and its purposes). `sign_result`
signs a canonical form of the whole graph with the enclave key (ES256, detached JWS: RFC 7515
Appendix F) and `verify_result` checks a delivered document: the signature, that the signing
key is the one the attestation evidence binds, and the evidence.
"""

from .canonical import canonical_nquads, skolemize
from .describe import DatasetUse, InputUse, RunFacts, describe, result_iri
from .errors import MalformedResult, ResultNotAuthentic, ResultVerificationError
from .sign import key_thumbprint, sign_result, signed_document
from .verify import VerifiedResult, verify_result

__all__ = [
    "DatasetUse",
    "InputUse",
    "MalformedResult",
    "ResultNotAuthentic",
    "ResultVerificationError",
    "RunFacts",
    "VerifiedResult",
    "canonical_nquads",
    "describe",
    "key_thumbprint",
    "result_iri",
    "sign_result",
    "signed_document",
    "skolemize",
    "verify_result",
]
