"""Why the key service, or a check of its statements, said no: plain words, never a key."""

from __future__ import annotations


class KeyReleaseError(Exception):
    """Base class; the message is shown to the operator, the worker or the data provider."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ReleaseRefused(KeyReleaseError):
    """The key service refused to release a fleet key to this requester."""


class StatementRefused(KeyReleaseError):
    """A fleet-key statement is malformed, not signed by a trusted key service, or does not
    fit the reader's policy."""


class KeyStoreError(KeyReleaseError):
    """The key service's key file is missing, unsafe or damaged."""
