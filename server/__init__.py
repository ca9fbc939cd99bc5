"""The control plane: a Flask application (spaces, participants, consent, orchestration).

It never sees personal data: that stays in pods and in the datacage (the data plane).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request

from . import config, logs

log = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Application factory: nothing global happens at import time.

    The web layer is imported here rather than at the top, so that `import server.registry`
    (or any other inner package) does not pull in the whole application.
    """
    from .web import csrf, errors, ratelimits, sessions

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_prefixed_env("DATACAGE")  # Flask's own settings, e.g. SESSION_COOKIE_*
    app.config.update(config.from_environment(os.environ))
    if test_config:
        app.config.from_mapping(test_config)
    config.check(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_BUNDLE_MIB"]) * 2**20 + 64 * 1024
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    if str(app.config["PUBLIC_URL"]).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.session_interface = sessions.EncryptedCookieSessionInterface()
    logs.configure(app.config["LOG_FORMAT"])

    _register_blueprints(app)
    errors.init_app(app)
    app.before_request(_before)
    ratelimits.init_app(app)  # after _before: the caller is known
    app.after_request(_after)
    app.jinja_env.globals.update(csrf_token=csrf.token)
    _register_template_helpers(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from .web import api, consent, datacage_api, home, identity, my_data, runs, signin, spaces
    from .web import audit as audit_pages

    for blueprint in (
        home.bp,
        identity.bp,
        signin.bp,
        spaces.bp,
        consent.bp,
        my_data.bp,
        runs.bp,
        api.bp,
        datacage_api.bp,
        audit_pages.bp,
    ):
        app.register_blueprint(blueprint)
    from .web import push_api  # organisations' pushed datasets (docs/push.md)

    app.register_blueprint(push_api.bp)
    from .web.results import bp as results_bp  # where consumers want results

    app.register_blueprint(results_bp)
    from .web.dashboard import bp as dashboard_bp  # a space's figures, drawn

    app.register_blueprint(dashboard_bp)
    from .web.schedule_api import bp as schedule_bp  # recurring runs, consent expiry

    app.register_blueprint(schedule_bp)


def _register_template_helpers(app: Flask) -> None:
    from .spaces import catalogue
    from .web.forms import UNITS, describe_duration

    app.jinja_env.globals.update(
        purposes=catalogue.purposes,
        legal_bases=catalogue.legal_bases,
        label_of=catalogue.label_of,
        retention_units=UNITS,
        describe_duration=describe_duration,
    )


def _before() -> None:
    from .web import actor, csrf

    g.request_id = secrets.token_hex(8)
    g.started = time.perf_counter()
    g.actor, g.auth = None, None
    if request.endpoint in ("static", "home.health"):
        return
    actor.identify()
    csrf.check()


def _after(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
        )
    if request.endpoint != "home.health":
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,  # never the query: a sign-in callback carries its code there
                "status": response.status_code,
                "ms": round(
                    (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1
                ),
                "request_id": g.get("request_id"),
                "actor": g.get("actor"),
            },
        )
    return response


def _secret_key(app: Flask) -> str:
    """A key made once and kept (0600) in DATA_DIR, so sessions survive restarts and workers.

    Tests without a DATA_DIR get a random key in memory rather than writing into the package.
    """
    if app.config.get("TESTING") and not app.config.get("DATA_DIR"):
        return secrets.token_hex(32)
    from .services import data_dir

    path = data_dir(app) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_hex(32))
    return _read_key(path)


def _read_key(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        raise config.ConfigError(f"{path} is readable by others; run: chmod 600 {path}")
    key = path.read_text().strip()
    if len(key) < 32:
        raise config.ConfigError(f"{path} holds no usable key; delete it to make a new one.")
    return key
