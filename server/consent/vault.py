"""Tokens kept by the server, always sealed at rest.

Two uses, one mechanism (`SealedFiles`: AES-256-GCM under a 0600 key file, one 0600 file per
entry, the entry's name as associated data so entries cannot be swapped):

- `PodSessions`: a person's access token and DPoP key for the minutes between their return from
  their identity provider and their answer on the consent page. Files, not memory, so every
  worker process of the server sees them; deleted when the flow ends, and unusable after
  `POD_SESSION_SECONDS` in any case.
- `TokenVault`: for a space whose runs recur, the refresh token (and the DPoP key it is bound
  to) kept after consent, so the grant can be taken back when the consent ends. Every other
  consent keeps no token at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectors.solid import RefreshState

_KEY_FILE = "vault.key"
_NONCE_BYTES = 12
#: A person has this long between signing in for consent and answering the consent page.
POD_SESSION_SECONDS = 15 * 60


class VaultError(Exception):
    """A sealed entry that cannot be opened (wrong key, tampered, damaged)."""


class SealedFiles:
    def __init__(self, directory: Path, key_directory: Path):
        self.directory = directory
        self.key_directory = key_directory

    def put(self, name: str, document: dict[str, Any]) -> None:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self._key()).encrypt(nonce, json.dumps(document).encode(), name.encode())
        _write_private(self._path(name), base64.b64encode(nonce + sealed))

    def get(self, name: str) -> dict[str, Any] | None:
        path = self._path(name)
        try:
            raw = base64.b64decode(path.read_bytes(), validate=True)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise VaultError("A kept sign-in is damaged; please sign in again.") from exc
        try:
            plain = AESGCM(self._key()).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], name.encode()
            )
            document = json.loads(plain)
        except (InvalidTag, ValueError) as exc:
            raise VaultError("A kept sign-in could not be opened; please sign in again.") from exc
        if not isinstance(document, dict):
            raise VaultError("A kept sign-in is damaged; please sign in again.")
        return document

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def names_older_than(self, seconds: float) -> list[Path]:
        if not self.directory.exists():
            return []
        limit = time.time() - seconds
        return [p for p in self.directory.glob("*.sealed") if p.stat().st_mtime < limit]

    def _path(self, name: str) -> Path:
        return self.directory / (hashlib.sha256(name.encode()).hexdigest() + ".sealed")

    def _key(self) -> bytes:
        path = self.key_directory / _KEY_FILE
        if not path.exists():
            _write_private(path, secrets.token_bytes(32), exclusive=True)
        key = path.read_bytes()
        if len(key) != 32:
            raise VaultError(f"{path} is not a 256-bit key.")
        return key


class TokenVault:
    """Refresh states for consents to recurring spaces, by consent IRI."""

    def __init__(self, data_dir: Path):
        self._files = SealedFiles(data_dir / "vault" / "refresh", data_dir / "vault")

    def put(self, consent_iri: str, state: RefreshState) -> None:
        self._files.put(
            consent_iri,
            {
                "issuer": state.issuer,
                "client_id": state.client_id,
                "webid": state.webid,
                "refresh_token": state.refresh_token,
                "dpop_key_pem": state.dpop_key_pem.decode(),
                "client_secret": state.client_secret,
            },
        )

    def get(self, consent_iri: str) -> RefreshState | None:
        document = self._files.get(consent_iri)
        if document is None:
            return None
        try:
            return RefreshState(
                issuer=document["issuer"],
                client_id=document["client_id"],
                webid=document["webid"],
                refresh_token=document["refresh_token"],
                dpop_key_pem=document["dpop_key_pem"].encode(),
                client_secret=document.get("client_secret"),
            )
        except (KeyError, AttributeError) as exc:
            raise VaultError("A kept sign-in is damaged; please sign in again.") from exc

    def delete(self, consent_iri: str) -> None:
        self._files.delete(consent_iri)


class PodSessions:
    """A person's pod session during a consent or withdrawal flow, by a random flow id."""

    def __init__(self, data_dir: Path, lifetime: float = POD_SESSION_SECONDS):
        self._files = SealedFiles(data_dir / "vault" / "flows", data_dir / "vault")
        self.lifetime = lifetime

    def put(self, flow_id: str, document: dict[str, Any]) -> None:
        for stale in self._files.names_older_than(self.lifetime):
            stale.unlink(missing_ok=True)  # flows abandoned mid-way: their tokens go too
        self._files.put(flow_id, {**document, "kept_at": time.time()})

    def get(self, flow_id: str) -> dict[str, Any] | None:
        document = self._files.get(flow_id)
        if document is None:
            return None
        if time.time() - float(document.get("kept_at", 0)) > self.lifetime:
            self._files.delete(flow_id)
            return None
        return document

    def delete(self, flow_id: str) -> None:
        self._files.delete(flow_id)


def _write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write with mode 0600 from the first byte; appear whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    if not exclusive:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)  # never replaces a key another thread just made
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
