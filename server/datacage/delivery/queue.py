"""The delivery queue: files in the worker's data folder, so a restart loses nothing.

    <data-dir>/delivery/hold.key              32 random bytes (AES-256-GCM), 0600
    <data-dir>/delivery/<run>/result.sealed   the signed result, sealed with that key, 0600
    <data-dir>/delivery/<run>/<consumer>.json one entry per consumer: state, attempts, when next

Every file is written whole under a temporary name, flushed, then renamed over the old one (a
crash leaves the old file or the new one, never half of either), and the folder is flushed so
the rename itself survives a power cut. The result is sealed from the moment it is queued, not
only once delivery failed: the same bytes serve every attempt, and a copy of the folder (a
backup, a disk image) without the key file holds nothing readable. The key sits next to it, 0600:
this protects against copies, not against root on the worker's machine, which can read the
process memory anyway.

A fleet shares one queue (docs/operations.md): `root` on a volume every worker mounts, and the
hold key given as a file of its own (`key_file`, a secret mounted beside the volume, not on it),
so any worker retries any result and a copy of the volume alone opens nothing. Two workers
never work on one run's deliveries at once: each takes the run's lock file first (`lock`,
flock, released by the kernel if the worker dies) and passes over a run another holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...private_files import write_private

log = logging.getLogger(__name__)

#: The states of one delivery. `delivered` and `destroyed` are final.
PENDING, DELIVERED, FAILED, DESTROYED = "retrying", "delivered", "failed", "destroyed"
FINAL = frozenset({DELIVERED, DESTROYED})

_SEALED = "result.sealed"
_AAD = b"datacage delivery v1\n"


@dataclass
class Entry:
    run_id: str
    run_iri: str
    consumer: str
    container: str
    inbox: str | None
    name: str  # the resource name in the container: run id + result digest
    queued_at: float
    hold_until: float  # after this the sealed result is destroyed, delivered or not
    state: str = PENDING
    attempts: int = 0
    next_at: float = 0.0
    location: str | None = None
    detail: str = ""
    notified: bool = False
    reported: str = ""  # the state last accepted by the control plane

    @property
    def file_name(self) -> str:
        return hashlib.sha256(self.consumer.encode()).hexdigest()[:24] + ".json"


class DeliveryQueue:
    def __init__(self, root: Path, key_file: Path | None = None):
        """`key_file`: the hold key shared by a fleet (default: `<root>/hold.key`, made once)."""
        self.root = _private_dir(root)
        self._aead = AESGCM(self._hold_key(key_file or self.root / "hold.key"))

    # --- Queueing -----------------------------------------------------------------------------

    def enqueue(self, document: bytes, entries: list[Entry]) -> None:
        """Seal the document and write every entry; an entry already queued is left as it is."""
        run_dir = _private_dir(self.root / _safe(entries[0].run_id))
        nonce = secrets.token_bytes(12)
        aad = _AAD + entries[0].run_id.encode()
        if not (run_dir / _SEALED).exists():
            write_private(run_dir / _SEALED, nonce + self._aead.encrypt(nonce, document, aad))
        for entry in entries:
            if not (run_dir / entry.file_name).exists():
                self.save(entry)

    def document(self, run_id: str) -> bytes | None:
        path = self.root / _safe(run_id) / _SEALED
        if not path.exists():
            return None
        sealed = path.read_bytes()
        return self._aead.decrypt(sealed[:12], sealed[12:], _AAD + run_id.encode())

    def save(self, entry: Entry) -> None:
        target = self.root / _safe(entry.run_id) / entry.file_name
        write_private(target, json.dumps(asdict(entry), sort_keys=True).encode())

    # --- Reading ------------------------------------------------------------------------------

    def runs(self) -> list[str]:
        """The runs with deliveries queued, oldest name first."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def entries(self, run_id: str | None = None) -> list[Entry]:
        found = []
        names = self.runs() if run_id is None else [_safe(run_id)]
        for run_dir in (self.root / name for name in names):
            if not run_dir.is_dir():
                continue
            for path in sorted(run_dir.glob("*.json")):
                try:
                    found.append(Entry(**json.loads(path.read_bytes())))
                except (ValueError, TypeError):  # written atomically, so only by hand
                    log.error("delivery entry unreadable, left alone", extra={"file": str(path)})
        return found

    # --- Ending -------------------------------------------------------------------------------

    def destroy_document(self, run_id: str) -> None:
        """Remove the sealed result (the entries stay, to be reported)."""
        path = self.root / _safe(run_id) / _SEALED
        path.unlink(missing_ok=True)

    def forget_run(self, run_id: str) -> None:
        shutil.rmtree(self.root / _safe(run_id), ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, run_id: str) -> Iterator[bool]:
        """Hold the run's deliveries: True if this process got them, False if another holds
        them now (pass over the run; it is retried at the next pass)."""
        run_dir = self.root / _safe(run_id)
        try:
            fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except FileNotFoundError:  # forgotten by another worker meanwhile: nothing to do
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing releases the lock

    def _hold_key(self, path: Path) -> bytes:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            key = path.read_bytes()
            if len(key) != 32:
                raise RuntimeError(f"{path} is damaged (not 32 bytes); move it away.") from None
            return key
        key = secrets.token_bytes(32)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
            out.flush()
            os.fsync(out.fileno())
        return key


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _safe(run_id: str) -> str:
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise ValueError("A run id names one folder.")
    return run_id
