"""What a client has read already, while the caller says the reads may be shared.

A person's answer to a consent page needs their WebID profile, their pod's root and each
resource's description (`HEAD`: type, `Link rel="acl"`) several times over: finding the storage,
checking what was shown, writing each grant. Reading each once is the caller's promise that
these do not need to be fresh *within* the block (`SolidClient.reads_once`); between blocks,
and so between two requests to the control plane, everything is read again: a profile or a pod
can change between the consent page and the Accept, and the Accept must see that.

Entries are kept per signed-in WebID and per URL. A write through the same client forgets what
it may have changed (the URL, what is under it when it is a container). A read that failed is
not kept: it is tried again, as it would have been without the memo.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urldefrag

T = TypeVar("T")


class ReadMemo:
    """Values read during one block, by (kind of read, signed-in WebID, URL)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str, str], Any] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def once(self, kind: str, who: str, url: str, read: Callable[[], T]) -> T:
        key = (kind, who, url)
        if key not in self._kept:
            self._kept[key] = read()
        return self._kept[key]

    def keep(self, kind: str, who: str, url: str, value: object) -> None:
        """Keep what another read learnt on the way (a GET's headers stand for its HEAD)."""
        self._kept[(kind, who, url)] = value

    def forget(self, written: str) -> None:
        """Drop what a write to `written` may have changed."""
        document = urldefrag(written)[0]
        for key in [k for k in self._kept if _affected(urldefrag(k[2])[0], document)]:
            del self._kept[key]


def _affected(url: str, written: str) -> bool:
    if url == written:
        return True
    # A container's write or deletion may change every resource under it.
    return written.endswith("/") and url.startswith(written)
