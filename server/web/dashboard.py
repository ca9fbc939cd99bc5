"""A space's dashboard page: consents over time, runs and their verdicts, deliveries, data flow.

Thin like every view: one `Dashboard.figures` call gathers the figures, `dashboard.charts`
draws them as inline SVG (the CSP allows no script), the template adds a table under each.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, render_template

from ..dashboard import Dashboard, charts
from ..services import services

bp = Blueprint("dashboard", __name__)


def dashboard(app: Flask | None = None) -> Dashboard:
    """The dashboard service of this application (kept with the others on `services()`)."""
    return services(app).dashboard


@bp.get("/spaces/<space_id>/dashboard")
def page(space_id: str) -> str:
    now = services().spaces.clock()
    space, figures = dashboard().figures(space_id, g.actor, now)
    return render_template(
        "dashboard.html",
        space=space,
        figures=figures,
        flow=charts.flow_drawing(space.name, figures.flow),
        consents_chart=charts.consents_chart(figures.days) if figures.days else None,
        runs_chart=charts.runs_chart(
            figures.charted_runs, first=len(figures.runs) - len(figures.charted_runs) + 1
        )
        if figures.runs
        else None,
    )
