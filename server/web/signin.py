"""Sign-in with a WebID: Solid-OIDC authorization code + PKCE + DPoP, as a confidential redirect.

A person gives their WebID (we find their identity provider in its profile) or names their
identity provider; we send them there with a fresh state, nonce and PKCE challenge kept in
the encrypted session; on their return `complete_login` checks all three, the issuer, the ID
token and that the WebID's own profile trusts that issuer. Only the WebID is kept: the tokens
are dropped, because signing in to this server needs no access to the person's pod.
"""

from __future__ import annotations

import logging
import secrets
import time

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from connectors.solid import errors as solid_errors
from connectors.solid.dpop import DPoPKey, ProofFactory
from connectors.solid.oidc import PendingLogin, begin_login, complete_login, fetch_webid_profile

from ..services import services
from ..spaces.validation import is_safe_iri
from . import csrf
from .identity import client_id, redirect_uri

log = logging.getLogger(__name__)

bp = Blueprint("signin", __name__)

_PENDING = "pending_login"
#: A sign-in not completed within this many seconds must be started again.
PENDING_SECONDS = 600


def safe_next(target: str | None) -> str:
    """Only a path on this server: never an address taken from the request unchecked."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return "/"
    return target


@bp.get("/login")
def login_form() -> str:
    return render_template("login.html", next=safe_next(request.args.get("next")), errors={})


@bp.post("/login")
def login_start() -> Response | tuple[str, int]:
    next_page = safe_next(request.form.get("next"))
    webid = request.form.get("webid", "").strip()
    issuer = request.form.get("issuer", "").strip()
    errors: dict[str, str] = {}
    try:
        if webid:
            issuer = _issuer_for(webid, issuer, errors)
        elif not issuer:
            errors["webid"] = "Give your WebID, or the address of your identity provider."
        elif not is_safe_iri(issuer):
            errors["issuer"] = "The identity provider must be a full http(s) address."
        if errors:
            return _form(next_page, webid, issuer, errors, _issuer_choices(webid, errors))
        metadata, _ = services().issuers.get(issuer)
    except solid_errors.SolidError as exc:
        field = "issuer" if not webid or errors.get("choose") else "webid"
        errors[field] = f"We could not reach your identity provider: {exc}"
        return _form(next_page, webid, issuer, errors, [])
    pending = begin_login(metadata, client_id=client_id(), redirect_uri=redirect_uri())
    session[_PENDING] = {**pending.to_dict(), "next": next_page, "started": time.time()}
    return redirect(pending.authorization_url, code=303)


@bp.get("/login/callback")
def login_callback() -> Response | tuple[str, int]:
    stored = session.pop(_PENDING, None)
    if (
        not isinstance(stored, dict)
        or time.time() - float(stored.get("started", 0)) > PENDING_SECONDS
    ):
        return _failed(
            "This sign-in was not started here, has already been used, or took too long."
        )
    try:
        pending = PendingLogin.from_dict(stored)
        metadata, jwks = services().issuers.get(pending.issuer)
        result = complete_login(
            services().http,
            metadata,
            pending,
            request.args.to_dict(),
            ProofFactory(DPoPKey.generate()),
            jwks,
        )
    except solid_errors.AuthenticationError as exc:
        log.info("sign-in refused", extra={"reason": str(exc)})
        return _failed(str(exc))
    except solid_errors.SolidError as exc:
        return _failed(f"Your identity provider could not be reached to finish signing in: {exc}")
    # A new session for the new identity: nothing from before sign-in carries over.
    session.clear()
    session.update(
        webid=result.webid,
        issuer=pending.issuer,
        signed_in_at=time.time(),
        **{csrf.FIELD: secrets.token_urlsafe(32)},
    )
    log.info("signed in", extra={"actor": result.webid, "issuer": pending.issuer})
    return redirect(safe_next(stored.get("next")), code=303)


@bp.post("/logout")
def logout() -> Response:
    if g.get("actor"):
        log.info("signed out", extra={"actor": g.actor})
    session.clear()
    return redirect(url_for("home.index"), code=303)


def _issuer_for(webid: str, chosen: str, errors: dict[str, str]) -> str:
    if not is_safe_iri(webid):
        errors["webid"] = (
            "A WebID is a full http(s) address, such as https://you.example/profile/card#me."
        )
        return ""
    try:
        issuers = list(fetch_webid_profile(services().http, webid).issuers)
    except solid_errors.SolidError as exc:
        errors["webid"] = f"We could not read the profile of this WebID: {exc}"
        return ""
    if not issuers:
        errors["webid"] = (
            "This WebID's profile names no identity provider (solid:oidcIssuer), "
            "so there is nowhere to sign in."
        )
        return ""
    if len(issuers) == 1:
        return issuers[0]
    if chosen in issuers:
        return chosen
    errors["choose"] = "Your profile names several identity providers; choose one."
    return ""


def _issuer_choices(webid: str, errors: dict[str, str]) -> list[str]:
    if "choose" not in errors:
        return []
    return list(fetch_webid_profile(services().http, webid).issuers)


def _form(next_page: str, webid: str, issuer: str, errors: dict[str, str], choices: list[str]):
    html = render_template(
        "login.html", next=next_page, webid=webid, issuer=issuer, errors=errors, choices=choices
    )
    return html, 422


def _failed(reason: str) -> tuple[str, int]:
    html = render_template("login.html", next="/", errors={"login": reason})
    return html, 400
