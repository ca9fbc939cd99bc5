"""One party of a match: its own key, fresh for the run, applied to its own and others' values.

A party never hands its key to anyone. It hashes and blinds its own identifiers, and blinds
the already-blinded values other parties pass it; nothing it sees lets it tell which of those
are whose. ``destroy`` zeroes the key's bytes at the end of the run (Python may still hold
copies we cannot reach: docs/datafuse.md says so).
"""

from __future__ import annotations

from collections.abc import Sequence

from datafuse.groups import X25519, Group
from datafuse.parallel import available_cores, parallel_map


class Party:
    def __init__(
        self,
        name: str,
        group: Group = X25519,
        *,
        secret: bytes | None = None,
        workers: int | None = None,
    ) -> None:
        self.name = name
        self.group = group
        self._key = group.new_key(secret)  # secret=None: a fresh random key (the normal case)
        self.workers = workers or available_cores()
        self.multiplications = 0

    def blind_own(self, identifiers: Sequence[str]) -> list[bytes]:
        """Hash each (normalised) identifier to the group and blind it with this party's key."""
        hash_to_element, blind = self.group.hash_to_element, self._key.blind

        def work(chunk: Sequence[str]) -> list[bytes]:
            return blind([hash_to_element(identifier) for identifier in chunk])

        self.multiplications += len(identifiers)
        return parallel_map(work, list(identifiers), self.group.element_size, self.workers)

    def blind(self, elements: Sequence[bytes]) -> list[bytes]:
        """Apply this party's key to values other parties already blinded, order kept."""
        self.multiplications += len(elements)
        return parallel_map(self._key.blind, list(elements), self.group.element_size, self.workers)

    def destroy(self) -> None:
        self._key.destroy()

    def __enter__(self) -> Party:
        return self

    def __exit__(self, *_: object) -> None:
        self.destroy()
