"""The few Python packages an algorithm may import besides the standard library: the SDK's.

The code provider's SDK (``datacage_sdk``), the matching library (``datafuse``), our
vocabularies (``vocab``) and what they need (rdflib and pyparsing, ``cryptography`` with its
``_cffi_backend``) are bound read-only at :data:`SDK_PATH`, each package on its own, found
where this server imports them from. Nothing else of the server's environment is reachable:
not Flask, not ``server``, not the rest of site-packages, which stays masked. The shared
libraries their extension modules link to are bound like the interpreter's (found with ldd).
``rbcl`` (datafuse's optional ristretto255) is not bound: it writes libsodium to a temporary
file at import and loads it from there; inside, X25519 is the group.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .interpreter import _linked_libraries

#: Inside the sandbox; the bootstrap puts it on ``sys.path`` after /bundle.
SDK_PATH = "/usr/lib/datacage/python"
SDK_PACKAGES = (
    "datacage_sdk",
    "datafuse",
    "vocab",
    "rdflib",
    "pyparsing",
    "cryptography",
    "_cffi_backend",
    # datafuse's differential-privacy noise: OpenDP (its Rust core, loaded with ctypes) and
    # the two pure-Python packages it imports.
    "opendp",
    "deprecated",
    "wrapt",
)
# Distributions whose metadata is read at import (rdflib reads its own version): their
# .dist-info folders are bound beside the packages.
SDK_DISTRIBUTIONS = ("rdflib", "pyparsing", "cryptography", "opendp")


@dataclass(frozen=True)
class Library:
    source: Path  # a package folder, or a single module file (an extension module)
    target: str  # inside the sandbox

    @property
    def is_dir(self) -> bool:
        return self.source.is_dir()


@dataclass(frozen=True)
class SdkLibraries:
    packages: tuple[Library, ...]
    linked_folders: tuple[Path, ...]  # folders of the shared libraries they link to


@lru_cache(maxsize=1)
def sdk_libraries() -> SdkLibraries:
    packages = []
    for name in SDK_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(
                f"The SDK package {name!r} is not installed; the sandbox cannot bind it."
            )
        origin = Path(spec.origin).resolve()
        source = origin.parent if spec.submodule_search_locations else origin
        packages.append(Library(source, f"{SDK_PATH}/{source.name}"))
    for name in SDK_DISTRIBUTIONS:
        info = _dist_info(name)
        packages.append(Library(info, f"{SDK_PATH}/{info.name}"))
    extensions = sorted(
        path for library in packages if library.is_dir for path in library.source.rglob("*.so")
    ) + [library.source for library in packages if not library.is_dir]
    _, folders = _linked_libraries(extensions) if extensions else (set(), set())
    return SdkLibraries(tuple(packages), tuple(sorted(folders)))


def _dist_info(name: str) -> Path:
    try:
        distribution = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"The SDK dependency {name!r} is not installed.") from None
    metadata = next(f for f in distribution.files or () if f.name == "METADATA")
    return Path(str(distribution.locate_file(metadata))).resolve().parent
