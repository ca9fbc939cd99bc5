"""The reports in the retailer's pod, read back with its own client and checked by hand.

The expected figures are computed from the seed with plain Python (`seed.expected_common`),
not by `datafuse`: a demo that says "ready" has shown that the private match gave the answer
anyone could compute from both lists in the clear.
"""

from __future__ import annotations

from decimal import Decimal

from rdflib import Graph, Literal, URIRef

from connectors.solid import SolidClient
from vocab import DCG, DF, RDF

from .seed import consents, expected_common, income

REPORTS = "https://w3id.org/datacage/datafuse/report#"
MIN_GROUP = 5  # the spaces' smallest group and joint-stats' min_group


class ReportMismatch(AssertionError):
    """A report in the pod says something other than the plain-set answer."""


def read_report(client: SolidClient, url: str) -> Graph:
    body = client.get(url, accept="text/turtle").body
    return Graph().parse(data=body, format="turtle")


def check_common_customers(report: Graph, people: int) -> str:
    node = URIRef(REPORTS + "common-customers")
    common = len(expected_common(people))
    consenting = sum(1 for n in range(people) if consents(n))
    _expect(report, node, DF.parties, 2)
    _expect(report, node, DCG.individuals, consenting)
    if common < MIN_GROUP:
        _expect(report, node, DF.suppressed, True)
        return f"common customers: fewer than {MIN_GROUP}, suppressed (plain sets: {common})"
    _expect(report, node, DF.commonCustomers, common)
    return f"common customers: {common} (plain sets agree), over {consenting} individuals"


def check_joint_stats(report: Graph, people: int) -> str:
    common = expected_common(people)
    figures = {
        str(report.value(f, DF.statistic)): report.value(f, DF.value).toPython()  # type: ignore[union-attr]
        for f in report.subjects(RDF.type, DF.Statistic)
        if report.value(f, DF.lowerBound) is None and report.value(f, DF.upperBound) is None
    }
    if len(common) < MIN_GROUP:
        if figures:
            raise ReportMismatch(f"joint-stats reported figures over {len(common)} people")
        return f"joint statistics: fewer than {MIN_GROUP} in common, all suppressed"
    total = sum(income(n) for n in common)
    for name, want in (("count", len(common)), ("sum", total)):
        if Decimal(str(figures.get(name))) != Decimal(want):
            raise ReportMismatch(
                f"joint-stats {name} is {figures.get(name)}, plain sets say {want}"
            )
    mean = total / len(common)
    return f"joint statistics: {len(common)} in common, income sum {total}, mean {mean:,.0f}"


def _expect(report: Graph, node: URIRef, term: URIRef, want: object) -> None:
    got = report.value(node, term)
    if got is None or (got != Literal(want) and got.toPython() != want):
        raise ReportMismatch(f"the report's {term} is {got}, plain sets say {want}")
