"""Algorithm bundles: what a code provider uploads and every participant approves by digest.

A bundle is a zip or tar.gz of Python source with a ``manifest.toml`` and a SHACL output shape.
:func:`read_bundle` treats an upload as hostile until it has been unpacked within limits and its
manifest shown to tell the truth about the code and the shape; the :class:`Bundle` it returns
carries the digest (:func:`bundle_digest`) that approvals name and the datacage checks.
:class:`BundleStore` keeps bundles by digest and checks them again on every read.
The format and the digest are specified in docs/algorithm-bundles.md.
"""

from server.algorithms.archive import unpack
from server.algorithms.build import build_bundle, collect_files, pack_files
from server.algorithms.bundle import Bundle, read_bundle
from server.algorithms.digest import bundle_digest, canonical_listing, check_digest
from server.algorithms.errors import BundleError, BundleNotFound, InvalidDigest
from server.algorithms.limits import DEFAULT_LIMITS, BundleLimits
from server.algorithms.manifest import Manifest, Parameter, parse_manifest
from server.algorithms.store import BundleStore

__all__ = [
    "DEFAULT_LIMITS",
    "Bundle",
    "BundleError",
    "BundleLimits",
    "BundleNotFound",
    "BundleStore",
    "InvalidDigest",
    "Manifest",
    "Parameter",
    "build_bundle",
    "bundle_digest",
    "canonical_listing",
    "check_digest",
    "collect_files",
    "pack_files",
    "parse_manifest",
    "read_bundle",
    "unpack",
]
