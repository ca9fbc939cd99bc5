"""A space's dashboard page: consents over time, runs and their verdicts, deliveries, data flow.

Thin like every view: one `Dashboard.figures` call gathers the figures, `dashboard.charts`
draws them as inline SVG (the CSP allows no script), the template adds a table under each.

The page's content (`dashboard_main.html`: figures, drawings, tables) is a function of the
space's record and of the figures alone, so it is kept by the dashboard service under a key
naming all of them: the space's revision, the stamp the runs and deliveries were read at, and
every figure from elsewhere (consents per day, datasets, the audit head, the flow). Any change
of one is a new key, so a view never shows a page older than its figures. Only the frame
around it (who is signed in, the CSRF token) is rendered each time.
"""

from __future__ import annotations

from collections.abc import Hashable

from flask import Blueprint, Flask, g, render_template, request
from markupsafe import Markup

from ..dashboard import Dashboard, charts
from ..dashboard.figures import Figures
from ..services import services
from ..spaces.model import Space

bp = Blueprint("dashboard", __name__)


def dashboard(app: Flask | None = None) -> Dashboard:
    """The dashboard service of this application (kept with the others on `services()`)."""
    return services(app).dashboard


@bp.get("/spaces/<space_id>/dashboard")
def page(space_id: str) -> str:
    now = services().spaces.clock()
    service = dashboard()
    space, figures = service.figures(space_id, g.actor, now)
    key = content_key(space, figures)
    if key is None:
        main = _content(space, figures)
    else:
        main = service.pages.get_or_make(key, lambda: _content(space, figures))
    return render_template("dashboard.html", space=space, main=main)


def content_key(space: Space, figures: Figures) -> Hashable | None:
    """Everything the page's content depends on, or None when its runs and deliveries were read
    without an activity counter (nothing says when they change: never kept)."""
    if figures.stamp is None:
        return None
    return (
        request.script_root,  # the links' paths
        space.iri,
        space.revision,
        space.name,
        space.status,
        bool(space.terms.data_requests),
        figures.stamp,  # the runs, the deliveries and what is drawn from them
        tuple(figures.days),
        figures.more_days,
        figures.consents_in_force,
        figures.consents_given,
        figures.consents_withdrawn,
        figures.consents_expired,
        figures.datasets,
        figures.audit_length,
        figures.audit_head,
        figures.flow,
    )


def _content(space: Space, figures: Figures) -> Markup:
    return Markup(  # noqa: S704 - a template's output, escaped by Jinja's autoescape
        render_template(
            "dashboard_main.html",
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
    )
