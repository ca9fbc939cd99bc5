"""Building a bundle archive from a source tree, byte for byte reproducibly.

The digest does not depend on the archive's bytes, but a reproducible archive still matters:
the store keeps exactly this form, and a code provider can rebuild it and compare. Members are
sorted by path, dated 1980-01-01 (the earliest date zip can hold), mode 0644, deflated at a
fixed level, and carry no folder entries or extra fields. The bytes can only change with the
zlib library itself.
"""

from __future__ import annotations

import io
import os
import stat
import unicodedata
import zipfile
from collections.abc import Mapping
from pathlib import Path

from server.algorithms.errors import BundleError
from server.algorithms.paths import collision_key, path_problem, sort_key

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_COMPRESSLEVEL = 9
# Left out of a bundle built from a source tree: caches and the editor's and VCS's files.
_SKIPPED_FOLDERS = frozenset({"__pycache__"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_NO_LINKS = "a bundle cannot hold links"


def build_bundle(directory: Path) -> bytes:
    """A deterministic zip of the bundle source tree at ``directory``.

    Hidden files and folders (``.git``, ``.venv``...), ``__pycache__`` and compiled Python are
    skipped. Symbolic links and other non-regular files raise :class:`BundleError`, since a
    bundle cannot hold them. The result is not checked: pass it to ``read_bundle`` for that.
    """
    return pack_files(collect_files(directory))


def collect_files(directory: Path) -> dict[str, bytes]:
    """The files :func:`build_bundle` would pack, by bundle path (NFC, ``/``-separated)."""
    root = Path(directory)
    if not root.is_dir():
        raise BundleError([f"{root} is not a folder."])
    files: dict[str, bytes] = {}
    seen: dict[str, Path] = {}  # collision key -> the file that has it
    problems: list[str] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not _skipped(name, folder=True))
        for name in subfolders:  # os.walk lists linked folders without entering them
            if Path(folder, name).is_symlink():
                problems.append(f"{Path(folder, name)} is a symbolic link; {_NO_LINKS}.")
        for name in sorted(name for name in names if not _skipped(name, folder=False)):
            source = Path(folder, name)
            path = unicodedata.normalize("NFC", source.relative_to(root).as_posix())
            problem = path_problem(path) or _kind_problem(source)
            first = seen.setdefault(collision_key(path), source)
            if first != source:
                problem = f"differs from {first} only in letter case or Unicode form"
            if problem:
                problems.append(f"{source} {problem}.")
            else:
                files[path] = source.read_bytes()
    if problems:
        raise BundleError(problems)
    return files


def pack_files(files: Mapping[str, bytes]) -> bytes:
    """The canonical zip of ``files`` (path -> content): same files, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(files, key=sort_key):
            info = zipfile.ZipInfo(path, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so that the mode below is read as one
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path], compresslevel=_COMPRESSLEVEL)
    return buffer.getvalue()


def _skipped(name: str, *, folder: bool) -> bool:
    if name.startswith("."):
        return True
    return name in _SKIPPED_FOLDERS if folder else name.endswith(_SKIPPED_SUFFIXES)


def _kind_problem(source: Path) -> str | None:
    if source.is_symlink():
        return f"is a symbolic link; {_NO_LINKS}"
    return None if source.is_file() else "is not a regular file; a bundle holds only files"
