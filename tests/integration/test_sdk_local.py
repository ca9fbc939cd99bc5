"""The SDK and the built-in DataFuse bundles in the real sandbox and the real output gate.

`run_locally` (what `datacage sdk run` calls) stages samples in the datacage's input layout,
organisation datasets included, runs the bundle under bubblewrap and gates the output exactly
as a job does; every figure is checked against a plain-set computation.
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal, URIRef

from server.algorithms import build_bundle, read_bundle
from server.cli import main
from server.datacage.sandbox import Outcome
from server.sdk import SampleError, run_locally
from tests.support.datafuse_samples import (
    COMMON_CUSTOMERS,
    JOINT_STATS,
    expected_common,
    person_email,
    write_samples,
)
from vocab import DCG, DF, XSD

PEOPLE = 12
SHARED = range(3, 12)  # nine of the twelve people are also the bank's customers
REPORT = URIRef("https://w3id.org/datacage/datafuse/report#common-customers")


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    return folder, write_samples(folder, PEOPLE, SHARED)


def result_graph(local) -> Graph:
    assert local.sandbox.outcome is Outcome.SUCCEEDED, (local.sandbox.reason, local.log)
    assert local.passed, local.verdict.reasons
    return Graph().parse(data=local.result, format="turtle")


@pytest.mark.parametrize("plus", [False, True])
def test_common_customers_reports_the_plain_set_count(samples, plus):
    folder, rows = samples
    local = run_locally(COMMON_CUSTOMERS, folder, parameters={"plus_addressing": plus})
    graph = result_graph(local)
    expected = expected_common(PEOPLE, rows, plus=plus)
    assert len(expected) == (9 if plus else 6)  # plus-addressing matters in these samples
    assert graph.value(REPORT, DF.commonCustomers) == Literal(len(expected))
    assert graph.value(REPORT, DF.parties) == Literal(2)
    assert graph.value(REPORT, DF.blinding) == Literal("x25519")
    assert graph.value(REPORT, DCG.individuals) == Literal(PEOPLE)
    assert "shop.example" not in local.result  # a count, never an address
    assert "matched 2 data holders (individuals: 12, dataset-1: 34)" in local.log
    assert local.digest == read_bundle(build_bundle(COMMON_CUSTOMERS)).digest


def test_three_holders_are_matched_all_together(tmp_path):
    rows = write_samples(tmp_path, PEOPLE, SHARED)
    second = [person_email(n).upper() for n in range(0, PEOPLE, 2)] + ["other@elsewhere.example"]
    (tmp_path / "datasets" / "shop-b.csv").write_text("email\n" + "\n".join(second) + "\n")
    local = run_locally(COMMON_CUSTOMERS, tmp_path, parameters={"min_overlap": 1})
    graph = result_graph(local)
    plain = expected_common(PEOPLE, rows, plus=False) & {e.lower() for e in second}
    assert len(plain) == 3
    assert graph.value(REPORT, DF.commonCustomers) == Literal(len(plain))
    assert graph.value(REPORT, DF.parties) == Literal(3)


def test_a_small_overlap_is_reported_as_suppressed(samples):
    folder, rows = samples
    local = run_locally(COMMON_CUSTOMERS, folder, parameters={"min_overlap": 7})
    graph = result_graph(local)
    assert len(expected_common(PEOPLE, rows, plus=False)) == 6
    assert graph.value(REPORT, DF.commonCustomers) is None
    assert graph.value(REPORT, DF.suppressed) == Literal(True)


def test_joint_stats_over_the_intersection_match_plain_sets_and_hide_small_bands(samples):
    folder, rows = samples
    parameters = {"plus_addressing": True, "bands": "50000,80000", "min_group": 4}
    # A space whose smallest group is 5 refuses the band of 4 the algorithm was set to keep...
    strict = run_locally(JOINT_STATS, folder, parameters=parameters, min_individuals=5)
    assert not strict.passed
    smallest = "fewer individuals than this space's smallest group (5)"
    assert any(smallest in reason for reason in strict.verdict.reasons)
    # ...a space of 4 lets it out.
    local = run_locally(JOINT_STATS, folder, parameters=parameters, min_individuals=4)
    graph = result_graph(local)
    common = expected_common(PEOPLE, rows, plus=True)
    incomes = [
        income
        for email, income in rows
        if email.replace("+bank", "") in common  # the bank's own spelling of a shared one
    ]
    figures = {}
    for node in graph.subjects(None, DF.Statistic):
        key = (
            str(graph.value(node, DF.statistic)),
            graph.value(node, DF.lowerBound),
            graph.value(node, DF.upperBound),
        )
        figures[key] = (float(graph.value(node, DF.value)), int(graph.value(node, DCG.individuals)))
    assert figures[("count", None, None)] == (len(incomes), len(incomes))
    assert figures[("sum", None, None)][0] == sum(incomes)
    assert figures[("mean", None, None)][0] == pytest.approx(sum(incomes) / len(incomes))
    low, high = [i for i in incomes if i < 50_000], [i for i in incomes if i >= 80_000]
    assert (len(low), len(incomes) - len(low) - len(high), len(high)) == (2, 4, 3)
    assert figures[("histogram", decimal(50_000), decimal(80_000))] == (4.0, 4)
    histogram = [key for key in figures if key[0] == "histogram"]
    assert len(histogram) == 1  # the bands of 2 and 3 people are left out
    report = URIRef("https://w3id.org/datacage/datafuse/report#joint-stats")
    assert graph.value(report, DF.suppressedFigures) == Literal(2)


def test_the_gate_still_refuses_an_sdk_result_that_carries_an_address(tmp_path, samples):
    folder, _ = samples
    bundle = sdk_bundle(
        tmp_path,
        """
        from datacage_sdk import dispatch, on
        from rdflib import Graph, Literal, URIRef

        @on("LEAK")
        def leak(run):
            first = next(v for _, v in run.individuals.values(
                URIRef("http://schema.org/email")))
            run.log(f"leaking {first.strip()}")
            g = Graph()
            r = URIRef("https://example.org/t#r")
            g.add((r, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                   URIRef("https://example.org/t#Report")))
            g.add((r, URIRef("https://example.org/t#label"), Literal(first)))
            g.add((r, URIRef("https://w3id.org/datacage/ns#individuals"), Literal(12)))
            run.write(g)

        def main(ctx):
            return dispatch(ctx)
        """,
    )
    local = run_locally(bundle, folder)
    assert local.sandbox.outcome is Outcome.SUCCEEDED, local.log
    assert not local.passed
    assert any("e-mail address read from a pod" in r for r in local.verdict.reasons)
    # The samples are the developer's own: the log is theirs in full (never so on people's
    # data, where participants see the outcome code only).
    assert "leaking " in local.log
    assert "shop.example" in local.log.lower()  # the samples vary the case of addresses
    assert local.outcome.value == "output-refused"


def test_the_sdk_changes_nothing_the_sandbox_guarantees(tmp_path, samples):
    folder, _ = samples
    bundle = sdk_bundle(
        tmp_path,
        """
        import importlib, os, socket
        import datacage_sdk, datafuse, rdflib, vocab

        def main(ctx):
            for name in ("flask", "server", "requests", "pyshacl", "connectors"):
                try:
                    importlib.import_module(name)
                    ctx.log(f"{name}=importable")
                except ImportError:
                    ctx.log(f"{name}=absent")
            try:
                open(os.path.join(os.path.dirname(datafuse.__file__), "x.py"), "w")
            except OSError as error:
                ctx.log(f"write sdk={error.errno}")
            try:
                socket.socket()
            except OSError as error:
                ctx.log(f"socket={error.errno}")
            ctx.log(f"sdk at {os.path.dirname(os.path.dirname(datafuse.__file__))}")
            ctx.log(f"rdflib at {os.path.dirname(rdflib.__file__)}")
        """,
    )
    local = run_locally(bundle, folder)
    assert local.sandbox.outcome is Outcome.SUCCEEDED, local.log  # no result: the gate refuses
    assert not local.passed
    for name in ("flask", "server", "requests", "pyshacl", "connectors"):
        assert f"{name}=absent" in local.log
    assert "write sdk=30" in local.log  # EROFS: the SDK is bound read-only
    assert "socket=1" in local.log  # EPERM: still no network
    assert "sdk at /usr/lib/datacage/python" in local.log
    assert "rdflib at /usr/lib/datacage/python/rdflib" in local.log


def test_matching_uses_every_core_inside_the_sandbox(tmp_path, samples):
    folder, _ = samples
    bundle = sdk_bundle(
        tmp_path,
        """
        import os
        from datafuse import PartySet, match

        def main(ctx):
            first = [f"c{n}@example.org" for n in range(6000)]
            second = [f"c{n}@example.org" for n in range(5000, 12000)]
            found = match([PartySet("a", first), PartySet("b", second)], workers=2)
            times = os.times()
            ctx.log(f"size={found.size} children={times.children_user > 0}")
        """,
    )
    local = run_locally(bundle, folder)
    assert local.sandbox.outcome is Outcome.SUCCEEDED, local.log
    assert "size=1000 children=True" in local.log  # forked blinders ran, without /dev/shm


def test_an_sdk_output_that_breaks_the_shape_fails_inside_the_sandbox(tmp_path, samples):
    folder, _ = samples
    bundle = sdk_bundle(
        tmp_path,
        """
        from datacage_sdk import dispatch, on

        @on("LEAK")
        def leak(run):
            run.write('<https://example.org/t#r> a <https://example.org/t#Report> .')

        def main(ctx):
            return dispatch(ctx)
        """,
    )
    local = run_locally(bundle, folder)
    assert local.sandbox.outcome is Outcome.FAILED
    assert "OutputError" in local.sandbox.reason
    assert "needs exactly one integer dcg:individuals" in local.sandbox.reason
    assert local.verdict is None


def test_the_cli_builds_and_runs_a_bundle(tmp_path, samples):
    folder, _ = samples
    runner = CliRunner()
    built = runner.invoke(
        main, ["sdk", "build", str(COMMON_CUSTOMERS), "-o", str(tmp_path / "b.zip")]
    )
    assert built.exit_code == 0, built.output
    digest = read_bundle((tmp_path / "b.zip").read_bytes()).digest
    assert built.output.strip().splitlines()[-1] == f"digest={digest}"
    ran = runner.invoke(
        main,
        [
            "sdk",
            "run",
            str(COMMON_CUSTOMERS),
            "--samples",
            str(folder),
            "--param",
            "plus_addressing=true",
        ],
    )
    assert ran.exit_code == 0, ran.output
    assert "df:commonCustomers 9" in ran.output
    assert ran.output.strip().splitlines()[-1] == "verdict=passed"
    refused = runner.invoke(
        main,
        ["sdk", "run", str(COMMON_CUSTOMERS), "--samples", str(folder), "--min-individuals", "13"],
    )
    assert refused.exit_code == 1
    assert "smallest group (13)" in refused.output
    assert refused.output.strip().splitlines()[-1] == "verdict=refused"


def test_a_missing_sdk_package_refuses_the_run_in_plain_words(tmp_path, samples, monkeypatch):
    from server.datacage.sandbox import libraries

    folder, _ = samples
    monkeypatch.setattr(libraries, "SDK_PACKAGES", (*libraries.SDK_PACKAGES, "not_installed_x"))
    libraries.sdk_libraries.cache_clear()
    try:
        local = run_locally(COMMON_CUSTOMERS, folder)
    finally:
        libraries.sdk_libraries.cache_clear()
    assert local.sandbox.outcome is Outcome.REFUSED
    assert "could not start, so nothing was run" in local.sandbox.reason
    assert "'not_installed_x' is not installed" in local.sandbox.reason


def test_bad_samples_and_parameters_are_plain_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SampleError, match="neither people/ nor datasets/"):
        run_locally(COMMON_CUSTOMERS, tmp_path / "empty")
    result = CliRunner().invoke(
        main, ["sdk", "run", str(COMMON_CUSTOMERS), "--samples", str(tmp_path / "empty")]
    )
    assert result.exit_code == 1
    assert "Error: " in result.output
    assert "Traceback" not in result.output
    with pytest.raises(Exception, match="no parameter 'nope'"):
        run_locally(COMMON_CUSTOMERS, tmp_path / "empty", parameters={"nope": 1})


def decimal(value: float) -> Literal:
    return Literal(Decimal(repr(float(value))), datatype=XSD.decimal)


def sdk_bundle(tmp_path: Path, code: str) -> Path:
    folder = tmp_path / "bundle"
    (folder / "shapes").mkdir(parents=True)
    (folder / "algo.py").write_text(textwrap.dedent(code))
    (folder / "manifest.toml").write_text(
        '[algorithm]\nname = "t"\nversion = "1"\ndescription = "t"\n'
        'entry_point = "algo:main"\nevents = ["LEAK"]\noutput_shape = "shapes/r.ttl"\n'
    )
    (folder / "shapes" / "r.ttl").write_text(
        """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dcg: <https://w3id.org/datacage/ns#> .
<https://example.org/t#S> a sh:NodeShape ; sh:targetClass <https://example.org/t#Report> ;
  sh:property [ sh:path <https://example.org/t#label> ; sh:datatype xsd:string ] ,
              [ sh:path dcg:individuals ; sh:datatype xsd:integer ; sh:maxCount 1 ] .
"""
    )
    return folder
