"""The control plane: a Flask application (spaces, participants, consent, orchestration).

It never sees personal data: that stays in pods and in the datacage (the data plane).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask

from . import config
from .web import home, identity


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Application factory: nothing global happens at import time."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_prefixed_env("DATACAGE")  # Flask's own settings, e.g. SESSION_COOKIE_*
    app.config.update(config.from_environment(os.environ))
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    config.check(app.config)

    app.register_blueprint(home.bp)
    app.register_blueprint(identity.bp)
    return app
