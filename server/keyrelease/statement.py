"""The key service's signed statement about one fleet key, and how a reader checks it.

Format `datacage-fleet-key-v1`, a JSON object with exactly these members::

    {"format": "datacage-fleet-key-v1",
     "fleet": "shop-fleet",                      # which fleet the key belongs to
     "bundle_digest": "sha256:...",              # the one approved bundle it is for
     "public_key": "-----BEGIN PUBLIC KEY-----...",   # EC P-256, what providers seal to
     "key_sha256": "<hex SHA-256 of the DER SubjectPublicKeyInfo>",
     "created_at": 1735689600,
     "service": "software-key-service",         # who holds the private half
     "notice": "...",                           # the software stand-in says what it is
     "release_policy": {"code_digests": [...], "bundle_digests": [...],
                        "allow_software": true, "software_key_ids": [...],
                        "hardware": ["sev-snp"], "max_age_seconds": 3600}}

It travels as `{"statement": "<the JSON text>", "signature": "<base64url Ed25519>"}`; the
signature covers a domain prefix and the text exactly as sent. A data provider checks the
signature against the key services its own trust policy names, and that the release policy
is no wider than its own (`check_within`): a key released under a looser policy than the
provider's would let a datacage the provider refuses open its data.
"""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ..attestation import TrustPolicy, public_key_sha256
from ..attestation.measurement import is_digest
from ..attestation.software import software_key_id
from .errors import StatementRefused

FORMAT = "datacage-fleet-key-v1"
SOFTWARE_SERVICE = "software-key-service"
SOFTWARE_NOTICE = (
    "software stand-in: the fleet keys are kept in a file on the key service's machine and "
    "released after a check in software, not by an attestation-bound key management service"
)
MAX_STATEMENT_BYTES = 32 * 1024
_PREFIX = b"datacage-fleet-key-v1 statement\n"
_KEYS = {
    "format",
    "fleet",
    "bundle_digest",
    "public_key",
    "key_sha256",
    "created_at",
    "service",
    "notice",
    "release_policy",
}
_POLICY_KEYS = {
    "code_digests",
    "bundle_digests",
    "allow_software",
    "software_key_ids",
    "hardware",
    "max_age_seconds",
}


@dataclass(frozen=True)
class FleetKeyStatement:
    fleet: str
    bundle_digest: str
    public_key: ec.EllipticCurvePublicKey
    key_sha256: str
    created_at: int
    service: str
    notice: str
    release_policy: dict[str, Any]
    text: str  # the statement exactly as signed


def release_policy_of(policy: TrustPolicy) -> dict[str, Any]:
    """What the service releases under, as the statement tells it (no key material)."""
    hardware = _platforms(policy)
    return {
        "code_digests": sorted(policy.code_digests),
        "bundle_digests": sorted(policy.bundle_digests),
        "allow_software": policy.allow_software,
        "software_key_ids": sorted(software_key_id(k) for k in policy.software_public_keys()),
        "hardware": hardware,
        "max_age_seconds": int(policy.max_age.total_seconds()),
    }


def make_statement(
    *,
    fleet: str,
    bundle_digest: str,
    public_key: ec.EllipticCurvePublicKey,
    created_at: int,
    release_policy: dict[str, Any],
    signing_key: ed25519.Ed25519PrivateKey,
    service: str = SOFTWARE_SERVICE,
    notice: str = SOFTWARE_NOTICE,
) -> dict[str, str]:
    """The signed statement, as it travels: {"statement", "signature"}."""
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    text = _canonical(
        {
            "format": FORMAT,
            "fleet": fleet,
            "bundle_digest": bundle_digest,
            "public_key": pem,
            "key_sha256": public_key_sha256(public_key),
            "created_at": created_at,
            "service": service,
            "notice": notice,
            "release_policy": release_policy,
        }
    )
    signature = signing_key.sign(_PREFIX + text.encode())
    return {"statement": text, "signature": _b64(signature)}


