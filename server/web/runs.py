"""Runs as participants see them: start one, follow its progress, read how it ended.

This is the code provider's view of a run: status, the stage the datacage reached and coarse
progress, the duration, and how it ended as a fixed outcome code with its wording
(`server.protocol.outcomes`). Never the inputs, never who they came from, never words the algorithm
chose (its log stays in the datacage): people appear as counts only, and only from the space's
k up. A result's digest and size are shown to its consumers, who receive it anyway.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, url_for
from flask import Response as FlaskResponse
from werkzeug.wrappers import Response

from ..destinations import statuses_of
from ..protocol.outcomes import PullTransport
from ..runs.actions import Runs
from ..runs.pull_progress import for_page
from ..services import services

bp = Blueprint("runs", __name__)


def _runs() -> Runs:
    return services().runs


@bp.post("/spaces/<space_id>/runs")
def start(space_id: str) -> Response:
    run = _runs().start(space_id, g.actor)
    return redirect(url_for("runs.show", space_id=space_id, run_id=run.id), 303)


@bp.get("/spaces/<space_id>/runs")
def index(space_id: str) -> str:
    space = services().spaces.get(space_id, g.actor)
    return render_template("runs.html", space=space, runs=_runs().of_space(space_id, g.actor))


@bp.get("/spaces/<space_id>/runs/<run_id>")
def show(space_id: str, run_id: str) -> str:
    space, run = _runs().get(space_id, run_id, g.actor)
    deliveries = statuses_of(services().registry, run.iri)  # what became of each consumer's copy
    return render_template(
        "run.html",
        space=space,
        run=run,
        deliveries=deliveries,
        transports=PullTransport,
        pod_servers=for_page(run.pod_servers),
        # A finished run's read count below k is not shown; the per-server counts would tell it.
        pod_counts_hidden=run.status.finished and not run.individuals_read,
    )


@bp.get("/spaces/<space_id>/runs/<run_id>/evidence.json")
def evidence(space_id: str, run_id: str) -> FlaskResponse:
    """The attestation evidence the datacage presented, for `datacage verify`."""
    _, run = _runs().get(space_id, run_id, g.actor)
    if run.attestation is None or not run.attestation.evidence:
        abort(404)
    return FlaskResponse(
        run.attestation.evidence,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="run-{run.id}-evidence.json"'},
    )
