"""The space dashboard under gunicorn, against the space overview and /healthz in the same run.

The benchmark space of `control_plane.py` (four organisations, an algorithm, every approval) is
given a history: `--consents` people's consents spread over 90 days (one in seven withdrawn,
one in five with a short period that has ended), `--runs` runs (one in six blocked by the gate)
with two deliveries each, written through the same stores the pages read. Then the three
routes are measured as `control_plane.py` does (open loop at a fixed rate, latency from each
request's scheduled start; closed loop with 8 threads; phases A-B-C-C-B-A).

The dashboard reads five things (consents' dates, runs in brief, deliveries, datasets, the
audit head), each one registry query; its cost grows with the number of consents and runs
because the rows are counted in Python, not because of more queries.

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
from datetime import UTC, datetime, timedelta
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
)

from server import create_app
from server.consent.model import Consent, ConsentState, PodResource
from server.delivery import record_delivery
from server.runs.model import Attestation, Run, RunStatus
from server.services import services


def add_history(data_dir: str, base: str, space_id: str, people: int, runs: int) -> None:
    app = create_app({"DATA_DIR": data_dir, "PUBLIC_URL": base, "SECRET_KEY": SECRET})
    logging.disable(logging.INFO)  # a line per delivery written would bury the figures
    now = datetime.now(UTC)
    with app.app_context():
        shared = services()
        space = shared.spaces.get(space_id, ORGS[0])
        for n in range(people):
            history = shared.consents.history(space.iri, f"https://p{n}.example/profile/card#me")
            given = now - timedelta(days=n % 90, hours=n % 24)
            withdrawn = given + timedelta(days=1) if n % 7 == 0 else None
            history.consents.append(
                _consent(history.iri, space, history.subject, given, withdrawn, n % 5 == 0)
            )
            shared.consents.write(history)
        store = shared.runs.store
        evidence = Attestation("software-unattested", "m", space.algorithm.digest, "k" * 64)
        for n in range(runs):
            at = now - timedelta(hours=runs - n)
            blocked = n % 6 == 0
            run = store.create(
                Run(
                    id=f"bench{n}",
                    iri=store.iri_of(f"bench{n}"),
                    space_id=space.id,
                    space_iri=space.iri,
                    algorithm_digest=space.algorithm.digest,
                    terms_digest=space.terms_digest or "",
                    requested_by=ORGS[0],
                    requested_at=at,
                    status=RunStatus.FAILED if blocked else RunStatus.SUCCEEDED,
                    individuals_included=people,
                    individuals_read=people - n % 3,
                    started_at=at,
                    finished_at=at + timedelta(seconds=30),
                    gate_passed=not blocked,
                    attestation=evidence,
                )
            )
            for consumer in ORGS[2:]:
                body = {
                    "consumer": consumer,
                    "state": "failed" if blocked else "delivered",
                    "attempts": 1,
                    "location": None,
                    "detail": "Bench.",
                    "notified": False,
                }
                record_delivery(shared.registry(), run.iri, body, at, None)
        shared.close()


def _consent(history_iri, space, subject, given, withdrawn, short) -> Consent:
    return Consent(
        iri=f"{history_iri}/1",
        number=1,
        space_iri=space.iri,
        space_id=space.id,
        space_name=space.name,
        subject=subject,
        grantee="https://cage.example/profile/card#me",
        resources=(PodResource(subject.split("/profile")[0] + "/customers.ttl"),),
        purposes=space.terms.purposes,
        legal_basis=space.terms.legal_basis,
        controller=space.owner,
        consumers=tuple(space.consumers),
        algorithm_digest=space.algorithm.digest,
        terms_digest=space.terms_digest or "",
        recurring=False,
        started_at=given,
        expires_at=given + (timedelta(days=3) if short else timedelta(days=365)),
        state=ConsentState.WITHDRAWN if withdrawn else ConsentState.GIVEN,
        given_at=given,
        withdrawn_at=withdrawn,
    )


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
