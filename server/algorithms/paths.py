"""Which paths may name a file inside a bundle.

A bundle is unpacked on machines we do not control, so a path must mean the same file
everywhere: relative, ``/``-separated, no ``..``, nothing a terminal or a file system would
reinterpret. Paths are compared after NFC normalisation and case folding because macOS and
Windows file systems treat ``README.md`` and ``readme.md`` (or NFC and NFD spellings of
``é``) as one file, and two members landing on one file would let one silently replace the
other.
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls, DEL and C1 controls: NUL truncates names in C, newlines forge listing lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"[A-Za-z]:")
MAX_PATH_BYTES = 1024
MANIFEST_PATH = "manifest.toml"


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name a file in a bundle (the end of a sentence), or None if it can.

    ``path`` is the name as it will be stored: a leading ``./`` already removed.
    """
    if not path:
        return "has an empty name"
    if _CONTROL.search(path):
        return "contains a control character (such as NUL or a line break)"
    if "\\" in path:
        return "contains a backslash; use '/' between folders"
    if path.startswith("/") or _DRIVE.match(path):
        return "is an absolute path; use paths relative to the bundle root"
    segments = path.split("/")
    if ".." in segments:
        return "climbs out of the bundle with '..'"
    if any(segment in ("", ".") for segment in segments):
        return "has an empty or '.' folder name"
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if len(encoded) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    if unicodedata.normalize("NFC", path) != path:
        return "is not in Unicode NFC form"
    return None


def collision_key(path: str) -> str:
    """The key under which two paths would land on the same file on a case-insensitive disk."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def sort_key(path: str) -> bytes:
    """Bundle order: by the path's UTF-8 bytes, which is what ``LC_ALL=C sort`` does."""
    return path.encode("utf-8")
