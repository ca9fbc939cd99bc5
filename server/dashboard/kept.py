"""A small, thread-safe store of recent results by key, the least recently used dropped first.

Keys must name everything a result depends on: nothing here expires or is invalidated; a
changed input is a new key, and the old entry simply ages out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Kept(Generic[T]):
    def __init__(self, size: int) -> None:
        self.size = size
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
        with self._lock:
            self._items[key] = made
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return made

    def __len__(self) -> int:
        return len(self._items)
