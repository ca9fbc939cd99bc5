"""Every refusal becomes an HTML page for people or RFC 9457 problem details for programs.

Domain errors carry their own status and a message meant for the person; HTTP errors from
Werkzeug (404, 405, 413...) get a plain explanation; anything else is logged with its
traceback and answered with a 500 that shows only a reference to quote, never the trace.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    g,
    json,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..errors import DomainError, NotSignedIn, TooManyRequests, ValidationFailed
from .actor import TokenRejected

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_HTTP_EXPLANATIONS = {
    400: "The request could not be understood.",
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
    406: "We cannot answer in any of the formats your client asked for.",
    415: "This address does not accept that type of content.",
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(
        ["text/html", "application/json", PROBLEM_JSON], default="text/html"
    )
    return best in ("application/json", PROBLEM_JSON)


def problem(
    status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any
) -> Response:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    if g.get("request_id"):
        body["instance"] = f"urn:datacage:request:{g.request_id}"
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def _page(status: int, title: str, detail: str) -> Response:
    html = render_template("error.html", title=title, detail=detail, status=status)
    return Response(html, status=status, mimetype="text/html")


def on_domain_error(error: DomainError) -> Response:
    if isinstance(error, NotSignedIn) and not wants_json() and request.method == "GET":
        # A person following a link while signed out is sent to sign in, then back here.
        return redirect(url_for("signin.login_form", next=request.full_path.rstrip("?")), 303)
    extra: dict[str, Any] = {}
    if isinstance(error, ValidationFailed):
        extra["errors"] = error.fields
    if wants_json():
        response = problem(error.http_status, error.title, str(error), error.problem_type, **extra)
    else:
        response = _page(error.http_status, error.title, str(error))
    if isinstance(error, TokenRejected):
        response.headers["WWW-Authenticate"] = error.challenge
    elif isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    elif error.http_status == 401 and wants_json():
        response.headers["WWW-Authenticate"] = 'DPoP algs="ES256 PS256 RS256 EdDSA"'
    return response


def on_http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, RequestEntityTooLarge):
        limit = int(current_app.config["MAX_BUNDLE_MIB"])
        detail = f"What was sent is larger than this server accepts ({limit} MiB)."
    else:
        detail = _HTTP_EXPLANATIONS.get(status, error.description or "")
    title = error.name
    response = problem(status, title, detail) if wants_json() else _page(status, title, detail)
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def on_unexpected(error: Exception) -> Response:
    log.exception("unexpected error", extra={"path": request.path})
    detail = (
        "Something went wrong on our side; nothing you did caused it. "
        f"If it persists, quote reference {g.get('request_id', '-')}."
    )
    if wants_json():
        return problem(500, "Internal error", detail)
    return _page(500, "Something went wrong", detail)


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, on_domain_error)
    app.register_error_handler(HTTPException, on_http_error)
    app.register_error_handler(Exception, on_unexpected)
