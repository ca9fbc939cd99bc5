"""The demo's parts that need no server: its folder rule, its seed, its checks of the reports,
and the form reader of its headless consent."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal, URIRef

from server.cli import main
from server.demo import check, seed
from server.demo.consent_flow import ConsentFlowError, _form
from server.demo.stack import MARKER, StartRefused, fresh_folder, require_free_port
from vocab import DCG, DF, RDF

NODE = URIRef(check.REPORTS + "common-customers")


def test_a_folder_the_demo_did_not_make_is_refused_and_keeps_its_files(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(StartRefused, match="holds files the demo did not make"):
        fresh_folder(tmp_path)
    assert (tmp_path / "thesis.tex").read_text() == "years of work"

    result = CliRunner().invoke(main, ["demo", "--check", "--folder", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not emptied" in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "thesis.tex").exists()


def test_a_demo_folder_is_made_afresh(tmp_path):
    folder = fresh_folder(tmp_path / "demo")
    (folder / "css").mkdir()
    assert fresh_folder(folder) == folder
    assert sorted(p.name for p in folder.iterdir()) == [MARKER]


def test_a_taken_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartRefused, match=f"Port {port} .* --css-port 0"):
            require_free_port(port, "--css-port")
        result = CliRunner().invoke(
            main, ["demo", "--check", "--port", str(port), "--folder", str(tmp_path / "d")]
        )
    assert result.exit_code == 1
    assert "already in use; pass --port 0" in result.output
    assert not (tmp_path / "d").exists()  # refused before the folder was touched


def test_the_seed_has_most_people_consent_and_a_bank_that_knows_most_of_them():
    people = 50
    yes = [n for n in range(people) if seed.consents(n)]
    assert len(yes) == 45
    common = seed.expected_common(people)
    assert 30 < len(common) < len(yes)
    rows = dict(seed.bank_rows(people))
    assert all(seed.address(n) in rows for n in common)
    records = [seed.customer_record(n) for n in range(4)]
    assert len(set(records)) == 4
    assert seed.address(0) not in records[1] + records[3]  # upper case, title case and spaces


def report(common: int, individuals: int, parties: int = 2) -> Graph:
    graph = Graph()
    graph.add((NODE, DF.commonCustomers, Literal(common)))
    graph.add((NODE, DF.parties, Literal(parties)))
    graph.add((NODE, DCG.individuals, Literal(individuals)))
    return graph


def test_the_common_customers_check_fails_on_a_wrong_count():
    people = 12
    common, consenting = len(seed.expected_common(people)), 11
    assert "plain sets agree" in check.check_common_customers(report(common, consenting), people)
    with pytest.raises(check.ReportMismatch, match="plain sets say"):
        check.check_common_customers(report(common + 1, consenting), people)
    with pytest.raises(check.ReportMismatch):
        check.check_common_customers(report(common, consenting, parties=3), people)


def test_the_joint_stats_check_fails_on_a_wrong_sum():
    people = 12
    common = seed.expected_common(people)
    total = sum(seed.income(n) for n in common)

    def stats(count: int, amount: int) -> Graph:
        graph = Graph()
        for name, value in (("count", count), ("sum", amount)):
            node = URIRef(check.REPORTS + name)
            graph.add((node, RDF.type, DF.Statistic))
            graph.add((node, DF.statistic, Literal(name)))
            graph.add((node, DF.value, Literal(value)))
        return graph

    assert f"income sum {total}" in check.check_joint_stats(stats(len(common), total), people)
    with pytest.raises(check.ReportMismatch, match="sum"):
        check.check_joint_stats(stats(len(common), total + 1), people)


def test_the_consent_form_is_read_from_the_page_and_a_missing_one_is_named():
    page = (
        '<form id="join"><input type="hidden" name="csrf_token" value="t1"></form>'
        '<form id="answer"><input type="hidden" name="csrf_token" value="t2">'
        '<input type="hidden" name="resource" value="a"><input type="hidden" name="resource" '
        'value="b"><button name="answer" value="accept">Accept</button></form>'
    )
    assert _form(page, "answer", "consent page") == [
        ("csrf_token", "t2"),
        ("resource", "a"),
        ("resource", "b"),
    ]
    with pytest.raises(ConsentFlowError, match="The consent page shows no form 'other'"):
        _form(page, "other", "consent page")


def test_a_step_stopped_midway_still_says_its_time(capsys):
    """A long demo stopped with Ctrl-C (a thousand people's consent pages) says how long the
    step ran before it stopped, and lists every step's time: the note's figures come from it."""
    from server.demo.cli import Outcome

    out = Outcome()
    with out.timed("accounts and pods seeded"):
        pass
    with pytest.raises(KeyboardInterrupt), out.timed("consent pages"):
        raise KeyboardInterrupt
    out.print_timings()
    said = capsys.readouterr().out
    assert "(consent pages: stopped after " in said
    assert "  accounts and pods seeded: 0.0 s" in said
    assert "  consent pages (stopped): " in said


def test_the_demo_admits_its_whole_crowd_from_one_address(tmp_path):
    """Every person of the demo answers from 127.0.0.1: at the deployed limits the 21st join
    of a minute was refused (429) and a fast demo stopped halfway. The demo's limits let a
    thousand people's sign-ins and joins through from one address; the others stay."""
    from server.demo.stack import DEMO_RATE_LIMITS
    from server.ratelimit import DEFAULT_LIMITS, RateLimiter, TooManyRequests, parse_limits

    crowd = ["address 127.0.0.1"]
    deployed = RateLimiter(tmp_path / "deployed.sqlite3", parse_limits(DEFAULT_LIMITS))
    with pytest.raises(TooManyRequests):
        [deployed.hit("join", crowd) for _ in range(100)]
    demo = RateLimiter(tmp_path / "demo.sqlite3", parse_limits(DEMO_RATE_LIMITS))
    for _ in range(200):  # a hundred people answering two spaces in one minute
        demo.hit("join", crowd)
        demo.hit("signin", crowd)
    kept = parse_limits(DEFAULT_LIMITS)
    assert {
        a: v for a, v in parse_limits(DEMO_RATE_LIMITS).items() if a not in ("join", "signin")
    } == {a: v for a, v in kept.items() if a not in ("join", "signin")}
