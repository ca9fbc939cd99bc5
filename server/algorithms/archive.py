"""Unpacking an uploaded bundle archive (zip or tar.gz) in memory, without trusting it.

The format is recognised by its first bytes, never by a file name. Nothing is written to disk
and no size an archive declares is believed: every byte is counted as it is decompressed, so a
zip bomb stops at the limit instead of filling memory. Only regular files and folders are
accepted; links, devices and odd names are refused because whoever unpacks the bundle later
(a person, ``unzip``, the datacage) could be tricked by them into writing outside the bundle.
"""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import IO

from server.algorithms.errors import BundleError
from server.algorithms.limits import DEFAULT_LIMITS, BundleLimits, describe_size
from server.algorithms.paths import MANIFEST_PATH, collision_key, path_problem

_CHUNK = 64 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # first local header, or the end record of an empty zip
_GZIP_MAGIC = b"\x1f\x8b"
# A tar stream is more than its files: a 512-byte header per member, padding to 512 bytes, maybe
# a long-name or pax header, and end-of-archive blocks. This is what we allow on top of the files.
_TAR_BYTES_PER_MEMBER = 2048
_TAR_END_BYTES = 20480


@dataclass(frozen=True)
class _Member:
    name: str  # as written in the archive
    kind: str  # "file", "dir", or one of the refused kinds in _REFUSED
    open: Callable[[], IO[bytes] | None]
    declared_size: int


_REFUSED = {
    "symlink": "is a symbolic link",
    "hardlink": "is a hard link",
    "device": "is a device file",
    "fifo": "is a named pipe (FIFO)",
    "socket": "is a socket",
    "sparse": "is a sparse file",
    "other": "is not a regular file or folder",
}


