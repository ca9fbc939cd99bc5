"""The digest of a bundle: the identity participants approve and the datacage checks.

The digest is taken over the bundle's *files*, not over the archive bytes, so the same source
tree has the same digest whether it arrives as zip or tar.gz, with any compression level,
timestamps, permissions or member order. The construction (docs/algorithm-bundles.md) is::

    sha256( b"datacage-bundle-v1\\n"
            + for each regular file, sorted by the UTF-8 bytes of its path:
              b"<sha256 hex of content> <byte length> <path>\\n" )

written ``sha256:<hex>``. Paths never contain line breaks (see :mod:`.paths`), so each line
is unambiguous, and the path comes last so spaces in it need no escaping.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from server.algorithms.errors import InvalidDigest
from server.algorithms.paths import path_problem, sort_key

LISTING_HEADER = b"datacage-bundle-v1\n"
DIGEST_PREFIX = "sha256:"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def canonical_listing(files: Mapping[str, bytes]) -> bytes:
    """The bytes the digest hashes: a header line, then one line per file in path order.

    Raises ``ValueError`` for a path no bundle may contain (e.g. not NFC, or with ``..``).
    """
    lines = [LISTING_HEADER]
    for path in sorted(files, key=sort_key):
        problem = path_problem(path)
        if problem is not None:
            raise ValueError(f"{path!r} cannot be part of a bundle: it {problem}")
        content = files[path]
        line = f"{hashlib.sha256(content).hexdigest()} {len(content)} {path}\n"
        lines.append(line.encode("utf-8"))
    return b"".join(lines)


def bundle_digest(files: Mapping[str, bytes]) -> str:
    """``sha256:<hex>`` of :func:`canonical_listing`: the identity of the bundle's content."""
    return DIGEST_PREFIX + hashlib.sha256(canonical_listing(files)).hexdigest()


def check_digest(value: object) -> str:
    """Return ``value`` if it is a well-formed digest, else raise :class:`InvalidDigest`.

    Digests arrive in URLs and forms; they become file names, so nothing else may pass.
    """
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        shown = repr(value)[:80]
        expected = "'sha256:' followed by 64 lowercase hex digits"
        raise InvalidDigest(f"{shown} is not a bundle digest; expected {expected}.")
    return value
