"""The landing page and the health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    return render_template("index.html")


@bp.get("/healthz")
def health():
    return jsonify(status="ok")
