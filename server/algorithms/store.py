"""Approved-by-digest storage: each bundle kept once, as its canonical zip, named by its digest.

A file name is only a claim: :meth:`BundleStore.get` re-reads and re-checks the bundle every
time and refuses one whose files no longer hash to the digest it is stored under, so a copy
edited on disk can never be handed to the datacage as the approved code. Files are written
whole (temporary file, fsync, atomic rename) and left read-only; the folder is private to the
server's user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
from pathlib import Path

from server.algorithms.build import pack_files
from server.algorithms.bundle import Bundle, read_bundle
from server.algorithms.digest import DIGEST_PREFIX, bundle_digest, check_digest
from server.algorithms.errors import BundleError, BundleNotFound
from server.algorithms.limits import DEFAULT_LIMITS, BundleLimits, MiB

log = logging.getLogger(__name__)

_FOLDER_MODE = 0o700
_FILE_MODE = 0o444


class BundleStore:
    """Content-addressed bundles under ``root``, as ``sha256-<hex>.zip``."""

    def __init__(self, root: Path, *, limits: BundleLimits = DEFAULT_LIMITS):
        self.root = Path(root)
        self.root.mkdir(mode=_FOLDER_MODE, parents=True, exist_ok=True)
        os.chmod(self.root, _FOLDER_MODE)  # mkdir's mode yields to the umask, and skips old folders
        # Our canonical zip of an accepted bundle may come out larger than the upload was (a
        # tar.gz compresses across files); it is still bounded by the unpacked-size limit.
        stored_cap = limits.max_total_bytes + limits.max_members * 1024 + MiB
        self.limits = dataclasses.replace(
            limits, max_archive_bytes=max(limits.max_archive_bytes, stored_cap)
        )

    def path_of(self, digest: str) -> Path:
        """Where the bundle with ``digest`` is (or would be) kept; raises ``InvalidDigest``."""
        hex_digest = check_digest(digest).removeprefix(DIGEST_PREFIX)
        return self.root / f"sha256-{hex_digest}.zip"

    def exists(self, digest: str) -> bool:
        return self.path_of(digest).is_file()

    def put(self, bundle: Bundle) -> Path:
        """Keep ``bundle`` (idempotent) and return its path; raises :class:`BundleError` if its
        files do not hash to its digest."""
        path = self.path_of(bundle.digest)
        if bundle_digest(bundle.files) != bundle.digest:
            raise BundleError([f"The bundle's files do not hash to its digest {bundle.digest}."])
        if path.exists():
            try:
                self.get(bundle.digest)
                return path
            except BundleError:
                log.warning("stored bundle %s was changed on disk; writing it again", path.name)
        self._write(path, pack_files(bundle.files))
        return path

    def get(self, digest: str) -> Bundle:
        """The bundle stored under ``digest``, checked again; raises :class:`BundleNotFound`,
        or :class:`BundleError` if the stored copy no longer matches its digest."""
        path = self.path_of(digest)
        try:
            data = self._read(path)
        except FileNotFoundError:
            raise BundleNotFound(f"No bundle {digest} is stored.") from None
        changed = f"The stored bundle {digest} no longer matches its digest"
        try:
            bundle = read_bundle(data, limits=self.limits)
        except BundleError as error:
            raise BundleError(
                [f"{changed}: it cannot be read any more.", *error.problems]
            ) from None
        if bundle.digest != digest:
            raise BundleError([f"{changed}: its files now hash to {bundle.digest}."])
        return bundle

    def _read(self, path: Path) -> bytes:
        # O_NOFOLLOW: only our own files count, never a link planted in their place.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as stored:
            # One byte past the limit is enough for read_bundle to refuse an oversized file.
            return stored.read(self.limits.max_archive_bytes + 1)

    def _write(self, path: Path, data: bytes) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.root, prefix=".incoming-", suffix=".zip")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, _FILE_MODE)  # read-only before it ever carries its final name
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        self._sync_folder()

    def _sync_folder(self) -> None:
        """Make the rename itself durable (POSIX keeps directory entries in the folder's data)."""
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
