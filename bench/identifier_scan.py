"""What the identifier scan costs, against parsing the same output with rdflib alone.

Ten thousand identifiers collected from inputs (WebIDs, profile documents, resource addresses,
names, e-mail addresses) are turned into every form the scan knows (re-spelt, reversed,
encoded, hashed: `server.datacage.gate.scan`), once per run (`scanner_build_ms`, reported on its
own). Then, in the same run, a result of about 1 MB (report nodes with counts, labels and, on
one node in ten, a hex digest and a Base64 token, so the hash and Base64 paths do work) is
searched for them by `server.datacage.gate.leaks.identifier_problems` (every term, then the raw
bytes), and the same bytes are only parsed as Turtle. Rounds alternate A-B-B-A so drift on a
shared machine hits both alike.

Prints `name=value` lines; the last is `identifier_scan_ratio=<scan/parse>`.

    python bench/identifier_scan.py [--megabytes M] [--identifiers N] [--rounds R]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import statistics
import string
import time

from rdflib import Graph

from server.datacage.gate import InputIdentifiers, PersonInputs
from server.datacage.gate.leaks import identifier_problems

SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://example.org/survey#> .
ex:ReportShape a sh:NodeShape ; sh:targetClass ex:Report .
"""
HEADER = """@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix ex: <https://example.org/survey#> .
"""
PER_PERSON = 5  # WebID, its profile document, the CSV's address, a name and an e-mail address


def _word(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def people(count: int, rng: random.Random) -> list[PersonInputs]:
    found = []
    for i in range(count):
        host = f"{_word(rng, 8)}{i}.pod.example"
        name = f"{_word(rng, 6).title()} {_word(rng, 9).title()}"
        email = f"{_word(rng, 7)}.{i}@{_word(rng, 6)}.example"
        csv = f"name,email\n{name},{email}\n".encode()
        found.append(
            PersonInputs(
                f"https://{host}/profile/card#me", [(f"https://{host}/c.csv", "text/csv", csv)]
            )
        )
    return found


def result_turtle(megabytes: float, rng: random.Random) -> bytes:
    lines = [HEADER]
    size, n = len(HEADER), 0
    while size < megabytes * 1_000_000:
        extra = ""
        if n % 10 == 0:
            digest = hashlib.sha256(_word(rng, 20).encode()).digest()
            token = base64.b64encode(rng.randbytes(30)).decode()
            extra = f'ex:digest "{digest.hex()}" ; ex:token "{token}" ; '
        line = (
            f"ex:r{n} a ex:Report ; ex:orders {rng.randint(0, 999)} ; {extra}"
            f'dcg:individuals {rng.randint(5, 50)} ; ex:label "region {_word(rng, 12)}" .\n'
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
    rng = random.Random(11)  # noqa: S311 (made-up data, repeatable; nothing secret)
    data = result_turtle(args.megabytes, rng)
    identifiers = InputIdentifiers.collect(people(args.identifiers // PER_PERSON, rng))
    started = time.perf_counter()
    identifiers.scanner  # noqa: B018 (built once per run, before the gate first uses it)
    build_ms = 1000 * (time.perf_counter() - started)
    shape = Graph().parse(data=SHAPE, format="turtle")
    graph = Graph().parse(data=data.decode(), format="turtle")
    scan_times, parse_times = [], []

    def run_scan() -> None:
        started = time.perf_counter()
        problems = identifier_problems(graph, shape, {"result.ttl": data}, identifiers)
        scan_times.append(time.perf_counter() - started)
        assert not problems, problems  # made-up words: nothing to find

    def run_parse() -> None:
        started = time.perf_counter()
        Graph().parse(data=data.decode(), format="turtle")
        parse_times.append(time.perf_counter() - started)

    for round_ in range(args.rounds):
        first, second = (run_scan, run_parse) if round_ % 2 == 0 else (run_parse, run_scan)
        first()
        second()
    scan_ms = 1000 * statistics.median(scan_times)
    parse_ms = 1000 * statistics.median(parse_times)
    print(f"output_bytes={len(data)}")
    print(f"identifiers={len(identifiers.values)}")
    print(f"scanner_build_ms={build_ms:.0f}")
    print(f"scan_ms_median={scan_ms:.0f}")
    print(f"parse_ms_median={parse_ms:.0f}")
    print(f"identifier_scan_ratio={scan_ms / parse_ms:.2f}")


if __name__ == "__main__":
    main()