def unpack(data: bytes, limits: BundleLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """The regular files of a zip or tar.gz bundle, by path; raises :class:`BundleError`.

    Paths are NFC, relative and ``/``-separated; a leading ``./`` is dropped, and so is a single
    top-level folder holding everything when there is no manifest at the root (what zipping a
    folder produces). Empty folders are not kept.
    """
    if len(data) > limits.max_archive_bytes:
        raise BundleError(
            [
                f"The archive is {describe_size(len(data))}; "
                f"the limit is {describe_size(limits.max_archive_bytes)} compressed."
            ]
        )
    if data.startswith(_ZIP_MAGIC):
        kind, members = "zip", _zip_members(data)
    elif data.startswith(_GZIP_MAGIC):
        kind, members = "tar.gz", _tar_members(_gunzip(data, limits))
    else:
        raise BundleError([_not_an_archive(data)])
    unpacker = _Unpacker(limits)
    try:
        for member in members:
            unpacker.add(member)
    except BundleError:
        raise
    except Exception as error:
        # Hostile bytes make zipfile and tarfile fail in many ways (BadZipFile, ReadError,
        # EOFError, zlib.error, struct.error, NotImplementedError...); all mean "damaged".
        where = f" at member {unpacker.current!r}" if unpacker.current else ""
        damaged = f"The {kind} archive is damaged or truncated{where} ({error})."
        raise BundleError([*unpacker.problems, damaged]) from None
    return unpacker.finish()


def _not_an_archive(data: bytes) -> str:
    if not data:
        return "The upload is empty; expected a zip or tar.gz archive."
    if data[257:262] == b"ustar":
        return "The upload is an uncompressed tar archive; compress it with gzip or upload a zip."
    return "The upload is not a zip or tar.gz archive (it starts with neither format's bytes)."


# --- The two formats, as one stream of members --------------------------------------------------


def _zip_members(data: bytes) -> Iterator[_Member]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            # orig_filename: zipfile cuts `filename` at a NUL, which would hide the trick.
            kind, opener = _zip_kind(info), partial(archive.open, info)
            yield _Member(info.orig_filename, kind, opener, info.file_size)


def _zip_kind(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x1:
        return "encrypted"
    mode = info.external_attr >> 16  # Unix st_mode, when the creator recorded one
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if info.is_dir():
        return "dir"
    return "file" if stat.S_IFMT(mode) in (0, stat.S_IFREG) else "other"


def _gunzip(data: bytes, limits: BundleLimits) -> bytes:
    """The tar inside a gzip stream, refusing to decompress past what the limits allow."""
    cap = limits.max_total_bytes + limits.max_members * _TAR_BYTES_PER_MEMBER + _TAR_END_BYTES
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            tar = stream.read(cap + 1)
    except Exception as error:  # BadGzipFile, EOFError, zlib.error...: all mean "damaged"
        raise BundleError([f"The gzip stream is damaged or truncated ({error})."]) from None
    if len(tar) > cap:
        limit = describe_size(limits.max_total_bytes)
        too_big = f"The archive unpacks to more than {limit}, the limit; reading stopped."
        raise BundleError([too_big])
    if tar[257:262] != b"ustar":  # the magic of POSIX and GNU tar headers
        raise BundleError(["The upload is gzip-compressed but holds no tar archive."])
    return tar


def _tar_members(tar: bytes) -> Iterator[_Member]:
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        for info in archive:
            yield _Member(info.name, _tar_kind(info), partial(archive.extractfile, info), info.size)


def _tar_kind(info: tarfile.TarInfo) -> str:
    kinds = [
        (info.issparse, "sparse"),
        (info.isreg, "file"),
        (info.isdir, "dir"),
        (info.issym, "symlink"),
        (info.islnk, "hardlink"),
        (info.ischr, "device"),
        (info.isblk, "device"),
        (info.isfifo, "fifo"),
    ]
    return next((kind for test, kind in kinds if test()), "other")


# --- Checking and reading each member -----------------------------------------------------------


class _Unpacker:
    def __init__(self, limits: BundleLimits):
        self.limits = limits
        self.problems: list[str] = []
        self.files: dict[str, bytes] = {}
        self.folders: list[str] = []  # explicit folder entries, for the top-folder rule
        self.seen: dict[str, str] = {}  # collision key of each file -> its name in the archive
        self.folder_keys: set[str] = set()  # collision keys of folders, explicit or implied
        self.members = 0
        self.total = 0
        self.current = ""

    def add(self, member: _Member) -> None:
        self.current = member.name
        self.members += 1
        if self.members > self.limits.max_members:
            too_many = (
                f"The archive has more than {self.limits.max_members} members "
                "(files and folders), the limit."
            )
            raise BundleError([*self.problems, too_many])
        path = _clean(member.name, member.kind)
        if path == "" and member.kind == "dir":
            return  # the archive's root folder, "./"
        problems = [path_problem(path)]
        if member.kind == "encrypted":
            problems.append("is encrypted; bundles must not be password-protected")
        elif member.kind in _REFUSED:
            problems.append(
                f"{_REFUSED[member.kind]}; a bundle may only hold regular files and folders"
            )
        problems = [problem for problem in problems if problem]
        if problems:
            self.problems.extend(f"Archive member {member.name!r} {p}." for p in problems)
        elif member.kind == "dir":
            self.folders.append(path)
            self._add_folder_keys(path)
        elif self._unique(path, member.name):
            content = self._read(member, path)
            if content is not None:
                self.files[path] = content
                self._add_folder_keys(path.rpartition("/")[0])

    def finish(self) -> dict[str, bytes]:
        for key, name in self.seen.items():
            if key in self.folder_keys:
                self.problems.append(f"{name!r} is both a file and a folder in the archive.")
        if self.problems:
            raise BundleError(self.problems)
        return _strip_single_top_folder(self.files, self.folders)

    def _unique(self, path: str, name: str) -> bool:
        key = collision_key(path)
        first = self.seen.get(key)
        if first is None:
            self.seen[key] = name
            return True
        if first == name:
            self.problems.append(f"Archive member {name!r} appears more than once.")
        else:
            self.problems.append(
                f"Archive members {first!r} and {name!r} differ only in letter case or Unicode "
                "form, so one would overwrite the other on case-insensitive file systems."
            )
        return False

    def _add_folder_keys(self, folder: str) -> None:
        while folder:
            self.folder_keys.add(collision_key(folder))
            folder = folder.rpartition("/")[0]

    def _read(self, member: _Member, path: str) -> bytes | None:
        per_file = self.limits.max_file_bytes
        too_big = f"{path!r} is larger than {describe_size(per_file)}, the limit for one file."
        if member.declared_size > per_file:  # a cheap early no; a small claim proves nothing
            self.problems.append(too_big)
            return None
        remaining = self.limits.max_total_bytes - self.total
        cap = min(per_file, remaining)
        stream = member.open()
        if stream is None:
            raise ValueError("the member has no data")
        with stream:
            content = _read_at_most(stream, cap)
        self.total += len(content)
        if len(content) <= cap:
            return content
        if cap == remaining:
            limit = describe_size(self.limits.max_total_bytes)
            total = f"The archive unpacks to more than {limit}, the limit; reading stopped"
            raise BundleError([*self.problems, f"{total} at {path!r}."])
        self.problems.append(too_big)
        return None


def _clean(name: str, kind: str) -> str:
    """The path a member will have in the bundle: NFC, without leading ``./`` (or trailing ``/``
    for a folder). Everything else is left for :func:`path_problem` to judge."""
    while name.startswith("./"):
        name = name[2:]
    if kind == "dir":
        name = name.rstrip("/")
        if name == ".":
            name = ""
    return unicodedata.normalize("NFC", name)


def _read_at_most(stream: IO[bytes], cap: int) -> bytes:
    """Up to ``cap + 1`` bytes of ``stream``: one more than allowed means "too big"."""
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = stream.read(min(_CHUNK, cap + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _strip_single_top_folder(files: dict[str, bytes], folders: list[str]) -> dict[str, bytes]:
    if MANIFEST_PATH in files or not files or any("/" not in path for path in files):
        return files
    tops = {path.split("/", 1)[0] for path in [*files, *folders]}
    if len(tops) != 1:
        return files
    return {path.split("/", 1)[1]: content for path, content in files.items()}
