"""Reading a bundle: unpack it safely, then check that its manifest tells the truth.

One call, :func:`read_bundle`, does everything; it either returns a :class:`Bundle` whose
digest is the identity participants approve, or raises one :class:`BundleError` listing every
problem found. An archive that is unsafe to unpack is not looked into any further.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rdflib import Graph

from server.algorithms.archive import unpack
from server.algorithms.digest import bundle_digest
from server.algorithms.errors import BundleError
from server.algorithms.limits import DEFAULT_LIMITS, BundleLimits
from server.algorithms.manifest import Manifest, ManifestReading, read_manifest
from server.algorithms.paths import MANIFEST_PATH, sort_key
from server.algorithms.shape import check_shape, parse_shape
from server.algorithms.source import check_entry_point, check_python


@dataclass(frozen=True)
class Bundle:
    """A checked algorithm bundle. Make one with :func:`read_bundle`, never by hand.

    Two bundles are equal when their digests are: the digest covers every file.
    """

    digest: str
    manifest: Manifest = field(compare=False)
    files: Mapping[str, bytes] = field(compare=False, repr=False)

    @property
    def output_shape(self) -> Graph:
        """The output shape, parsed afresh on each access so no caller can alter the bundle's."""
        path = self.manifest.output_shape
        return parse_shape(path, self.files[path])


def read_bundle(data: bytes, *, limits: BundleLimits = DEFAULT_LIMITS) -> Bundle:
    """Check the zip or tar.gz archive ``data`` as a bundle; raises :class:`BundleError`."""
    return _check(unpack(data, limits), limits)


def _check(files: Mapping[str, bytes], limits: BundleLimits) -> Bundle:
    problems: list[str] = []
    manifest_data = files.get(MANIFEST_PATH)
    if manifest_data is None:
        problems.append(_missing_manifest(files))
        reading = ManifestReading(None, None, None, ())
    else:
        reading = read_manifest(manifest_data)
        problems.extend(reading.problems)
    modules, python_problems = check_python(files, limits)
    problems.extend(python_problems)
    if reading.entry_point is not None:
        problems.extend(check_entry_point(reading.entry_point, files, modules))
    if reading.output_shape is not None:
        problems.extend(check_shape(files, reading.output_shape, limits))
    if problems or reading.manifest is None:
        raise BundleError(problems)
    ordered = {path: files[path] for path in sorted(files, key=sort_key)}
    return Bundle(bundle_digest(ordered), reading.manifest, MappingProxyType(ordered))


def _missing_manifest(files: Mapping[str, bytes]) -> str:
    message = f"The bundle has no {MANIFEST_PATH} at its root"
    elsewhere = sorted(p for p in files if p.rpartition("/")[2].casefold() == MANIFEST_PATH)
    if elsewhere:
        message += (
            f" (there is {elsewhere[0]!r}: put it at the top of the archive, "
            f"named exactly {MANIFEST_PATH})"
        )
    return message + "."
