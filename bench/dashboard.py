"""The space dashboard under gunicorn, against the space overview and /healthz in the same run.

The benchmark space of `control_plane.py` (four organisations, an algorithm, every approval) is
given a history: `--consents` people's consents spread over 90 days (one in seven withdrawn,
one in five with a short period that has ended), `--runs` runs (one in six blocked by the gate)
with two deliveries each, written through the same stores the pages read. Then the three
routes are measured as `control_plane.py` does (open loop at a fixed rate, latency from each
request's scheduled start; closed loop with 8 threads; phases A-B-C-C-B-A).

The dashboard reads a handful of things (the consent counters, runs in brief, deliveries
counted by state, datasets, the audit head), each one registry query; the consents' cost does
not grow with their number (the counters are kept as consents are written: docs/registry.md),
the runs' grows with the runs. `scale.py` compares a space of 100 000 consents with one of 100.

Prints `name=value` lines; the last is `dashboard_p99_ms_at_rate`.

    python bench/dashboard.py [--rate 10] [--seconds 6] [--consents 1000] [--runs 40]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from control_plane import (  # the sibling script, found from this folder
    ORGS,
    SECRET,
    Route,
    free_port,
    measure,
    print_figures,
    seed,
    session_cookie,
    start_server,
    write_history,
)

from server import create_app
from server.services import services


def add_history(data_dir: str, base: str, space_id: str, people: int, runs: int) -> None:
    app = create_app({"DATA_DIR": data_dir, "PUBLIC_URL": base, "SECRET_KEY": SECRET})
    logging.disable(logging.INFO)  # a line per delivery written would bury the figures
    with app.app_context():
        shared = services()
        write_history(shared, shared.spaces.get(space_id, ORGS[0]), people, runs, "bench")
        shared.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--consents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="datacage-bench-") as data_dir:
        port = free_port()
        base = f"http://localhost:{port}/"
        space_id = seed(data_dir, base)
        add_history(data_dir, base, space_id, args.consents, args.runs)
        cookie = session_cookie(base)
        server = start_server(data_dir, port)
        try:
            routes = [
                Route("healthz", base + "healthz", None, "application/json"),
                Route("overview", f"{base}spaces/{space_id}", cookie, "text/html"),
                Route("dashboard", f"{base}spaces/{space_id}/dashboard", cookie, "text/html"),
            ]
            figures = measure(routes, args.rate, args.seconds, warmup=10)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)

    print(
        f"rate={args.rate:g} req/s, {args.seconds:g} s per route, {args.consents} consents, "
        f"{args.runs} runs, gunicorn 1 worker x 8 threads"
    )
    print_figures(figures, "dashboard_p99_ms_at_rate")


if __name__ == "__main__":
    main()
