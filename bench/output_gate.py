"""What the output gate costs, against parsing the same output with rdflib alone.

A result of about 1 MB (report nodes, each with a count, its coverage, a region label and a
contact address) is checked by `server.datacage.gate.check_output` against a closed SHACL shape,
in the gate's own bubblewrap sandbox (a leased uid, seccomp, limits) as a run does, with ten
thousand identifiers collected from inputs (WebIDs, e-mail addresses, names, resource
addresses). The contact addresses are identifiers read from the inputs, at a property the shape
lets hold them, so the identifier check finds real matches instead of searching for absent ones.
In the same run, the same files are only read and parsed as Turtle. Rounds alternate A-B-C-C-B-A
so drift on a shared machine hits both alike. Building the identifier scanner (the Aho-Corasick
automata `leaks` searches with) happens once per run, while the algorithm runs, as the worker
does it; here before the gate is first used, and it is reported on its own (`scanner_build_ms`).

The worker starts the gate's sandbox while the algorithm runs (`gate.prepare`: bubblewrap, the
interpreter, rdflib and pySHACL imported; it then waits for that run's output only). So
`gate_ms_median` is timed as the worker meets it after a run longer than that start (about a
second): from the output on disk to the verdict, with a sandbox started and ready beforehand,
one per check and never reused. `gate_cold_ms_median` also counts starting the sandbox and its
imports (a run shorter than that, or `check_output` without `checker=`).

Prints `name=value` lines; the last is `gate_to_parse_ratio=<gate/parse>`.

    python bench/output_gate.py [--megabytes M] [--identifiers N] [--rounds R]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import string
import tempfile
import time
from pathlib import Path

from rdflib import Graph

from server.datacage.gate import GatePolicy, InputIdentifiers, PersonInputs, check_output, prepare

SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix ex: <https://example.org/common-customers#> .
ex:ReportShape a sh:NodeShape ;
    sh:targetClass ex:Report ;
    sh:closed true ;
    sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) ;
    sh:property [ sh:path ex:commonCustomers ; sh:datatype xsd:integer ; sh:minInclusive 0 ;
                  sh:minCount 1 ; sh:maxCount 1 ] ,
                [ sh:path dcg:individuals ; sh:datatype xsd:integer ; sh:maxCount 1 ] ,
                [ sh:path ex:region ; sh:datatype xsd:string ; sh:maxCount 1 ] ,
                [ sh:path ex:contact ; sh:datatype xsd:string ; sh:maxCount 1 ;
                  dcg:mayContainIdentifiers true ] .
"""
HEADER = """@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix ex: <https://example.org/common-customers#> .
"""
PER_PERSON = 5  # WebID, its profile document, the CSV's address, a name and an e-mail address


def _word(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def people(count: int, rng: random.Random) -> tuple[list[PersonInputs], list[str]]:
    result, emails = [], []
    for i in range(count):
        host = f"{_word(rng, 8)}{i}.pod.example"
        name = f"{_word(rng, 6).title()} {_word(rng, 9).title()}"
        email = f"{_word(rng, 7)}.{i}@{_word(rng, 6)}.example"
        csv = f"name,email\n{name},{email}\n".encode()
        emails.append(email)
        result.append(
            PersonInputs(
                f"https://{host}/profile/card#me", [(f"https://{host}/c.csv", "text/csv", csv)]
            )
        )
    return result, emails


def result_turtle(megabytes: float, rng: random.Random, emails: list[str]) -> bytes:
    lines = [HEADER]
    size, n = len(HEADER), 0
    while size < megabytes * 1_000_000:
        line = (
            f"ex:r{n} a ex:Report ; ex:commonCustomers {rng.randint(0, 999)} ; "
            f'dcg:individuals {rng.randint(5, 50)} ; ex:region "region {_word(rng, 12)}" ; '
            f'ex:contact "{emails[n % len(emails)]}" .\n'
        )
        lines.append(line)
        size += len(line)
        n += 1
    return "".join(lines).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--identifiers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(7)  # noqa: S311 (made-up data, repeatable; nothing secret)
    inputs, emails = people(args.identifiers // PER_PERSON, rng)
    identifiers = InputIdentifiers.collect(inputs)
    data = result_turtle(args.megabytes, rng, emails)
    started = time.perf_counter()
    identifiers.scanner  # noqa: B018 (built once per run, while the algorithm runs)
    scanner_ms = 1000 * (time.perf_counter() - started)
    policy = GatePolicy(shape=Graph().parse(data=SHAPE, format="turtle"), min_individuals=5)
    gate_times, cold_times, parse_times = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch, "out")

        def fresh_output() -> None:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            (folder / "result.ttl").write_bytes(data)

        def run_gate() -> None:
            fresh_output()
            checker = prepare(policy.limits)  # while the algorithm runs, in the worker
            if not checker.ready(60):
                raise SystemExit(f"the gate's sandbox did not start: {checker.log()}")
            started = time.perf_counter()
            verdict = check_output(
                folder, policy, identifiers, individuals_in_run=10_000, checker=checker
            )
            gate_times.append(time.perf_counter() - started)
            assert verdict.passed, verdict.reasons

        def run_cold_gate() -> None:
            fresh_output()
            started = time.perf_counter()
            verdict = check_output(folder, policy, identifiers, individuals_in_run=10_000)
            cold_times.append(time.perf_counter() - started)
            assert verdict.passed, verdict.reasons

        def run_parse() -> None:
            fresh_output()
            started = time.perf_counter()
            Graph().parse(data=(folder / "result.ttl").read_bytes().decode(), format="turtle")
            parse_times.append(time.perf_counter() - started)

        for round_ in range(args.rounds):
            order = [run_gate, run_parse, run_cold_gate]
            for action in order if round_ % 2 == 0 else reversed(order):
                action()
    gate_ms = 1000 * statistics.median(gate_times)
    cold_ms = 1000 * statistics.median(cold_times)
    parse_ms = 1000 * statistics.median(parse_times)
    print(f"output_bytes={len(data)}")
    print(f"identifiers={len(identifiers.values)}")
    print(f"scanner_build_ms={scanner_ms:.0f}")
    print(f"gate_ms_median={gate_ms:.0f}")
    print(f"parse_ms_median={parse_ms:.0f}")
    print(f"gate_cold_ms_median={cold_ms:.0f}")
    print(f"gate_cold_to_parse_ratio={cold_ms / parse_ms:.2f}")
    print(f"gate_to_parse_ratio={gate_ms / parse_ms:.2f}")


if __name__ == "__main__":
    main()
