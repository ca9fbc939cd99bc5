"""The landing page (a signed-in person's spaces and invitations) and the health check."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template

from ..services import services

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    spaces, invited = [], set()
    if g.actor:
        spaces = services().spaces.list_for(g.actor)
        invited = {s.id for s in spaces if s.participant(g.actor) is None}
    return render_template("index.html", spaces=spaces, invited_ids=invited)


@bp.get("/healthz")
def health():
    return jsonify(status="ok")
