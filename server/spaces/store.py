"""Where spaces live: loading by id, a cache checked against the registry's revision, and the
compare-and-swap write that makes every action atomic.

An action is a function that changes a loaded space. `SpaceStore.change` loads, applies it,
settles approvals and status, and writes back only if nobody wrote in between; if somebody
did, it runs the whole action again on their result (its checks included), so concurrent
edits are neither lost nor half-applied.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from rdflib import URIRef

from ..errors import EditConflict, NotFound, Unavailable
from ..registry import Registry, RegistryConflict, guard
from . import lifecycle
from .model import Space
from .rdf import DamagedRecord, from_graph, space_iri, to_graph

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Spaces kept parsed in memory (each a few kilobytes), least recently used dropped first.
CACHED_SPACES = 512
#: A write that loses the compare-and-swap this many times in a row gives up with a 409.
MAX_ATTEMPTS = 5

_SPACES_OF = """
SELECT DISTINCT ?g WHERE {
  GRAPH ?g {
    ?g a dcg:CollaborationSpace .
    { ?g dcg:participant/dcg:agent ?me }
    UNION
    { ?g dcg:invitation ?i . ?i dcg:invitee ?me ; dcg:status dcg:InvitationPending }
  }
}
"""


class SpaceStore:
    """Spaces in the registry. One per application; safe to share between request threads."""

    def __init__(
        self, registry: Callable[[], Registry], public_url: str, clock: Callable[[], datetime]
    ):
        self._registry = registry
        self.public_url = public_url
        self.clock = clock
        self._cache: OrderedDict[str, Space] = OrderedDict()
        self._cache_lock = threading.Lock()

    def iri_of(self, space_id: str) -> str:
        return space_iri(self.public_url, space_id)

    def of(self, webid: str) -> list[Space]:
        """The spaces `webid` takes part in or is invited to, newest first."""
        rows = self._call(lambda r: r.select(_SPACES_OF, {"me": URIRef(webid)}))
        spaces = [self.load_iri(str(row["g"])) for row in rows]
        return sorted((s for s in spaces if s), key=lambda s: s.created_at, reverse=True)

    def change(self, space_id: str, action: Callable[[Space, datetime], None]) -> Space:
        for _ in range(MAX_ATTEMPTS):
            space = self.load(space_id)
            now = self.clock()
            action(space, now)
            lifecycle.settle(space, now)
            try:
                self.write(space)
                return space
            except RegistryConflict:
                continue  # someone else wrote first: redo the whole action on their result
        raise EditConflict("Others are changing this space right now; please try again.")

    def write(self, space: Space) -> None:
        expected = space.revision
        space.revision = self._call(
            lambda r: r.write(space.iri, to_graph(space), expected_revision=expected)
        )
        self._remember(space)

    def load(self, space_id: str) -> Space:
        if not space_id.isalnum() or len(space_id) > 64:
            raise NotFound("There is no such space.")
        space = self.load_iri(self.iri_of(space_id))
        if space is None:
            raise NotFound("There is no such space.")
        return space

    def load_iri(self, iri: str) -> Space | None:
        """The space as stored now: from the cache when the registry's revision says it is current.

        Reading a revision is one indexed lookup; reading and parsing a space's graph is most
        of the cost of a page. Callers get their own copy, since actions change what they load.
        """
        with self._cache_lock:
            cached = self._cache.get(iri)
        if cached is not None and self._call(lambda r: r.revision(iri)) == cached.revision:
            return copy.deepcopy(cached)
        stored = self._call(lambda r: r.read(iri))
        if stored is None:
            return None
        try:
            space = from_graph(stored.name, stored.graph, stored.revision)
        except DamagedRecord as exc:
            log.error("damaged space record", extra={"space": iri, "reason": str(exc)})
            raise Unavailable(
                "The record of this space cannot be read; an operator must look."
            ) from exc
        self._remember(space)
        return space

    def _remember(self, space: Space) -> None:
        with self._cache_lock:
            self._cache[space.iri] = copy.deepcopy(space)
            self._cache.move_to_end(space.iri)
            while len(self._cache) > CACHED_SPACES:
                self._cache.popitem(last=False)

    def _call(self, operation: Callable[[Registry], T]) -> T:
        return guard.call(self._registry, operation)
