"""The key service's key file: its Ed25519 signing key and the fleet's P-256 key pairs.

One JSON file, mode 0600, written whole to a temporary file and renamed (a crash leaves the
old file or the new one, never half of one)::

    {"format": "datacage-key-service-v1", "fleet": "shop-fleet",
     "signing_key": "<PKCS#8 PEM, Ed25519>",
     "keys": [{"bundle_digest": "sha256:...", "private_key": "<PKCS#8 PEM, P-256>",
               "created_at": 1735689600, "retired_at": null}]}

One key pair per approved bundle, and a bundle may hold several while a rotation is under
way: providers seal to the newest, workers are given every key not retired, so data pushed
before the rotation stays readable until the operator retires its key. Retiring is final: a
retired key is never released again (its entry stays, so the decision is on record).

P-256 and not X25519: the push envelope's HPKE suite is DHKEM(P-256), so a provider seals to a
fleet key exactly as it sealed to an enclave key, with the same code and format.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ..attestation import public_key_sha256
from ..attestation.measurement import is_digest
from ..private_files import write_private
from .errors import KeyStoreError

FORMAT = "datacage-key-service-v1"


class FleetKeyPair:
    """One fleet key pair; the private half is handed out only to `seal_to` (release.py)."""

    def __init__(self, bundle_digest: str, private_key, created_at: int, retired_at: int | None):
        self.bundle_digest = bundle_digest
        self.__private = private_key
        self.created_at = created_at
        self.retired_at = retired_at

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.__private.public_key()

    @property
    def key_sha256(self) -> str:
        return public_key_sha256(self.public_key)

    def private_der(self) -> bytes:
        """PKCS#8 DER, for sealing to an attested worker and nothing else."""
        return self.__private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def _entry(self) -> dict[str, object]:
        pem = self.__private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "bundle_digest": self.bundle_digest,
            "private_key": pem,
            "created_at": self.created_at,
            "retired_at": self.retired_at,
        }

    def __repr__(self) -> str:
        return f"FleetKeyPair({self.bundle_digest[:23]}..., key {self.key_sha256[:16]}...)"

    def __reduce__(self) -> object:
        raise TypeError("A fleet key pair is not copied out of the key service's process.")


@dataclass
class KeyStore:
    path: Path
    fleet: str
    signing_key: ed25519.Ed25519PrivateKey
    keys: list[FleetKeyPair]

    def signing_public_pem(self) -> str:
        return (
            self.signing_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def active(self, bundle_digest: str) -> list[FleetKeyPair]:
        """The keys a worker of this bundle is given, newest first."""
        found = [k for k in self.keys if k.bundle_digest == bundle_digest and k.retired_at is None]
        return sorted(found, key=lambda k: k.created_at, reverse=True)

    def add_key(self, bundle_digest: str, now: int) -> FleetKeyPair:
        """A new key pair for the bundle (its first, or a rotation); saved at once."""
        if not is_digest(bundle_digest):
            raise KeyStoreError(f"{bundle_digest[:80]!r} is not a sha256:<64 hex> bundle digest.")
        pair = FleetKeyPair(bundle_digest, ec.generate_private_key(ec.SECP256R1()), now, None)
        self.keys.append(pair)
        self.save()
        return pair

    def retire(self, key_sha256: str, now: int) -> FleetKeyPair:
        """Never release this key again; data sealed to it can no longer be opened."""
        matches = [k for k in self.keys if key_sha256 and k.key_sha256.startswith(key_sha256)]
        if len(matches) != 1:
            raise KeyStoreError(
                f"{len(matches)} keys start with {key_sha256[:64]!r}; give more of the key id."
            )
        if matches[0].retired_at is None:
            matches[0].retired_at = now
            self.save()
        return matches[0]

    def save(self) -> None:
        document = {
            "format": FORMAT,
            "fleet": self.fleet,
            "signing_key": self.signing_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            "keys": [k._entry() for k in self.keys],
        }
        write_private(self.path, json.dumps(document, indent=1).encode())


def create(path: Path, fleet: str) -> KeyStore:
    """A new key file for `fleet` with a fresh signing key; refuses to replace one."""
    if not fleet or len(fleet) > 80 or not fleet.replace("-", "").replace("_", "").isalnum():
        raise KeyStoreError("A fleet's name is 1 to 80 letters, digits, '-' or '_'.")
    if path.exists() or path.is_symlink():
        raise KeyStoreError(f"{path} exists already; the key service does not replace keys.")
    store = KeyStore(path, fleet, ed25519.Ed25519PrivateKey.generate(), [])
    store.save()
    return store


def load(path: Path) -> KeyStore:
    """Read the key file, refusing one that others could read."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        raise KeyStoreError(
            f"{path} does not exist; make it with `datacage key-service init`."
        ) from None
    if not stat.S_ISREG(mode) or mode & 0o077:
        raise KeyStoreError(f"{path} must be a regular file readable only by its owner (0600).")
    try:
        document = json.loads(path.read_bytes())
        if document["format"] != FORMAT:
            raise ValueError("format")
        signing = serialization.load_pem_private_key(document["signing_key"].encode(), None)
        if not isinstance(signing, ed25519.Ed25519PrivateKey):
            raise ValueError("signing key")
        keys = [_pair(entry) for entry in document["keys"]]
        return KeyStore(path, str(document["fleet"]), signing, keys)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyStoreError(f"{path} is not a key service file ({exc}).") from None


def _pair(entry: dict) -> FleetKeyPair:
    private = serialization.load_pem_private_key(entry["private_key"].encode(), None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise ValueError("fleet key")
    retired = entry["retired_at"]
    if not is_digest(entry["bundle_digest"]) or type(entry["created_at"]) is not int:
        raise ValueError("key entry")
    return FleetKeyPair(entry["bundle_digest"], private, entry["created_at"], retired)
