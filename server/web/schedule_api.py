"""The schedule's ticks: what a fleet's beat (or a single worker's timer) asks the control plane
to do at intervals. docs/operations.md, "Schedules".

    POST /api/datacage/schedule/recurring  -> {"started": [run id], "lost": [space id]}
    POST /api/datacage/schedule/expiry     -> {"expired": N, "cleaned": N, "left": N}

Only the deployment's datacage may tick (the same check as its job protocol). The tick carries
nothing but its name: what is due is decided here, from the registry, so a tick sent twice, or
by two beats at once, does no more than one (`server.runs.recurring`; the expiry sweep only
touches consents still recorded as given). The work runs where the registry is, so any
registry back end works, the embedded single-process store included.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, g, jsonify

from ..consent.expiry import expire_consents
from ..runs.recurring import start_due
from ..services import services
from ..spaces.permissions import signed_in

bp = Blueprint("schedule_api", __name__, url_prefix="/api/datacage/schedule")


@bp.before_request
def _require_sign_in() -> None:
    signed_in(g.actor)


@bp.post("/recurring")
def recurring() -> Response:
    interval = float(current_app.config["RECURRING_INTERVAL"])
    report = start_due(services().runs, g.actor, interval)
    return jsonify({"started": report.started, "lost": report.lost})


@bp.post("/expiry")
def expiry() -> Response:
    found = services()
    found.runs.require_datacage(g.actor)
    report = expire_consents(found.consents, found.vault, found.http, lambda: datetime.now(UTC))
    return jsonify(
        {"expired": len(report.expired), "cleaned": len(report.cleaned), "left": len(report.left)}
    )