def verify_statement(
    signed: object, trusted: tuple[ed25519.Ed25519PublicKey, ...]
) -> FleetKeyStatement:
    """Check the signature against `trusted` key services, then the statement's form."""
    if not isinstance(signed, dict) or set(signed) != {"statement", "signature"}:
        raise StatementRefused("The fleet-key statement is not a {statement, signature} object.")
    text, signature = signed["statement"], signed["signature"]
    if not isinstance(text, str) or not isinstance(signature, str):
        raise StatementRefused("The fleet-key statement and its signature must be text.")
    if len(text) > MAX_STATEMENT_BYTES or len(signature) > 200:
        raise StatementRefused("The fleet-key statement is larger than any real one.")
    if not trusted:
        raise StatementRefused(
            "The datacage names a fleet key, but no key service is trusted here "
            "(key_service_key_files in the trust policy)."
        )
    try:
        raw = _unb64(signature)
    except ValueError:
        raise StatementRefused("The fleet-key statement's signature is not base64url.") from None
    verified = False
    for key in trusted:  # every key, so timing does not tell which one came close
        try:
            key.verify(raw, _PREFIX + text.encode())
            verified = True
        except InvalidSignature:
            pass
    if not verified:
        raise StatementRefused(
            "The fleet-key statement is not signed by a key service this policy trusts."
        )
    return parse_statement(text)


def parse_statement(text: str) -> FleetKeyStatement:
    try:
        document = json.loads(text)
    except ValueError:
        raise StatementRefused("The fleet-key statement is not JSON.") from None
    if not isinstance(document, dict) or set(document) != _KEYS:
        raise StatementRefused("The fleet-key statement does not have its exact members.")
    if document["format"] != FORMAT:
        raise StatementRefused(f"The fleet-key statement is not {FORMAT!r}.")
    policy = document["release_policy"]
    if not isinstance(policy, dict) or set(policy) != _POLICY_KEYS:
        raise StatementRefused("The fleet-key statement's release policy has the wrong members.")
    if not is_digest(document["bundle_digest"]) or type(document["created_at"]) is not int:
        raise StatementRefused("The fleet-key statement's bundle or date is malformed.")
    if not all(isinstance(document[k], str) for k in ("fleet", "service", "notice")):
        raise StatementRefused("The fleet-key statement's names must be text.")
    try:
        key = serialization.load_pem_public_key(str(document["public_key"]).encode())
    except ValueError:
        raise StatementRefused("The fleet key is not a PEM public key.") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise StatementRefused("The fleet key is not an EC P-256 key.")
    if not hmac.compare_digest(public_key_sha256(key), str(document["key_sha256"])):
        raise StatementRefused("The fleet-key statement's key hash is not its key's.")
    return FleetKeyStatement(
        fleet=document["fleet"],
        bundle_digest=document["bundle_digest"],
        public_key=key,
        key_sha256=document["key_sha256"],
        created_at=document["created_at"],
        service=document["service"],
        notice=document["notice"],
        release_policy=policy,
        text=text,
    )


def check_within(statement: FleetKeyStatement, policy: TrustPolicy) -> None:
    """Refuse a key the service would release to a datacage `policy` does not accept.

    Code digests, the bundle, software evidence and its signing keys are compared exactly;
    for hardware only which platforms are accepted (their measurements live in files the
    statement does not carry): a provider who accepts no TDX refuses a service that does.
    """
    released = statement.release_policy
    extra_code = set(released["code_digests"]) - policy.code_digests
    if extra_code:
        raise StatementRefused(
            f"The key service releases the fleet key to datacage code your policy does not "
            f"approve ({sorted(extra_code)[0][:23]}...)."
        )
    if statement.bundle_digest not in policy.bundle_digests:
        raise StatementRefused(
            f"The fleet key is for the algorithm bundle {statement.bundle_digest[:23]}..., "
            "which your policy does not approve."
        )
    if released["allow_software"]:
        if not policy.allow_software:
            raise StatementRefused(
                "The key service releases the fleet key to datacages with software evidence "
                "only, which proves nothing about hardware; your policy does not allow that."
            )
        ours = {software_key_id(k) for k in policy.software_public_keys()}
        if set(released["software_key_ids"]) - ours:
            raise StatementRefused(
                "The key service trusts a software attestation key your policy does not trust."
            )
    ours_hw = set(_platforms(policy))
    if set(released["hardware"]) - ours_hw:
        raise StatementRefused(
            "The key service releases the fleet key on a hardware platform your policy does "
            f"not accept ({', '.join(sorted(set(released['hardware']) - ours_hw))})."
        )


def _platforms(policy: TrustPolicy) -> list[str]:
    tables = (("sev-snp", policy.hardware.snp), ("tdx", policy.hardware.tdx))
    return [name for name, table in tables if table is not None]


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
