"""The SOFTWARE attestation stand-in: a signature, not a hardware attestation.

`SoftwareAttestationProvider` signs evidence with an Ed25519 key kept in a file on the
datacage's machine. Anyone with root on that machine can read the key and sign any measurement
for any key: this evidence proves nothing about the hardware, the memory encryption or what
really runs. It exists so the whole flow (evidence, RA-TLS certificate, admission at the pod)
works and is tested on machines without SEV-SNP, TDX or SGX. Its provider name,
`software-unattested`, its log lines and a `notice` inside every proof say so, and a pod
provider must opt in (`allow_software`) and name the signing key it trusts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .enclave_key import EnclaveKey
from .errors import BadSignature, MalformedEvidence, UntrustedProvider
from .evidence import Evidence
from .measurement import Measurement
from .providers import register
from .trust import TrustPolicy

log = logging.getLogger(__name__)

PROVIDER_NAME = "software-unattested"
KEY_FILE_NAME = "software-provider.key"
NOTICE = (
    "software stand-in: signed by a key file on the datacage machine; "
    "proves nothing about hardware, memory encryption or the code that runs"
)
_PROOF_KEYS = {"alg", "key_id", "signature", "notice"}


def software_key_id(public_key: ed25519.Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw public key: which trusted key a proof claims to be signed by."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


class SoftwareAttestationProvider:
    """Signs evidence with `<directory>/software-provider.key` (made 0600 in a 0700 folder).

    `directory` is the datacage's attestation folder, `<data_dir>/attestation`.
    """

    name = PROVIDER_NAME

    def __init__(self, directory: Path):
        self.key_path = Path(directory) / KEY_FILE_NAME
        self._key = _load_or_create(self.key_path)
        log.warning(
            "SOFTWARE attestation stand-in in use: evidence proves nothing about hardware "
            "(signing key %s, id %s)",
            self.key_path,
            software_key_id(self._key.public_key())[:16],
        )

    def public_key_pem(self) -> str:
        """What a pod provider puts in its trust policy to accept this datacage's evidence."""
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def attest(
        self, key: EnclaveKey, measurement: Measurement, now: datetime | None = None
    ) -> Evidence:
        issued = int((now or datetime.now(UTC)).timestamp())
        unsigned = Evidence(PROVIDER_NAME, key.public_key_sha256(), measurement, issued)
        signature = self._key.sign(unsigned.claim_bytes())
        proof = {
            "alg": "Ed25519",
            "key_id": software_key_id(self._key.public_key()),
            "signature": base64.urlsafe_b64encode(signature).decode().rstrip("="),
            "notice": NOTICE,
        }
        return Evidence(PROVIDER_NAME, unsigned.report_data, measurement, issued, proof)


@register
class SoftwareEvidenceVerifier:
    """Checks a software stand-in's signature against the keys the policy trusts."""

    provider = PROVIDER_NAME
    label = "software stand-in (no hardware attestation)"
    hardware_backed = False

    def verify(self, evidence: Evidence, policy: TrustPolicy, now: datetime | None = None) -> None:
        if not policy.allow_software:
            raise UntrustedProvider(
                "The evidence comes from the software stand-in, which proves nothing about "
                "hardware, and this policy does not allow software evidence."
            )
        proof = evidence.proof
        if set(proof) != _PROOF_KEYS or proof["alg"] != "Ed25519":
            raise MalformedEvidence("The software stand-in's proof does not have its exact form.")
        trusted = _trusted_key(proof["key_id"], policy)
        try:
            signature = _b64url(proof["signature"])
            trusted.verify(signature, evidence.claim_bytes())
        except (ValueError, InvalidSignature):
            raise BadSignature(
                "The software stand-in's signature over the evidence does not verify."
            ) from None


def _trusted_key(key_id: str, policy: TrustPolicy) -> ed25519.Ed25519PublicKey:
    found = None
    for candidate in policy.software_public_keys():
        # Look at every key, so timing does not tell which trusted key came close.
        if hmac.compare_digest(software_key_id(candidate).encode(), key_id.encode()):
            found = candidate
    if found is None:
        raise UntrustedProvider(
            "The evidence is signed by a software key this policy does not trust "
            f"(key id {key_id[:16]}...)."
        )
    return found


def _b64url(text: str) -> bytes:
    if len(text) > 200:
        raise ValueError("signature too long")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _load_or_create(path: Path) -> ed25519.Ed25519PrivateKey:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)  # mkdir's mode is masked by umask, and an old folder kept its own
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_key(path)
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    log.warning("created the SOFTWARE attestation stand-in key %s (not hardware)", path)
    return key


def _read_key(path: Path) -> ed25519.Ed25519PrivateKey:
    mode = path.lstat().st_mode
    if not stat.S_ISREG(mode) or mode & 0o077:
        raise PermissionError(
            f"{path} must be a regular file readable only by its owner (chmod 600)."
        )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key.")
    return key
