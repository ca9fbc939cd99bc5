"""The sandbox on well-behaved algorithms, with real bubblewrap: inputs in, progress and log out,
Turtle written, parameters passed, exceptions reported, the run's folder wiped on every path.

The hostile algorithms are in test_sandbox_adversarial.py; the helpers here serve both.
"""

from __future__ import annotations

import os

import pytest
from rdflib import Graph

from server.datacage.sandbox import Outcome, SandboxLimits
from tests.support.sandbox_runs import (  # noqa: F401 - shared, fixtures by name
    FAST,
    FIXTURES,
    PEOPLE,
    SANDBOX_UIDS,
    SHAPE,
    bundle_from,
    is_sandbox_uid,
    leftovers,
    make_bundle,
    nothing_of_the_sandbox_survives,
    run,
    sandbox_processes,
    stage_inputs,
    tree,
)

# --- The contract --------------------------------------------------------------------------------


def test_a_normal_algorithm_reads_inputs_reports_progress_logs_and_writes_turtle(tmp_path):
    bundle = make_bundle(
        tmp_path / "src",
        """
        def run(ctx):
            orders = 0
            for number, person in enumerate(ctx.people, start=1):
                for resource in person.resources:
                    if resource.content_type == "text/csv":
                        orders += len(resource.read_text().splitlines()) - 1
                    else:
                        assert resource.read_bytes().startswith(b"<#me>")
                ctx.progress(number / len(ctx.people))
            print("stdout is part of the log")
            ctx.log(f"people={sorted(ctx.inputs)} names={[r.name for r in ctx.inputs['person-1']]}")
            extra = "<https://example.org/t#r> a <https://example.org/t#Extra> ."
            ctx.write_result(extra, name="extra.ttl")
            return f'''@prefix ex: <https://example.org/t#> .
        ex:report a ex:Report ; ex:orders {orders} ; ex:outputDir "{ctx.output_dir}" .'''
        """,
    )
    reported: list[float] = []
    ran, output = run(bundle, tmp_path, on_progress=reported.append)

    assert ran.outcome is Outcome.SUCCEEDED, ran
    assert ran.reason == "The algorithm finished."
    assert ran.exit_code == 0
    assert ran.progress == 1.0
    # Progress is sampled (the watcher forwards the latest value at each look), so a step the
    # algorithm passes quickly may be skipped: what is promised is values the algorithm sent,
    # rising, and the last one.
    assert reported[-1] == 1.0
    assert set(reported) <= {0.5, 1.0}
    assert reported == sorted(set(reported))
    assert "stdout is part of the log" in ran.log
    assert "people=['person-1', 'person-2'] names=['customers.ttl', 'orders.csv']" in ran.log
    assert sorted(p.name for p in output.iterdir()) == ["extra.ttl", "result.ttl"]
    graph = Graph().parse(output / "result.ttl", format="turtle")
    assert ('"3"^^<http://www.w3.org/2001/XMLSchema#integer>' in
            {o.n3() for o in graph.objects()})  # fmt: skip
    assert '"/output"' in (output / "result.ttl").read_text()
    # Handed back: nothing in the output belongs to the sandbox user any more.
    assert {p.stat().st_uid for p in [output, *output.iterdir()]} == {os.getuid()}
    assert leftovers(tmp_path / "work") == []


def test_parameters_arrive_as_approved_with_their_types(tmp_path):
    bundle = make_bundle(
        tmp_path / "src",
        """
        def run(ctx):
            ctx.log(repr(sorted((k, type(v).__name__, v) for k, v in ctx.parameters.items())))
        """,
        """
        [parameters.min_overlap]
        type = "integer"
        default = 5
        description = "x"
        """,
    )
    parameters = {"min_overlap": 7, "ratio": 0.25, "label": 'a "b"', "strict": True}
    ran, _ = run(bundle, tmp_path, parameters)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    expected = sorted((k, type(v).__name__, v) for k, v in parameters.items())
    assert repr(expected) in ran.log


def test_an_exception_becomes_failed_with_its_type_and_message_and_the_traceback_in_the_log(
    tmp_path,
):
    bundle = make_bundle(
        tmp_path / "src",
        """
        def helper(ctx):
            raise ValueError(f"no customers for {ctx.people[1].id}")

        def run(ctx):
            ctx.progress(0.4)
            helper(ctx)
        """,
    )
    ran, output = run(bundle, tmp_path)
    assert ran.outcome is Outcome.FAILED
    assert ran.reason == "The algorithm raised ValueError: no customers for person-2."
    assert ran.exit_code == 1
    assert ran.progress == 0.4
    assert "Traceback" in ran.log
    assert 'algo.py", line 3, in helper' in ran.log
    assert "Traceback" not in ran.reason
    assert list(output.iterdir()) == []


