"""Why a delivered result was refused, in plain words (attestation keeps its own errors)."""

from __future__ import annotations


class ResultVerificationError(Exception):
    """Base class: this document is not shown to come from an attested datacage."""


class MalformedResult(ResultVerificationError):
    """The document does not parse, or lacks the provenance or signature a result carries."""


class ResultNotAuthentic(ResultVerificationError):
    """The signature does not cover this graph, or was made by another key than the evidence's."""
