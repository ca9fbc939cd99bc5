"""The evidence document: which provider vouches that which code runs behind which key, when.

Format `datacage-evidence-v1`, a JSON object with exactly these members::

    {"format": "datacage-evidence-v1",
     "provider": "software-unattested",            # which verifier must check the proof
     "report_data": "<sha256 hex of the enclave public key, DER SubjectPublicKeyInfo>",
     "measurement": {"datacage_code": "sha256:...", "bundle_digest": "sha256:..."},
     "issued_at": 1735689600,                        # seconds since the epoch, UTC
     "proof": {...}}                                 # the provider's signature or quote

Everything but `proof` is the *claim*; its canonical bytes (`claim_bytes()`) are what a
provider signs or binds into a hardware report. Evidence arrives from the network inside a
client certificate, so `parse_evidence` treats it as hostile: a size limit, no duplicate keys,
exactly the members above with exact types, and nothing it does not understand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import MalformedEvidence
from .measurement import Measurement, is_digest

FORMAT = "datacage-evidence-v1"
#: Hardware quotes with their certificate chains fit well below this; anything larger is refused.
MAX_EVIDENCE_BYTES = 64 * 1024
MAX_PROOF_MEMBERS = 16
_PROVIDER = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CLAIM_PREFIX = b"datacage-evidence-v1 claim\n"
_KEYS = {"format", "provider", "report_data", "measurement", "issued_at", "proof"}
_MEASUREMENT_KEYS = {"datacage_code", "bundle_digest"}


@dataclass(frozen=True)
class Evidence:
    provider: str
    report_data: str
    measurement: Measurement
    issued_at: int
    proof: Mapping[str, str] = field(default_factory=dict)

    def claim(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "provider": self.provider,
            "report_data": self.report_data,
            "measurement": self.measurement.to_json(),
            "issued_at": self.issued_at,
        }

    def claim_bytes(self) -> bytes:
        """What the provider signs: a domain prefix, then the claim as canonical JSON."""
        return _CLAIM_PREFIX + _canonical(self.claim())

    def to_bytes(self) -> bytes:
        return _canonical({**self.claim(), "proof": dict(self.proof)})


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def parse_evidence(data: bytes) -> Evidence:
    """Parse evidence bytes strictly; raise `MalformedEvidence` saying what is wrong."""
    if not isinstance(data, bytes | bytearray):
        raise MalformedEvidence("Evidence must be bytes.")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise MalformedEvidence(
            f"The evidence is {len(data):,} bytes, over the limit of {MAX_EVIDENCE_BYTES:,}."
        )
    try:
        document = json.loads(
            bytes(data).decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedEvidence(f"The evidence is not a valid JSON document: {exc}") from None
    top = _exact_object(document, _KEYS, "The evidence")
    if top["format"] != FORMAT:
        raise MalformedEvidence(
            f"The evidence format {str(top['format'])[:40]!r} is not one this verifier knows "
            f"({FORMAT!r})."
        )
    provider = top["provider"]
    if not isinstance(provider, str) or not _PROVIDER.fullmatch(provider):
        raise MalformedEvidence("The evidence's provider is not a short lowercase name.")
    if not isinstance(top["report_data"], str) or not _HEX64.fullmatch(top["report_data"]):
        raise MalformedEvidence("The evidence's report_data is not 64 lowercase hex digits.")
    issued_at = top["issued_at"]
    if type(issued_at) is not int or not 0 <= issued_at < 2**40:
        raise MalformedEvidence("The evidence's issued_at is not a time in whole seconds.")
    measured = _exact_object(top["measurement"], _MEASUREMENT_KEYS, "The evidence's measurement")
    if not all(is_digest(v) for v in measured.values()):
        raise MalformedEvidence("The evidence's measurement digests are not sha256:<hex> values.")
    return Evidence(
        provider=provider,
        report_data=top["report_data"],
        measurement=Measurement(measured["datacage_code"], measured["bundle_digest"]),
        issued_at=issued_at,
        proof=_proof(top["proof"]),
    )


def _proof(value: object) -> dict[str, str]:
    # Its members are the provider's business; here only the shape: a small map of strings.
    if not isinstance(value, dict):
        raise MalformedEvidence("The evidence's proof is not a JSON object.")
    if len(value) > MAX_PROOF_MEMBERS:
        raise MalformedEvidence(f"The evidence's proof has more than {MAX_PROOF_MEMBERS} members.")
    if not all(isinstance(v, str) for v in value.values()):
        raise MalformedEvidence("The evidence's proof members must all be strings.")
    return dict(value)


def _exact_object(value: object, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvidence(f"{what} is not a JSON object.")
    missing, extra = keys - value.keys(), value.keys() - keys
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(sorted(missing))}")
        if extra:
            shown = ", ".join(sorted(repr(k[:40]) for k in extra)[:5])
            problems.append(f"unexpected {shown}")
        raise MalformedEvidence(f"{what} has the wrong members: {'; '.join(problems)}.")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers that pick different duplicates would see different claims: refuse them all.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key[:40]!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
