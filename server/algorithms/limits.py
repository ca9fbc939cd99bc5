"""How much of an uploaded bundle we are willing to look at."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class BundleLimits:
    """Limits on an upload, in bytes or archive members; each is checked by counting, not by
    believing what the archive declares."""

    max_archive_bytes: int = 10 * MiB
    max_members: int = 1000
    max_total_bytes: int = 50 * MiB
    max_file_bytes: int = 20 * MiB
    # Parsing costs far more than unpacking (an AST or an RDF graph takes many times its
    # source's size in memory), so the files we parse get limits of their own.
    max_python_bytes: int = 8 * MiB
    max_shape_bytes: int = 256 * 1024
    # Checking a shapes graph against SHACL-for-SHACL costs pySHACL 2-4 ms per triple, so a
    # bigger graph would tie a worker up for seconds; a detailed output model needs a few hundred.
    max_shape_triples: int = 1000


DEFAULT_LIMITS = BundleLimits()


def describe_size(size: int) -> str:
    """``10 MiB``, ``1.5 MiB`` or ``512 bytes``, for messages."""
    if size < MiB:
        return f"{size} bytes"
    return f"{size // MiB} MiB" if size % MiB == 0 else f"{size / MiB:.1f} MiB"
