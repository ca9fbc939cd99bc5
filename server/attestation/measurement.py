"""What the evidence says is running: the datacage's own code and the algorithm bundle.

The code measurement is a digest over the Python source of the packages the datacage runs
(`server`, `connectors`, `vocab`), built like a bundle digest (see server/algorithms/digest.py)
but under its own header so a code listing can never be mistaken for a bundle listing::

    sha256( b"datacage-code-v1\\n" + for each .py file, sorted by path:
            b"<sha256 hex of content> <byte length> <package>/<path>\\n" )

Hardware providers measure the launched image themselves; this software measurement is what the
software stand-in reports and what an operator compares with a release (`datacage verify`).
Package data (templates, `.ttl`, `.cjs`) is not part of it: it is not executed by the datacage.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from server.algorithms.digest import LISTING_HEADER, canonical_listing

CODE_LISTING_HEADER = b"datacage-code-v1\n"
MEASURED_PACKAGES = ("server", "connectors", "vocab")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def is_digest(value: object) -> bool:
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


@dataclass(frozen=True)
class Measurement:
    """The pair a pod provider approves: this datacage code running this bundle."""

    datacage_code: str
    bundle_digest: str

    def __post_init__(self) -> None:
        for name in ("datacage_code", "bundle_digest"):
            value = getattr(self, name)
            if not is_digest(value):
                raise ValueError(
                    f"{name} must be 'sha256:' followed by 64 lowercase hex digits, "
                    f"not {str(value)[:80]!r}."
                )

    def to_json(self) -> dict[str, str]:
        return {"datacage_code": self.datacage_code, "bundle_digest": self.bundle_digest}


def code_listing(files: dict[str, bytes]) -> bytes:
    """The bytes the code measurement hashes (the bundle listing's lines, our own header)."""
    return CODE_LISTING_HEADER + canonical_listing(files)[len(LISTING_HEADER) :]


def code_digest(files: dict[str, bytes]) -> str:
    return "sha256:" + hashlib.sha256(code_listing(files)).hexdigest()


def datacage_source_files(packages: tuple[str, ...] = MEASURED_PACKAGES) -> dict[str, bytes]:
    """`{"server/cli.py": b"...", ...}`: the .py files of the installed packages."""
    files: dict[str, bytes] = {}
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"The package {package!r} is not installed; cannot measure it.")
        for location in spec.submodule_search_locations:
            root = Path(location)
            for path in sorted(root.rglob("*.py")):
                if "__pycache__" in path.parts or not path.is_file():
                    continue
                files[f"{package}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    return files


@functools.cache
def measure_datacage_code() -> str:
    """`sha256:<hex>` of this process's datacage code, computed once per process.

    Once per process, because that is the code that was loaded: files changed on disk later do
    not change what runs.
    """
    return code_digest(datacage_source_files())
