"""The `file` connector: a dataset envelope in a local or mounted folder.

The provider copies the envelope into `folder` under `name`; the datacage's read grant is the
file's absolute path, so the folder must be mounted (read-only is enough) where the datacage
runs. Nothing here needs an SDK.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from ..base import Connector, ConnectorError, Progress, Stored
from ..registry import register

_COPY_CHUNK = 1 << 20


#: Where the datacage may read pushed files: absolute folders, separated by ':'.
ROOTS_VARIABLE = "DATACAGE_PUSH_FILE_ROOTS"


def read_roots() -> list[str]:
    """The configured folders, real paths; a grant's file must be in one of them."""
    found = os.environ.get(ROOTS_VARIABLE, "")
    return [os.path.realpath(r) for r in found.split(os.pathsep) if os.path.isabs(r)]


@register
class FileConnector(Connector):
    type = "file"
    title = "A local or mounted folder"

    @classmethod
    def configuration_schema(cls) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "folder": {"type": "string", "title": "Folder the datacage can read"},
                "name": {"type": "string", "title": "File name of the envelope"},
            },
            "required": ["folder", "name"],
            "secret": [],
        }

    @property
    def target(self) -> Path:
        name = self.configuration["name"]
        if "/" in name or name in (".", ".."):
            raise ConnectorError(f"The file name {name[:80]!r} must not contain '/'.")
        return Path(self.configuration["folder"]).absolute() / name

    def test_connection(self) -> None:
        folder = Path(self.configuration["folder"])
        if not folder.is_dir():
            raise ConnectorError(f"The folder {folder} does not exist.")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ConnectorError(f"The folder {folder} cannot be written to by this user.")

    def upload(self, source: Path, progress: Progress | None = None) -> Stored:
        self.test_connection()
        target = self.target
        partial = target.with_name(f".{target.name}.partial")
        # Written beside, then renamed: a reader never sees half an envelope.
        with open(source, "rb") as src, open(partial, "wb") as out:
            while block := src.read(_COPY_CHUNK):
                out.write(block)
                if progress:
                    progress(len(block))
        os.replace(partial, target)
        return Stored(str(target), target.stat().st_size)

    def read_grant(self, stored: Stored, lifetime: timedelta, now: datetime) -> dict[str, str]:
        return {"path": stored.location}

    @classmethod
    @contextmanager
    def open_grant(
        cls, grant: Mapping[str, str], *, timeout: float = 30.0, solid_client: Any = None
    ) -> Iterator[tuple[BinaryIO, int | None]]:
        path = grant.get("path")
        if not isinstance(path, str) or not os.path.isabs(path):
            raise ConnectorError("The file read grant has no absolute path.")
        roots = read_roots()
        if not roots:
            raise ConnectorError(
                f"This datacage reads pushed files from no folder ({ROOTS_VARIABLE} is not set)."
            )
        try:
            stream = open(path, "rb")  # noqa: SIM115  (closed below, after the caller's block)
        except FileNotFoundError:
            raise ConnectorError(f"There is no file at {path} (is the folder mounted?).") from None
        except OSError as exc:
            raise ConnectorError(f"The file {path} cannot be read: {exc.strerror}.") from None
        # Checked on the file opened (its real path, symlinks resolved), not the name given:
        # nothing can be swapped in between.
        opened = os.readlink(f"/proc/self/fd/{stream.fileno()}")
        if not any(os.path.commonpath([opened, root]) == root for root in roots):
            stream.close()
            raise ConnectorError(
                f"{path} is outside the folders this datacage reads pushed files from."
            )
        with stream:
            yield stream, os.fstat(stream.fileno()).st_size
