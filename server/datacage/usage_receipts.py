"""Usage records in individuals' own pods: after a run, each person whose data it read finds a
short record of that use next to their consent receipt.

At consent time the person granted the datacage Append, and nothing else, on a container of
its own next to the receipt (`<storage>consent-receipts/<space>-<n>-usage/`). After the run the
datacage adds `<run id>.ttl` there with an N3 Patch that only inserts: Append suffices, and
inserting the same triples again changes nothing, so a retried write never duplicates. The
datacage cannot read, change or delete a record once written; only the person can.

The record (PROV-O + DPV): which run, when, which resources at which version, for which
purposes, and which consumers received the results. One person's failure is counted and
reported in words that name no one; it never fails the run. A consent given before usage
records existed granted no such access: it is skipped and counted, never guessed at.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rdflib import Graph, Literal, URIRef

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors
from vocab import DCG, DPV, PROV, RDF, XSD, bind_prefixes

from ..consent.usage import Read

log = logging.getLogger(__name__)

ATTEMPTS = 3
PEOPLE_AT_ONCE = 8


@dataclass(frozen=True)
class Use:
    """One person's part in a run as the datacage saw it: where and which version, no data."""

    consent_iri: str
    usage_records: str | None  # the Append-only container the consent granted, if any
    purposes: tuple[str, ...]
    reads: tuple[Read, ...]
    read_at: datetime


@dataclass
class ReceiptReport:
    written: int = 0
    skipped_old: int = 0  # consents from before usage records: no access was ever granted
    failed: int = 0
    problems: list[str] = field(default_factory=list)


def record_url(use: Use, run_id: str) -> str:
    assert use.usage_records is not None
    return f"{use.usage_records}{run_id}.ttl"


def usage_graph(
    use: Use,
    *,
    run_iri: str,
    run_id: str,
    space_iri: str,
    digest: str,
    datacage: str,
    consumers: Sequence[str],
) -> Graph:
    """The record as RDF; only IRIs (no blank nodes), so inserting it twice is inserting once."""
    url = record_url(use, run_id)
    graph = bind_prefixes(Graph())
    record, run = URIRef(url + "#use"), URIRef(run_iri)
    when = Literal(use.read_at.astimezone(UTC).isoformat(timespec="seconds"), datatype=XSD.dateTime)
    add = graph.add
    add((record, RDF.type, DCG.UsageRecord))
    add((record, PROV.wasGeneratedBy, run))
    add((record, PROV.generatedAtTime, when))
    add((record, DCG.usedConsent, URIRef(use.consent_iri)))
    add((record, DCG.space, URIRef(space_iri)))
    add((run, RDF.type, PROV.Activity))
    add((run, RDF.type, DCG.Run))
    add((run, PROV.wasAssociatedWith, URIRef(datacage)))
    add((run, DCG.digest, Literal(digest)))
    for purpose in use.purposes:
        add((record, DPV.hasPurpose, URIRef(purpose)))
    for consumer in consumers:
        add((record, DCG.resultsSentTo, URIRef(consumer)))
        add((record, DPV.hasRecipient, URIRef(consumer)))
    for index, read in enumerate(sorted(use.reads, key=lambda r: r.url), start=1):
        node = URIRef(f"{url}#input-{index}")
        add((record, PROV.used, node))
        add((run, PROV.used, node))
        add((node, RDF.type, PROV.Entity))
        add((node, PROV.atLocation, URIRef(read.url)))
        add((record, DPV.hasPersonalData, URIRef(read.url)))
        if read.version:
            add((node, DCG.inputVersion, Literal(read.version)))
    return graph


def write_usage_receipts(
    cage: SolidClient,
    uses: Sequence[Use],
    *,
    run_iri: str,
    run_id: str,
    space_iri: str,
    digest: str,
    consumers: Sequence[str],
) -> ReceiptReport:
    """Write one record per person into their pod; never raises for a person's failure."""
    report = ReceiptReport()
    datacage = cage.webid or ""
    pending = [u for u in uses if u.usage_records]
    report.skipped_old = len(uses) - len(pending)

    def write(use: Use) -> bool:
        graph = usage_graph(
            use,
            run_iri=run_iri,
            run_id=run_id,
            space_iri=space_iri,
            digest=digest,
            datacage=datacage,
            consumers=consumers,
        )
        return _patch_with_retries(cage, record_url(use, run_id), graph, use.consent_iri)

    with ThreadPoolExecutor(max_workers=PEOPLE_AT_ONCE) as pool:
        outcomes = list(pool.map(write, pending))
    report.written = sum(outcomes)
    report.failed = len(outcomes) - report.written
    if report.failed:
        report.problems.append(
            f"{report.failed} usage record(s) could not be written into their owners' pods."
        )
    if report.skipped_old:
        report.problems.append(
            f"{report.skipped_old} consent(s) were given before usage records were kept in "
            "pods, so no record was written there (My data still lists the use)."
        )
    log.info(
        "usage records written",
        extra={
            "run": run_iri,
            "written": report.written,
            "failed": report.failed,
            "skipped_old": report.skipped_old,
        },
    )
    return report


def _patch_with_retries(cage: SolidClient, url: str, graph: Graph, consent: str) -> bool:
    for attempt in range(ATTEMPTS):
        try:
            cage.patch(url, inserts=graph)
            return True
        except solid_errors.UpstreamError as exc:
            status = getattr(exc, "status", None)
            if attempt + 1 == ATTEMPTS or (status is not None and status < 500):
                reason = str(exc)
                break
            time.sleep(random.uniform(0.1, 0.4) * 2**attempt)  # noqa: S311 - jitter
        except solid_errors.SolidError as exc:  # refused (access taken back), gone, malformed
            reason = str(exc)
            break
    log.warning("usage record not written", extra={"consent": consent, "reason": reason})
    return False
