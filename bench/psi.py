"""Private matching: DataFuse against OpenMined's PSI and against the machine's floor.

Two parties hold ``--size`` e-mail addresses each (default 100 000), a tenth of them shared.
In the same run:

- ``datafuse.match`` (X25519, every core: each party blinds its own set, then the other's) in
  labelled mode, so the exact intersection is known and checked;
- the same with one worker (``workers=1``: no forked processes), the fair comparison with
  OpenMined's library, which uses one core;
- PyPI ``openmined-psi`` 2.0.6 (ECDH PSI over P-256, one core, as it ships), the server's set
  sent as a Golomb-compressed setup message, the client learning the intersection;
- the plain-set intersection both must equal.

The *floor* is what the scalar multiplications alone cost on this machine: their number times
one multiplication's measured cost (``cryptography``'s X25519 ``exchange``, median of rounds
taken before and after), divided by the cores used. ``psi_vs_floor`` is our time over it.
The machine may be shared: figures are noisy, ratios hold better.

    python bench/psi.py [--size N] [--overlap 0.1] [--skip-openmined]

``psi_speedup_vs_openmined`` compares our every-core run with OpenMined's one core: it flatters
us by the core count. ``psi_speedup_vs_openmined_1worker`` is the like-for-like figure.

Prints ``name=value`` lines; the last is ``psi_speedup_vs_openmined_1worker`` (or
``psi_vs_floor`` with ``--skip-openmined``).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import time

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from datafuse import PartySet, match
from datafuse.parallel import available_cores


def addresses(size: int, overlap: float, seed: int = 7) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret

    def address(i: int) -> str:
        local = "".join(rng.choices(string.ascii_lowercase, k=8))
        return f"{local}.{i}@{rng.choice(('shop', 'mail', 'bank'))}{i % 97}.example"

    common = int(size * overlap)
    pool = [address(i) for i in range(2 * size - common)]
    first, second = pool[:size], pool[size - common :]
    rng.shuffle(second)
    return first, second


def multiplication_cost(rounds: int = 5, count: int = 4000) -> float:
    """Seconds per X25519 scalar multiplication, median of ``rounds``."""
    key = X25519PrivateKey.generate()
    point = X25519PublicKey.from_public_bytes(bytes([9]) + bytes(31))
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(count):
            key.exchange(point)
        samples.append((time.perf_counter() - started) / count)
    return statistics.median(samples)


def parallel_multiplication_cost(cores: int, count: int = 4000) -> float:
    """Seconds per multiplication with every core multiplying at once: the floor as the machine
    (shared with others right now) really delivers it."""
    started = time.perf_counter()
    children = []
    for _ in range(cores - 1):
        pid = os.fork()
        if pid == 0:
            try:
                multiplication_cost(1, count)
            finally:
                os._exit(0)
        children.append(pid)
    multiplication_cost(1, count)
    for pid in children:
        os.waitpid(pid, 0)
    return (time.perf_counter() - started) / (count * cores)


def run_datafuse(
    first: list[str], second: list[str], workers: int | None = None
) -> tuple[float, set[int], int]:
    started = time.perf_counter()
    found = match(
        [PartySet("a", first, [{"i": i} for i in range(len(first))]), PartySet("b", second)],
        labels_from="a",
        workers=workers,
    )
    elapsed = time.perf_counter() - started
    return elapsed, {label["i"] for label in found.labels or []}, found.multiplications


def run_openmined(first: list[str], second: list[str]) -> tuple[float, set[int]]:
    import private_set_intersection.python as psi  # the bench extra: make bench installs it

    started = time.perf_counter()
    client = psi.client.CreateWithNewKey(True)
    server = psi.server.CreateWithNewKey(True)
    setup = psi.ServerSetup()
    setup.ParseFromString(server.CreateSetupMessage(1e-9, len(first), second).SerializeToString())
    request = psi.Request()
    request.ParseFromString(client.CreateRequest(first).SerializeToString())
    response = psi.Response()
    response.ParseFromString(server.ProcessRequest(request).SerializeToString())
    indices = set(client.GetIntersection(setup, response))
    return time.perf_counter() - started, indices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--overlap", type=float, default=0.1)
    parser.add_argument("--skip-openmined", action="store_true")
    args = parser.parse_args()

    first, second = addresses(args.size, args.overlap)
    theirs_set = set(second)
    expected = {i for i, value in enumerate(first) if value in theirs_set}
    cores = available_cores()
    cost_before = multiplication_cost()
    ours, found, multiplications = run_datafuse(first, second)
    cost = statistics.median([cost_before, multiplication_cost()])
    assert found == expected, "datafuse's intersection differs from the plain one"
    floor = multiplications * cost / cores
    print(f"size={args.size}")
    print(f"common={len(expected)}")
    print(f"cores={cores}")
    print(f"x25519_mult_us={cost * 1e6:.1f}")
    print(f"datafuse_multiplications={multiplications}")
    print(f"floor_s={floor:.2f}")
    print(f"parallel_floor_s={multiplications * parallel_multiplication_cost(cores):.2f}")
    print(f"datafuse_s={ours:.2f}")
    single, found_single, _ = run_datafuse(first, second, workers=1)
    assert found_single == expected, "datafuse's one-worker intersection differs from the plain one"
    print(f"datafuse_1worker_s={single:.2f}")
    print(f"psi_1worker_vs_floor={single / (multiplications * cost):.2f}")
    if args.skip_openmined:
        print(f"psi_vs_floor={ours / floor:.2f}")
        return
    print(f"psi_vs_floor={ours / floor:.2f}")
    theirs, indices = run_openmined(first, second)
    assert indices == expected, "openmined-psi's intersection differs from the plain one"
    print(f"openmined_s={theirs:.2f}")
    print(f"psi_speedup_vs_openmined={theirs / ours:.2f}")
    print(f"psi_speedup_vs_openmined_1worker={theirs / single:.2f}")


if __name__ == "__main__":
    main()
