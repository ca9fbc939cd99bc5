"""A small, thread-safe store of recent results by key, the least recently used dropped first.

Keys must name everything a result depends on: nothing here expires or is invalidated; a
changed input is a new key, and the old entry simply ages out.

Bounded by count and, for results whose size varies with what users wrote (a page listing a
space's invitations), by their total length too, so a few huge pages cannot hold the memory
that hundreds of ordinary ones would; a result longer than the whole budget is made and
returned but never kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sized
from typing import Generic, TypeVar

T = TypeVar("T", bound=Sized)


class Kept(Generic[T]):
    def __init__(self, size: int, budget: int | None = None) -> None:
        self.size = size
        self.budget = budget  # the most `len()` of all kept results together, if bounded
        self.held = 0
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        """The result kept under `key`, or `make()`'s, kept (made outside the lock: two
        threads may both make it, and both results are the same)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        made = make()
        if self.budget is not None and len(made) > self.budget:
            return made
        with self._lock:
            replaced = self._items.pop(key, None)
            if replaced is not None:
                self.held -= len(replaced)
            self._items[key] = made
            self.held += len(made)
            while len(self._items) > self.size or (
                self.budget is not None and self.held > self.budget
            ):
                _, dropped = self._items.popitem(last=False)
                self.held -= len(dropped)
        return made

    def __len__(self) -> int:
        return len(self._items)


V = TypeVar("V")


class Latest(Generic[V]):
    """The last value read for each key, with the stamp it was read under: handed out only to
    a caller holding the same stamp (anything else is read again). The least recently used
    key goes first. Thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[Hashable, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, stamp: Hashable) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] != stamp:
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, stamp: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = (stamp, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
