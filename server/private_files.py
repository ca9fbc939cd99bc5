"""Writing a private file whole: mode 0600 from its first byte, never seen half-written, and
still there after a crash once the call returns (the file and its folder are synced).

Shared by the key service's key file and the datacage's sealed delivery queue, which may not
import each other (docs/architecture.md).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private(target: Path, data: bytes) -> None:
    """Replace `target` with `data` atomically, as a 0600 file."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)
