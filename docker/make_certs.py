"""The compose deployment's own TLS: a private CA and one server certificate for its host names.

    python make_certs.py DIR HOST [HOST...]

Writes, once (an existing CA is kept, so a restart does not break what already trusts it):

    DIR/ca.pem        the private CA (give it to browsers, or accept the warning once)
    DIR/ca.key        its key (0600): only this script uses it
    DIR/server.pem    nginx's certificate for every HOST (subjectAltName), signed by the CA
    DIR/server.key    its key (0600 in the volume; nginx's master process reads it as root)
    DIR/trust.pem     the system's CAs plus ours: what the control plane, CSS and the datacage
                      verify servers with, so real pods elsewhere stay reachable

Standard library plus `cryptography` (in the control plane's image). For a real deployment
with publicly trusted certificates, skip this and mount your own files at the same paths.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS, SERVER_DAYS = 3650, 397  # browsers refuse server certificates valid for longer


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def _ca(folder: Path, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "datacage compose CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ca, key


def _server(
    hosts: list[str], ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _covers(path: Path, hosts: list[str], ca: x509.Certificate, now: dt.datetime) -> bool:
    """Whether the server certificate on disk names every host, is ours and is not near expiry."""
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        cert.issuer == ca.subject
        and set(hosts) <= set(names.get_values_for_type(x509.DNSName))
        and cert.not_valid_after_utc - now > dt.timedelta(days=30)
    )


def make_certs(folder: Path, hosts: list[str], now: dt.datetime | None = None) -> bool:
    """Make what is missing in `folder`; True when a new server certificate was written."""
    now = now or dt.datetime.now(dt.UTC)
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca(folder, now)
    made = not _covers(folder / "server.pem", hosts, ca, now)
    if made:
        cert, key = _server(hosts, ca, ca_key, now)
        _write_key(folder / "server.key", key)
        (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ours = (folder / "ca.pem").read_text()
    system = Path(_system_bundle()).read_text() if _system_bundle() else ""
    (folder / "trust.pem").write_text(system.rstrip("\n") + "\n" + ours if system else ours)
    return made


def _system_bundle() -> str | None:
    try:
        import certifi  # requests' own dependency, in the control plane's image
    except ImportError:
        return None
    return certifi.where()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: make_certs.py DIR HOST [HOST...]")
    target, names = Path(sys.argv[1]), sys.argv[2:]
    fresh = make_certs(target, names)
    print(f"{'Made' if fresh else 'Kept'} the certificate for {', '.join(names)} in {target}.")
