"""How far a run's pull has got, per pod server: counts, and nothing else.

When the control plane hands out a job it groups the run's people by the pod server of their
first consented resource (its origin, `scheme://host[:port]`) and keeps the plan: each server
and how many people are to be read there. The datacage then reports, for each server of the
plan *by its position*, how many people it has read and how many failed; the control plane
accepts exactly that (a count per server, never a name, an IRI or a word, never more than the
plan's people) and shows it on the run page. Pulls happen before the algorithm runs, so the
algorithm cannot steer these counts.

A server with fewer people than the space's smallest group (k) is not named, in the plan or on
the page: one person's own pod server (`alice.pods.example`) would name them. Such servers are
counted together as one row, and so are the servers beyond the `MOST_SERVERS` largest, so a
plan stays short however the crowd is spread.

The rows on the wire, and the rule a report must fit, are the job protocol's
(`server.protocol.pull_progress`); this module is the control plane's plan and page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from connectors.origins import origin_of

from ..protocol.pull_progress import PodServerProgress

#: The row of the servers too small to be named.
SMALL_SERVERS = "Other pod servers (each with few people of this run)"
#: The most pod servers a run's page names; the others are counted together.
MOST_SERVERS = 50


def plan(first_urls: Iterable[str], k: int, most: int = MOST_SERVERS) -> list[PodServerProgress]:
    """Each pod server of the run with how many people are to be read there: the `most`
    largest of at least `k` people by origin, sorted, then the rest together as one row whose
    server is "" (a crowd on a thousand small servers makes a short plan, and no one's own
    server is named)."""
    return plan_from_counts(Counter(origin_of(url) for url in first_urls), k, most)


def plan_from_counts(
    counted: Mapping[str, int], k: int, most: int = MOST_SERVERS, *, spelled: bool = False
) -> list[PodServerProgress]:
    """`plan` from people counted per origin (by the store: `ConsentStore.in_force_origins`);
    the origins are spelled as `origin_of` spells them, and spellings of one are added up
    (unless `spelled`: counted by origins `origin_of` already spelled, as the in-force index
    keeps them, where spelling 100,000 origins again would cost more than finding them)."""
    counts: Counter[str] = Counter()
    if spelled:
        counts.update(counted)
    else:
        for origin, n in counted.items():
            counts[origin_of(origin)] += n
    large = sorted(
        (server for server, count in counts.items() if server and count >= max(1, k)),
        key=lambda server: (-counts[server], server),
    )[:most]
    rows = [PodServerProgress(server, counts[server]) for server in sorted(large)]
    rest = sum(counts.values()) - sum(row.to_read for row in rows)
    if rest:
        rows.append(PodServerProgress("", rest))
    return rows


def for_page(progress: list[PodServerProgress]) -> list[tuple[str, PodServerProgress]]:
    """(label, row) of each row a participant sees; the unnamed row last."""
    return [(p.server or SMALL_SERVERS, p) for p in progress]
