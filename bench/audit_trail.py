"""What the audit trail costs an action, and how fast `datacage audit verify` walks a chain.

The same space edit (`Spaces.update`: read, check, compare-and-swap write of the space's graph)
is timed through a service with the audit trail and through one without, on the same on-disk
embedded registry, in the same run; rounds alternate A-B-B-A so drift on this shared machine
hits both alike. Then a chain of `--entries` entries is verified end to end.

Prints `name=value` lines; the last is `audit_overhead_ratio=<with audit / without>`.

    python bench/audit_trail.py [--edits N] [--rounds R] [--entries E]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from connectors.solid.http import Http
from server.algorithms import BundleStore
from server.audit import AuditTrail, verify_space
from server.registry import EmbeddedRegistry
from server.spaces.actions import Spaces
from server.spaces.model import Role
from server.spaces.validation import check_space

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--entries", type=int, default=2000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder, EmbeddedRegistry(f"{folder}/r") as registry:
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
        print(f"edit_without_audit_ms={statistics.median(without) * 1000:.3f}")
        print(f"edit_with_audit_ms={statistics.median(with_audit) * 1000:.3f}")

        long_space = PUBLIC_URL + "spaces/benchchain"
        start = time.perf_counter()
        for n in range(args.entries):
            trail.record(long_space, "space-edited", OWNER, f"Edit {n}.")
        appended = time.perf_counter() - start
        print(f"audit_append_per_s={args.entries / appended:.0f}")
        start = time.perf_counter()
        intact = verify_space(trail, registry, long_space)
        walked = time.perf_counter() - start
        assert intact.entries == args.entries
        print(f"audit_verify_entries={intact.entries}")
        print(f"audit_verify_entries_per_s={intact.entries / walked:.0f}")
        print(
            f"audit_overhead_ratio={statistics.median(with_audit) / statistics.median(without):.2f}"
        )


if __name__ == "__main__":
    main()
