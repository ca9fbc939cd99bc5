"""What the audit trail costs an action, and how fast `datacage audit verify` walks a chain.

The same space edit (`Spaces.update`: read, check, compare-and-swap write of the space's graph)
is timed through a service with the audit trail and through one without, on the same on-disk
embedded registry, in the same run; rounds alternate A-B-B-A so drift on this shared machine
hits both alike. Then a chain of `--entries` entries is verified end to end. All of it runs
three times: on the embedded store (pyoxigraph on disk), on `oxigraph serve` (the SPARQL 1.1
registry back end a deployment with several processes uses; figures suffixed `_sparql`) and,
with `--virtuoso`, on Virtuoso 7 (figures suffixed `_virtuoso`; a few times slower per append,
so not run by default), each on a fresh store.

Prints `name=value` lines; the last is `audit_overhead_ratio=<with audit / without>` (embedded).

    python bench/audit_trail.py [--edits N] [--rounds R] [--entries E] [--skip-sparql]
        [--virtuoso]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.solid.http import Http
from server.algorithms import BundleStore
from server.audit import AuditTrail, verify_space
from server.registry import EmbeddedRegistry
from server.registry.base import Registry
from server.registry.sparql import SparqlRegistry
from server.registry.virtuoso import VirtuosoRegistry
from server.spaces.actions import Spaces
from server.spaces.model import Role
from server.spaces.validation import check_space
from tests.support.oxigraph import OxigraphServer  # how the tests start `oxigraph serve`
from tests.support.virtuoso import VirtuosoServer  # and `virtuoso-t`

PUBLIC_URL = "http://localhost:5000/"
OWNER = "https://owner.example/profile/card#me"


def fields(n: int):
    return check_space(
        name=f"Bench {n}",
        description="A space edited over and over.",
        purposes=["Marketing"],
        legal_basis="Consent",
        retention="P90D",
        data_requests=[{"kind": "path", "target": "a.ttl", "description": "A"}],
    )


def timed_edits(spaces: Spaces, space_id: str, edits: int) -> float:
    start = time.perf_counter()
    for n in range(edits):
        spaces.update(space_id, OWNER, fields(n))
    return (time.perf_counter() - start) / edits


def measure(registry: Registry, folder: str, args: argparse.Namespace) -> dict[str, float]:
    trail = AuditTrail(lambda: registry, PUBLIC_URL)
    common = dict(
        bundles=BundleStore(Path(folder) / "bundles"),
        http=Http(),
        public_url=PUBLIC_URL,
        max_bundle_bytes=1 << 20,
    )
    audited = Spaces(lambda: registry, audit=trail, **common)
    plain = Spaces(lambda: registry, **common)
    space = plain.create(OWNER, fields(0), frozenset(Role))
    timed_edits(audited, space.id, 20)  # warm up both paths
    timed_edits(plain, space.id, 20)
    with_audit, without = [], []
    for round_ in range(args.rounds):
        order = (audited, plain) if round_ % 2 == 0 else (plain, audited)
        for service in order:
            seconds = timed_edits(service, space.id, args.edits)
            (with_audit if service is audited else without).append(seconds)
    figures = {
        "edit_without_audit_ms": statistics.median(without) * 1000,
        "edit_with_audit_ms": statistics.median(with_audit) * 1000,
    }
    long_space = PUBLIC_URL + "spaces/benchchain"
    start = time.perf_counter()
    for n in range(args.entries):
        trail.record(long_space, "space-edited", OWNER, f"Edit {n}.")
    figures["audit_append_per_s"] = args.entries / (time.perf_counter() - start)
    start = time.perf_counter()
    intact = verify_space(trail, registry, long_space)
    walked = time.perf_counter() - start
    assert intact.entries == args.entries
    figures["audit_verify_entries"] = intact.entries
    figures["audit_verify_entries_per_s"] = intact.entries / walked
    figures["audit_overhead_ratio"] = statistics.median(with_audit) / statistics.median(without)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--skip-sparql", action="store_true")
    parser.add_argument("--virtuoso", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        with EmbeddedRegistry(f"{folder}/r") as registry:
            embedded = measure(registry, f"{folder}/embedded", args)
        sparql: dict[str, float] = {}
        if not args.skip_sparql:
            with OxigraphServer(Path(folder) / "oxigraph") as server:
                remote = SparqlRegistry(server.query_url, server.update_url)
                try:
                    sparql = measure(remote, f"{folder}/sparql", args)
                finally:
                    remote.close()
        virtuoso: dict[str, float] = {}
        if args.virtuoso:
            with (
                VirtuosoServer() as server,
                VirtuosoRegistry(server.registry_url, timeout=60) as remote,
            ):
                virtuoso = measure(remote, f"{folder}/virtuoso", args)
    for name, value in sparql.items():
        print(f"{name}_sparql={value:.3f}")
    for name, value in virtuoso.items():
        print(f"{name}_virtuoso={value:.3f}")
    for name, value in embedded.items():
        if name != "audit_overhead_ratio":
            print(f"{name}={value:.3f}")
    print(f"audit_overhead_ratio={embedded['audit_overhead_ratio']:.2f}")


if __name__ == "__main__":
    main()
