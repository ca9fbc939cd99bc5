"""The enclave key: the datacage's TLS identity, made in process memory and never exported.

Attestation evidence names the SHA-256 of this key's public half (its `report_data`), so a pod
provider who checks the evidence knows that whoever completes a TLS handshake with this key is
the attested datacage. That only holds while the private half stays inside the process: there
is no method that returns it, it cannot be pickled, and it is never written to a file system.

`requests` (through `ssl.SSLContext.load_cert_chain`) only takes a client key as a *file path*.
`tls_files()` therefore writes the PEM into anonymous memory (`memfd_create`, Linux): the file
lives in RAM, has no name in any directory, is sealed against changes, and is closed when the
context ends. Its path `/proc/self/fd/N` is only meaningful inside this process. Open TLS
connections keep working after the context closes; make a new `Http` (a new connection pool) for
each certificate, as the datacage worker does per job.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def public_key_sha256(public_key: ec.EllipticCurvePublicKey | object) -> str:
    """Hex SHA-256 over the DER SubjectPublicKeyInfo: what evidence binds as `report_data`."""
    der = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


class EnclaveKey:
    """An EC P-256 key pair held only in this process's memory."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("The enclave key must be an EC P-256 key.")
        self.__private = private_key

    @classmethod
    def generate(cls) -> EnclaveKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.__private.public_key()

    def public_key_sha256(self) -> str:
        return public_key_sha256(self.public_key)

    def sign_es256(self, data: bytes) -> bytes:
        """An ECDSA P-256 SHA-256 signature of `data`, DER (results' JWS, RFC 7518 3.4)."""
        return self.__private.sign(data, ec.ECDSA(hashes.SHA256()))

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign a certificate for this key with this key (self-signed, RA-TLS style)."""
        return builder.public_key(self.public_key).sign(self.__private, hashes.SHA256())

    def open_sealed(self, suite: object, sealed: bytes, info: bytes) -> bytes:
        """Open an HPKE (RFC 9180, base mode) message sealed to this key: a pushed dataset's
        data key (server/push/envelope.py). The private key is used here, never handed out."""
        return suite.decrypt(sealed, self.__private, info)  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def tls_files(self, certificate: x509.Certificate) -> Iterator[tuple[str, str]]:
        """(certificate path, key path) for `requests`' `cert=`, both in sealed memfds.

        The paths are valid until the `with` block ends; then both descriptors are closed and
        the memory is freed by the kernel.
        """
        cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
        if certificate.public_key() != self.public_key:
            raise ValueError("This certificate is not for the enclave key.")
        key_pem = self.__private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with (
            _memfd("datacage-enclave-cert", cert_pem) as cert_path,
            _memfd("datacage-enclave-key", key_pem) as key_path,
        ):
            yield cert_path, key_path

    def __repr__(self) -> str:
        return f"EnclaveKey(P-256, public sha256 {self.public_key_sha256()[:16]}...)"

    def __reduce__(self) -> object:
        # Pickling would copy the private key out of the process (multiprocessing, caches).
        raise TypeError("The enclave key cannot be pickled or copied out of the process.")


@contextlib.contextmanager
def _memfd(name: str, content: bytes) -> Iterator[str]:
    # MFD_CLOEXEC: a child (the algorithm sandbox) must not inherit the descriptor.
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        # Sealed: nothing in this process can swap the key or certificate under OpenSSL's feet.
        seals = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)
