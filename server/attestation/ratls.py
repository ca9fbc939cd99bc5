"""RA-TLS style client certificates: the evidence travels inside the TLS handshake.

The datacage presents a short-lived certificate, self-signed by its enclave key, that carries
the evidence in a private X.509 extension. The TLS handshake proves the datacage holds the
private key; the evidence says (per its provider) which code runs behind that key, and binds
the key through `report_data`. A pod provider's proxy therefore learns, before a single HTTP
request reaches the pod server, whether the peer runs an approved measurement.

The extension:

* OID `2.25.220527575002478961837334366724070798156`: a UUID-derived OID (ITU-T X.667 / RFC
  4122 section 4.1 arc `2.25`), which anyone may allocate without registration; this one was
  drawn at random for "datacage attestation evidence v1".
* value: a DER OCTET STRING holding the evidence JSON (`evidence.FORMAT`).
* NOT critical: OpenSSL (so nginx) refuses certificates with a critical extension it does not
  know, even with `ssl_verify_client optional_no_ca`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .enclave_key import EnclaveKey, public_key_sha256
from .errors import MalformedEvidence, StaleEvidence
from .evidence import MAX_EVIDENCE_BYTES, Evidence
from .trust import TrustPolicy
from .verify import VerifiedEvidence, verify_evidence

EVIDENCE_OID = x509.ObjectIdentifier("2.25.220527575002478961837334366724070798156")
#: Long enough for a run's pulls, short enough that a leaked certificate soon stops working.
DEFAULT_LIFETIME = timedelta(hours=1)
#: Backdating covers a verifier whose clock is a little behind ours.
_BACKDATE = timedelta(minutes=1)
MAX_CERTIFICATE_BYTES = MAX_EVIDENCE_BYTES + 8 * 1024


def client_certificate(
    key: EnclaveKey,
    evidence: Evidence | bytes,
    now: datetime | None = None,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> x509.Certificate:
    """A self-signed certificate for the enclave key carrying `evidence`."""
    now = now or datetime.now(UTC)
    payload = evidence.to_bytes() if isinstance(evidence, Evidence) else bytes(evidence)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "datacage enclave key (RA-TLS)")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(EVIDENCE_OID, _der_octet_string(payload)), critical=False
        )
    )
    return key.sign_certificate(builder)


def evidence_from_certificate(certificate: x509.Certificate) -> bytes:
    """The evidence bytes a certificate carries; `MalformedEvidence` if it carries none."""
    try:
        extension = certificate.extensions.get_extension_for_oid(EVIDENCE_OID)
    except x509.ExtensionNotFound:
        raise MalformedEvidence(
            "The client certificate carries no attestation evidence (extension "
            f"{EVIDENCE_OID.dotted_string})."
        ) from None
    except ValueError as exc:  # duplicate or unparsable extensions
        raise MalformedEvidence(f"The client certificate's extensions are invalid: {exc}") from None
    value = extension.value
    if not isinstance(value, x509.UnrecognizedExtension):
        raise MalformedEvidence("The evidence extension has an unexpected type.")
    return _parse_der_octet_string(value.value)


def verify_peer_certificate(
    pem: bytes | str, policy: TrustPolicy, now: datetime
) -> VerifiedEvidence:
    """Check a peer's RA-TLS certificate (PEM) and the evidence in it against `policy`.

    The caller (the TLS server, here nginx) has already checked that the peer holds the
    certificate's private key; this checks the certificate is self-signed and in its validity
    period, then the evidence, bound to the certificate's public key.
    """
    return verified_certificate(pem, policy, now)[1]


def verified_certificate(
    pem: bytes | str, policy: TrustPolicy, now: datetime
) -> tuple[x509.Certificate, VerifiedEvidence]:
    """`verify_peer_certificate`, also returning the certificate: a cache of admitted
    certificates must know its validity period."""
    data = pem.encode() if isinstance(pem, str) else pem
    if len(data) > MAX_CERTIFICATE_BYTES * 2:
        raise MalformedEvidence("The client certificate is too large.")
    try:
        certificate = x509.load_pem_x509_certificate(data)
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise MalformedEvidence(
            "The client certificate is not a valid self-signed certificate."
        ) from None
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise StaleEvidence(
            "The client certificate is outside its validity period "
            f"({certificate.not_valid_before_utc:%Y-%m-%d %H:%M} to "
            f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC)."
        )
    verified = verify_evidence(
        evidence_from_certificate(certificate),
        public_key_sha256=public_key_sha256(certificate.public_key()),
        policy=policy,
        now=now,
    )
    return certificate, verified


def _der_octet_string(content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return b"\x04" + bytes([length]) + content
    size = (length.bit_length() + 7) // 8
    return b"\x04" + bytes([0x80 | size]) + length.to_bytes(size, "big") + content


def _parse_der_octet_string(data: bytes) -> bytes:
    # Strict DER: one OCTET STRING, minimal length, nothing after it.
    if len(data) < 2 or data[0] != 0x04:
        raise MalformedEvidence("The evidence extension is not a DER OCTET STRING.")
    first = data[1]
    if first < 0x80:
        length, start = first, 2
    else:
        size = first & 0x7F
        if not 1 <= size <= 4 or len(data) < 2 + size:
            raise MalformedEvidence("The evidence extension has an invalid length.")
        length, start = int.from_bytes(data[2 : 2 + size], "big"), 2 + size
        if length < 0x80 or data[2] == 0:
            raise MalformedEvidence("The evidence extension's length is not minimal DER.")
    if length > MAX_EVIDENCE_BYTES:
        raise MalformedEvidence("The evidence in the certificate is too large.")
    if len(data) != start + length:
        raise MalformedEvidence("The evidence extension's length does not match its content.")
    return data[start:]
