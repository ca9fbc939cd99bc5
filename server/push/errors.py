"""Why a push or the datacage's reading of a pushed dataset stopped, one class per reason.

Messages are plain words that name the dataset and digests, never key material or contents:
they are shown on the provider's terminal and in a run's problems.
"""

from __future__ import annotations


class PushError(Exception):
    """Base class: the dataset was not pushed, or cannot be opened; nothing was kept."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class EnvelopeDamaged(PushError):
    """The ciphertext was changed, cut short, extended or reordered (an AEAD tag failed)."""


class NotForThisContext(PushError):
    """The envelope was made for another space or dataset name than the one it is read as."""


class EnclaveKeyGone(PushError):
    """The envelope was sealed to a datacage key this datacage does not hold (a restart)."""


class EvidenceRefused(PushError):
    """The datacage's evidence did not verify against the provider's trust policy."""


class SchemaMismatch(PushError):
    """The decrypted table does not match its declared schema; the message names row and column."""


class UnreadableData(PushError):
    """The decrypted data is not valid in its declared format (a graph that does not parse)."""
