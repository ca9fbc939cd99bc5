"""A private CA and a TLS certificate for `localhost`, for the pod provider's nginx on one machine.

The demo (and the tests) serve pods over https like any real provider, so that the datacage's
reads go through TLS and its attestation gateway; a machine without a public name has no public
CA to ask, so this one makes its own. Its key never leaves the process that makes it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def make_local_ca(folder: Path, *, days: int = 1) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key) in `folder`: a CA and a localhost server certificate."""
    return _issue(folder, "datacage local CA", "server", ExtendedKeyUsageOID.SERVER_AUTH, days)


def make_client_identity(folder: Path, *, days: int = 1) -> tuple[Path, Path, Path]:
    """(client-ca.pem, client.pem, client.key) in `folder`: an ordinary X.509 client identity
    and the CA a server checks it against (a benchmark's plain mutual-TLS baseline)."""
    return _issue(folder, "datacage client CA", "client", ExtendedKeyUsageOID.CLIENT_AUTH, days)


def _issue(
    folder: Path, ca_label: str, leaf: str, usage: x509.ObjectIdentifier, days: int
) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_label)])
    ca = (
        _valid(x509.CertificateBuilder(), now, days)
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        _valid(x509.CertificateBuilder(), now, days)
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    prefix = "" if leaf == "server" else f"{leaf}-"
    paths = folder / f"{prefix}ca.pem", folder / f"{leaf}.pem", folder / f"{leaf}.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


def _valid(
    builder: x509.CertificateBuilder, now: dt.datetime, days: int
) -> x509.CertificateBuilder:
    return (
        builder.serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )
