"""What a space's overview page reads: the space, its pushed datasets and its consent counts,
kept under the same stamp as the dashboard's, so a view costs two indexed lookups.

The overview is the page every participant lands on, so it is the one viewed most: without
keeping, each view read the space's revision, loaded and copied the space, read and parsed its
datasets graph and the tally's version (four round trips to a SPARQL store), then rendered
every form on the page. Now a view reads the stamp (`stamp.page_stamp`: the space's and the
datasets graph's revisions and write tokens, one query) and the tally's version (the consent
store keeps the counters under it); the space and its datasets are read again only when their
part of the stamp moved. The rendered page body is kept too (`pages`), under a key the view
builds from the stamp, the viewer and the counts (`web/spaces.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from ..consent.model import ConsentState
from ..consent.store import ConsentStore
from ..push.records import PushedDataset
from ..push.service import PushService
from ..registry import Registry, guard
from ..spaces import permissions
from ..spaces.actions import Spaces
from ..spaces.model import Space
from . import stamp as stamps
from .kept import Kept, Latest

#: Spaces whose record and datasets a process keeps (the least recently viewed go first).
KEPT_SPACES = 256
#: Rendered overview bodies a process keeps: one per space, viewer and counts (~15 kB each),
#: and at most this many characters of them together (a space with thousands of invitations
#: has a long page).
KEPT_PAGES = 256
KEPT_PAGES_CHARACTERS = 16_000_000

#: What names the overview's reads: the space's graph and its datasets graph, each by its
#: (write token, revision).
Version = tuple[tuple[str | None, str | None], tuple[str | None, str | None]]


@dataclass(frozen=True)
class Seen:
    """The space and its datasets as of `version` (or later), or afresh when it is None."""

    version: Version | None
    space: Space
    datasets: list[PushedDataset]


class Overview:
    def __init__(
        self,
        registry: Callable[[], Registry],
        spaces: Spaces,
        consents: ConsentStore,
        push: PushService,
    ):
        self._registry = registry
        self.spaces, self.consents, self.push = spaces, consents, push
        self._kept: Latest[Seen] = Latest(KEPT_SPACES)
        #: The page body by everything it depends on (`web.spaces.overview`).
        self.pages: Kept[Markup] = Kept(KEPT_PAGES, budget=KEPT_PAGES_CHARACTERS)

    def seen(self, space_id: str, actor: str | None) -> Seen:
        """The space and its datasets for someone who may view the space: kept per space and
        read again only when the stamp (read first) differs from the one kept with them. The
        same check of who may view either way, against the very record shown."""
        iri = self.spaces.store.iri_of(space_id) if stamps.plausible(space_id) else None
        stamp = guard.call(self._registry, lambda r: stamps.page_stamp(r, iri)) if iri else None
        version = (stamp.space, stamp.datasets) if stamp and stamp.space[0] else None
        kept = self._kept.get(iri, version) if version is not None else None
        if kept is not None:
            permissions.require_view(kept.space, actor)
            return kept
        space = self.spaces.get(space_id, actor)
        seen = Seen(version if space.iri == iri else None, space, self.push.datasets(space.iri))
        if seen.version is not None:
            self._kept.put(space.iri, seen.version, seen)
        return seen

    def counts(self, space: Space, now: datetime) -> dict[ConsentState, int]:
        """How many people consent, by state (never who), from the space's counters."""
        if not space.terms.data_requests:
            return {}
        return self.consents.counts(space.iri, now)
