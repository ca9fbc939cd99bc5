"""Run outcomes as codes: the wire refuses free text, progress is quantised and rate-limited."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import pytest
from rdflib import Graph

from server import create_app
from server.datacage import job
from server.datacage.gate.checker import refusal as gate_rules
from server.datacage.job import SANDBOX_OUTCOMES, JobReport
from server.datacage.progress import RunProgress
from server.datacage.sandbox import Outcome as SandboxOutcome
from server.protocol import outcomes
from server.protocol.outcomes import (
    RUNNING_STEPS,
    Note,
    Outcome,
    Refusal,
    Stage,
    overall_progress,
    running_step,
    stage_wording,
)
from server.web import datacage_api
from tests.support.waiting import wait_until

CAGE = "https://cage.example/profile/card#me"


@pytest.fixture
def cage(tmp_path, monkeypatch):
    """The deployment's datacage, signed in to a control plane with the CSRF token."""
    app = create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": "https://dc.example/",
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": CAGE,
        }
    )
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(webid=CAGE, signed_in_at=time.time(), csrf_token="t")
    return client


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("log", "tell-tale gro.elpmaxe@0reppohs"),
        ("problems", ["The algorithm raised RuntimeError: SHOPPER0@EXAMPLE.ORG"]),
        ("gate_reasons", ["A value of ex:label contains an e-mail address"]),
        ("reason", "c2hvcHBlcjBAZXhhbXBsZS5vcmc="),
    ],
)
def test_the_finish_endpoint_refuses_any_field_of_free_text(cage, field, value):
    body = {**JobReport(Outcome.ALGORITHM_ERROR).as_json(), field: value}
    response = cage.post("/api/datacage/runs/r1/finish", json=body, headers={"X-CSRF-Token": "t"})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "Unknown field" in response.get_data(as_text=True)


def test_the_progress_endpoint_takes_a_step_not_a_fraction(cage):
    response = cage.post(
        "/api/datacage/runs/r1/progress",
        json={"stage": "running", "progress": 0.123456789012345},
        headers={"X-CSRF-Token": "t"},
    )
    assert response.status_code == 422


def test_what_the_datacage_sends_is_exactly_what_the_control_plane_accepts():
    report = JobReport(
        Outcome.OUTPUT_REFUSED, 7, {Note.PODS_UNREADABLE}, Refusal("identifier/verbatim", None)
    )
    assert set(report.as_json()) == set(datacage_api._FINISH)
    assert report.as_json()["notes"] == ["pods-unreadable"]
    assert report.gate_passed is False
    assert {o for o in SandboxOutcome if o is not SandboxOutcome.SUCCEEDED} == set(SANDBOX_OUTCOMES)


def test_every_code_has_wording_for_the_run_page():
    for vocabulary in (Outcome, Note, Stage):
        for code in vocabulary:
            assert code.wording.endswith("."), code
    assert stage_wording("Running the algorithm.") == "Recorded before stages were codes."
    assert Refusal("shape/violation", "https://example.org/ns#orders").wording.endswith(
        "(at https://example.org/ns#orders)"
    )


@pytest.mark.parametrize(
    ("fraction", "step"),
    [(0.0, 0), (0.2499, 0), (0.25, 1), (0.74, 2), (0.999, 3), (1.0, 4), (7.0, 4), (-3.0, 0)],
)
def test_the_algorithms_progress_is_one_of_a_few_steps(fraction, step):
    assert running_step(fraction) == step
    assert running_step(float("nan")) == 0
    assert overall_progress(Stage.RUNNING, step) in {
        overall_progress(Stage.RUNNING, s) for s in range(RUNNING_STEPS + 1)
    }


def test_48_bits_a_second_of_progress_come_out_as_a_few_steps_on_ticks():
    """An algorithm reporting a 48-bit fraction fifty times a second: the control plane hears
    the running stage and at most one step per tick, each further than the last."""
    reports: list[tuple[Stage, int, float]] = []
    progress = RunProgress(
        lambda stage, step: reports.append((stage, step, time.monotonic())), tick_s=0.1
    )
    secret = 0xA1B2C3D4E5F6
    with progress.running() as on_progress:
        for tick in range(60):
            on_progress(((secret ^ tick) % (1 << 48)) / (1 << 48) * (tick / 60 + 0.2))
            time.sleep(0.01)
        started = time.monotonic()
        while time.monotonic() - started < 0.3:  # the last ticks
            time.sleep(0.01)
    assert reports[0][:2] == (Stage.RUNNING, 0)
    steps = [step for _, step, _ in reports[1:]]
    assert steps == sorted(set(steps))  # each report further than the last
    assert all(1 <= s <= RUNNING_STEPS for s in steps)
    gaps = [b[2] - a[2] for a, b in itertools.pairwise(reports)]
    assert all(gap >= 0.09 for gap in gaps)  # never more often than the tick
    assert threading.active_count() >= 1


def test_progress_stops_reporting_when_the_run_ends():
    reports: list[tuple[Stage, int]] = []
    progress = RunProgress(lambda stage, step: reports.append((stage, step)), tick_s=0.05)
    with progress.running() as on_progress:
        on_progress(0.6)
        wait_until(lambda: len(reports) >= 2, "the running stage and its first step")
    # The reporter is gone when the run ends, so nothing is left that could report later.
    assert not any(t.name == "run-progress" for t in threading.enumerate())
    seen = len(reports)
    on_progress(1.0)
    assert len(reports) == seen


SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://example.org/ns#> .
ex:ReportShape a sh:NodeShape ; sh:targetClass ex:Report ;
    sh:property [ sh:path ex:orders ] , [ sh:path <https://other.example/label> ] .
"""


@dataclass(frozen=True)
class _GateRefusal:  # the shape of the gate's structured refusals
    rule: str
    shape_path: str | None = None


@dataclass(frozen=True)
class _Verdict:
    refusals: tuple[_GateRefusal, ...]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (_GateRefusal("shape/violation", "ex:ReportShape / ex:orders"),
         Refusal("shape/violation", "https://example.org/ns#orders")),
        (_GateRefusal("closed/property", "ex:ReportShape / <https://other.example/label>"),
         Refusal("closed/property", "https://other.example/label")),
        (_GateRefusal("identifier/verbatim"), Refusal("identifier/verbatim")),
        # A place not in the shape, or a rule outside the vocabulary, carries nothing.
        (_GateRefusal("shape/violation", "ex:ReportShape / ex:alice_example_org"),
         Refusal("shape/violation")),
        (_GateRefusal("moc.elpmaxe@ecila", "ex:ReportShape / ex:orders"), Refusal("unspecified")),
    ],
)  # fmt: skip
def test_the_gates_first_refusal_becomes_a_rule_and_a_path_of_the_shape(given, expected):
    shape = Graph().parse(data=SHAPE, format="turtle")
    verdict = _Verdict((given, _GateRefusal("k/too-small")))
    assert job._refusal(verdict, shape) == expected  # type: ignore[arg-type]


def test_the_run_pages_gate_rules_are_exactly_the_gates_own():
    # The control plane keeps its own copy (it must not import the data plane's gate).
    assert set(outcomes.GATE_RULES) - {"unspecified"} == set(gate_rules.RULES)
