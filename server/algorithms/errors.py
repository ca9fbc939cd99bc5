"""Errors of the algorithm bundle checks.

A bundle comes from outside and may be broken in many ways at once; a code provider fixing it
should see every problem in one go, so the checks collect sentences and raise a single
:class:`BundleError` at the end of a stage instead of stopping at the first one.
"""

from __future__ import annotations

from collections.abc import Iterable


class BundleError(ValueError):
    """A bundle (or a source tree, or a stored copy) cannot be used; ``problems`` says why.

    Each problem is a sentence a code provider can act on, naming the file or manifest field.
    """

    def __init__(self, problems: Iterable[str]):
        self.problems: list[str] = list(problems)
        if not self.problems:
            raise ValueError("a BundleError needs at least one problem")
        super().__init__("\n".join(self.problems))


class InvalidDigest(ValueError):
    """A string that should name a bundle is not of the form ``sha256:<64 lowercase hex>``."""


class BundleNotFound(LookupError):
    """The store holds no bundle with this digest."""