def test_the_sample_shop_survey_bundle_runs(tmp_path):
    bundle = bundle_from(FIXTURES / "bundles" / "shop-survey")
    ran, output = run(bundle, tmp_path, {"label": "Survey"})
    assert ran.outcome is Outcome.SUCCEEDED, ran
    assert "survey:orders 3" in (output / "result.ttl").read_text()
    assert "read 2 people" in ran.log


def test_the_log_keeps_only_its_tail_and_says_it_was_cut(tmp_path):
    bundle = make_bundle(
        tmp_path / "src",
        """
        import sys

        def run(ctx):
            for n in range(20000):
                print(f"line {n:05d} " + "x" * 20)
            print("THE LAST LINE", file=sys.stderr)
        """,
    )
    limits = SandboxLimits(wall_seconds=10, log_bytes=8 << 10)
    ran, _ = run(bundle, tmp_path, limits=limits)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    note, _, kept = ran.log.partition("\n")
    assert note.startswith("[log cut: the first ")
    assert note.endswith(f"the last {8 << 10} kept]")
    assert len(kept.encode()) == 8 << 10
    assert kept.endswith("THE LAST LINE\n")
    assert "line 00000" not in ran.log


def test_the_sandbox_sees_only_its_own_small_file_system(tmp_path):
    bundle = make_bundle(
        tmp_path / "src",
        """
        import os, sys

        def run(ctx):
            ctx.log(f"root={sorted(os.listdir('/'))}")
            ctx.log(f"ids={os.getuid()},{os.getgid()} pid={os.getpid()} env={dict(os.environ)}")
            ctx.log(f"path={sys.path}")
            for name in ("/usr/bin", "/etc/passwd", "/home", "/var", "/run", "/work"):
                ctx.log(f"{name} exists={os.path.exists(name)}")
            ctx.log(f"site={os.listdir(os.path.dirname(os.__file__) + '/site-packages')}")
        """,
    )
    ran, _ = run(bundle, tmp_path)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    root = eval(ran.log.split("root=", 1)[1].splitlines()[0])  # noqa: S307 - a list we printed
    assert set(root) <= {"bundle", "input", "output", "runtime", "tmp", "proc", "dev", "usr",
                         "lib", "lib64", "etc", "root"}  # fmt: skip
    assert "ids=1000,1000 pid=1 env={'HOME': '/tmp', 'LANG': 'C.UTF-8', 'PWD': '/tmp'}" in ran.log
    for name in ("/usr/bin", "/etc/passwd", "/home", "/var", "/run", "/work"):
        assert f"{name} exists=False" in ran.log
    assert "site-packages" not in ran.log.split("path=", 1)[1].splitlines()[0]
    assert "site=[]" in ran.log  # the interpreter's own packages are masked


# --- The run's folder is wiped on every path ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "outcome"),
    [
        ("def run(ctx):\n    return '# ok'\n", Outcome.SUCCEEDED),
        ("def run(ctx):\n    raise RuntimeError('no')\n", Outcome.FAILED),
        ("import time\ndef run(ctx):\n    time.sleep(60)\n", Outcome.TIMED_OUT),
    ],
)
def test_the_run_folder_is_wiped_and_the_inputs_handed_back_whatever_the_outcome(
    tmp_path, source, outcome
):
    bundle = make_bundle(tmp_path / "src", source)
    limits = SandboxLimits(wall_seconds=1.0, cpu_seconds=2)
    ran, _ = run(bundle, tmp_path, limits=limits)
    assert ran.outcome is outcome, ran
    work = tmp_path / "work"
    assert leftovers(work) == []
    assert {info[1] for info in tree(work / "input").values()} == {os.getuid()}


def test_the_run_folder_is_wiped_when_the_run_itself_raises(tmp_path):
    bundle = make_bundle(tmp_path / "src", "def run(ctx):\n    return '# ok'\n")
    output = tmp_path / "work" / "output"
    output.mkdir(parents=True)
    (output / "stale.ttl").write_text("# from an earlier run")
    with pytest.raises(ValueError, match="must be empty"):
        run(bundle, tmp_path)
    assert leftovers(tmp_path / "work") == []
    assert (output / "stale.ttl").read_text() == "# from an earlier run"


def test_an_async_entry_point_is_awaited(tmp_path):
    bundle = make_bundle(
        tmp_path / "src",
        "import asyncio\n\nasync def run(ctx):\n    await asyncio.sleep(0)\n    return '# async'\n",
    )
    ran, output = run(bundle, tmp_path)
    assert ran.outcome is Outcome.SUCCEEDED, ran
    assert (output / "result.ttl").read_text() == "# async"
