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

Each process keeps the runs, deliveries and the drawn page while the space's activity counter
and figures do not move (docs/spaces.md), so the HTTP figures measure a kept page. Before them,
in this process with Flask's test client, the service time of a view (median of
`--views`) is measured in alternation: a repeat view (`dashboard_kept_ms`), a view right
after a run's record was written (`dashboard_after_run_write_ms`: runs, deliveries and
drawings read and made again), the same two for the overview, which is kept under the space's
and datasets' revisions (`overview_kept_ms`, and `overview_after_space_write_ms`: the space
and its datasets read and the page body rendered again), and the `/healthz` baseline
(`healthz_inprocess_ms`).

Prints `name=value` lines; the last is `dashboard_p99_ms_at_rate`.

    python bench/dashboard.py [--rate 10] [--seconds 6] [--consents 1000] [--runs 40] [--views 30]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

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


def in_process(data_dir: str, base: str, space_id: str, views: int) -> dict[str, float]:
    """Service times with Flask's test client: kept views, views after a write, healthz."""
    app = create_app({"DATA_DIR": data_dir, "PUBLIC_URL": base, "SECRET_KEY": SECRET})
    client = app.test_client()
    client.set_cookie("session", session_cookie(base), domain=urlsplit(base).hostname)
    page, overview = f"/spaces/{space_id}/dashboard", f"/spaces/{space_id}"
    samples: dict[str, list[float]] = {
        name: [] for name in ("kept", "after_run_write", "overview", "after_space", "healthz")
    }
    with app.app_context():
        shared = services()
        run_id = shared.runs.store.summaries(shared.spaces.get(space_id, ORGS[0]).iri)[-1].id

        def timed(path: str) -> float:
            began = time.perf_counter()
            response = client.get(path, base_url=base)
            took = (time.perf_counter() - began) * 1000
            assert response.status_code == 200, response.status_code
            return took

        timed(page)
        timed(overview)
        for _ in range(views):
            shared.spaces.store.change(space_id, lambda space, now: None)  # a new revision
            samples["after_space"].append(timed(overview))
            timed(page)  # the dashboard shows the space too: read again here, not measured
            samples["kept"].append(timed(page))
            samples["overview"].append(timed(overview))
            shared.runs.store.change(run_id, lambda run: None)  # a progress report's write
            samples["after_run_write"].append(timed(page))
            samples["healthz"].append(timed("/healthz"))
        shared.close()
    return {
        "dashboard_kept_ms": statistics.median(samples["kept"]),
        "dashboard_after_run_write_ms": statistics.median(samples["after_run_write"]),
        "overview_kept_ms": statistics.median(samples["overview"]),
        "overview_after_space_write_ms": statistics.median(samples["after_space"]),
        "healthz_inprocess_ms": statistics.median(samples["healthz"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--consents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--views", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="datacage-bench-") as data_dir:
        port = free_port()
        base = f"http://localhost:{port}/"
        space_id = seed(data_dir, base)
        add_history(data_dir, base, space_id, args.consents, args.runs)
        service = in_process(data_dir, base, space_id, args.views)
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
    print_figures(service | figures, "dashboard_p99_ms_at_rate")


if __name__ == "__main__":
    main()
