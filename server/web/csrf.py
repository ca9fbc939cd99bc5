"""Cross-site request forgery protection for everything a browser sends with its cookie.

A random token lives in the (encrypted) session and in every form; an unsafe request
authenticated by the cookie must carry it back, in the form field or the X-CSRF-Token header.
Requests authenticated by a DPoP-bound access token need none: a browser never attaches one
on its own. The Origin header, when present, must also be ours.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import current_app, g, request, session
from markupsafe import Markup

from ..errors import NotAuthorized

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


#: What a kept page body (rendered once, shown to many views) carries where its forms' token
#: goes; each view puts the viewer's own token in its place (`filled`). Random per process, so
#: nothing a user writes into a space can contain it.
PLACEHOLDER = "csrf-placeholder-" + secrets.token_hex(16)


class CsrfRejected(NotAuthorized):
    title = "This form could not be accepted"
    problem_type = "/api/problems/csrf"


def token() -> str:
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return session[FIELD]


def filled(body: Markup) -> Markup:
    """A kept body with this session's token in place of the placeholder."""
    return body.replace(PLACEHOLDER, token())


def check() -> None:
    """Before each request (after the actor is known)."""
    if request.method in SAFE_METHODS or g.get("auth") == "dpop":
        return
    if g.get("actor") is None and request.path.startswith("/api/"):
        return  # nobody to impersonate: the action itself answers 401 with a DPoP challenge
    origin = request.headers.get("Origin")
    if origin and origin != "null" and _origin(origin) != _origin(current_app.config["PUBLIC_URL"]):
        raise CsrfRejected("This request came from another site, so it was not carried out.")
    expected = session.get(FIELD)
    sent = request.headers.get(HEADER) or request.form.get(FIELD) or ""
    if not expected or not hmac.compare_digest(str(expected).encode(), sent.encode()):
        reason = (
            "Your session has expired or was changed"
            if getattr(session, "rejected_cookie", False) or not expected
            else "This form is out of date or did not come from this site"
        )
        raise CsrfRejected(f"{reason}; nothing was changed. Please reload the page and try again.")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
