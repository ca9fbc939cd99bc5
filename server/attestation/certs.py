"""X.509 checks shared by the hardware verifiers: issued-by, validity, revocation, vendor roots.

Vendor chains are short and fixed (AMD: ARK -> ASK -> VCEK; Intel: Root CA -> PCK Platform CA
-> PCK), so each link is checked explicitly rather than through a general path builder: the
verifier knows which certificate must sign which, and says which link failed.

AMD signs with RSA-PSS, and its certificates must be checked with the exact parameters AMD
uses (SHA-384, MGF1 with SHA-384, 48-byte salt): the check below verifies
`tbs_certificate_bytes` with those parameters pinned, so a certificate claiming weaker PSS
parameters cannot pass. Time is always a parameter.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from importlib import resources

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .errors import CollateralError, Revoked, UntrustedChain

_PSS_OID = x509.ObjectIdentifier("1.2.840.113549.1.1.10")
_AMD_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def load_certificate(data: bytes, what: str) -> x509.Certificate:
    """PEM or DER; AMD's VCEKs carry a zero serial, which `cryptography` warns about but loads."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if data.lstrip().startswith(b"-----BEGIN"):
                return x509.load_pem_x509_certificate(data)
            return x509.load_der_x509_certificate(data)
    except ValueError:
        raise UntrustedChain(f"The {what} is not a readable X.509 certificate.") from None


def load_certificates(pem: bytes, what: str) -> list[x509.Certificate]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise UntrustedChain(f"The {what} is not a readable PEM certificate chain.") from None


def check_issued_by(cert: x509.Certificate, issuer: x509.Certificate, what: str) -> None:
    """`cert` is signed by `issuer`'s key and names it as issuer; raise `UntrustedChain`."""
    if cert.issuer != issuer.subject:
        raise UntrustedChain(
            f"The {what} names the issuer {cert.issuer.rfc4514_string()!r}, not "
            f"{issuer.subject.rfc4514_string()!r}."
        )
    key = issuer.public_key()
    try:
        if cert.signature_algorithm_oid == _PSS_OID:
            if not isinstance(key, rsa.RSAPublicKey):
                raise InvalidSignature
            key.verify(cert.signature, cert.tbs_certificate_bytes, _AMD_PSS, hashes.SHA384())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            algorithm = cert.signature_hash_algorithm
            if not isinstance(algorithm, hashes.SHA256 | hashes.SHA384):
                raise InvalidSignature
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            raise InvalidSignature
    except (InvalidSignature, ValueError, TypeError):
        raise UntrustedChain(
            f"The {what}'s signature does not verify with the key of "
            f"{issuer.subject.rfc4514_string()!r}."
        ) from None


def check_valid_at(cert: x509.Certificate, now: datetime, what: str) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise UntrustedChain(
            f"The {what} is valid from {cert.not_valid_before_utc:%Y-%m-%d} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}, not at {now:%Y-%m-%d %H:%M} UTC."
        )


def load_crl(data: bytes, what: str) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise CollateralError(f"The {what} is not a readable revocation list.") from None


def check_not_revoked(
    cert: x509.Certificate,
    crl: x509.CertificateRevocationList,
    issuer: x509.Certificate,
    now: datetime,
    what: str,
) -> None:
    """The CRL is the issuer's, verifies, is current at `now`, and does not list `cert`."""
    if crl.issuer != issuer.subject:
        raise CollateralError(
            f"The revocation list for the {what} is issued by {crl.issuer.rfc4514_string()!r}, "
            f"not by its issuer {issuer.subject.rfc4514_string()!r}."
        )
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and crl.signature_algorithm_oid == _PSS_OID:
            key.verify(crl.signature, crl.tbs_certlist_bytes, _AMD_PSS, hashes.SHA384())
        elif not crl.is_signature_valid(key):  # type: ignore[arg-type]
            raise InvalidSignature
    except (InvalidSignature, TypeError, ValueError):
        raise CollateralError(
            f"The revocation list for the {what} is not signed by "
            f"{issuer.subject.rfc4514_string()!r}."
        ) from None
    update = crl.next_update_utc
    if now < crl.last_update_utc or (update is not None and now > update):
        until = f"{update:%Y-%m-%d}" if update else "open"
        raise CollateralError(
            f"The revocation list for the {what} covers {crl.last_update_utc:%Y-%m-%d} to "
            f"{until}, not {now:%Y-%m-%d %H:%M} UTC: fetch a current one."
        )
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None and entry.revocation_date_utc <= now:
        raise Revoked(
            f"The {what} (serial {cert.serial_number:x}) was revoked by "
            f"{issuer.subject.rfc4514_string()!r} on {entry.revocation_date_utc:%Y-%m-%d}."
        )


def shipped_root(name: str) -> bytes:
    """A vendor root shipped with the package (server/attestation/roots/)."""
    return resources.files("server.attestation").joinpath("roots", name).read_bytes()
