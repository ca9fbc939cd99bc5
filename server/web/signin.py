"""Sign-in with a WebID: Solid-OIDC authorization code + PKCE + DPoP, as a confidential redirect.

A person gives their WebID (we find their identity provider in its profile) or names their
identity provider; we send them there with a fresh state, nonce and PKCE challenge kept in
the encrypted session; on their return `complete_login` checks all three, the issuer, the ID
token and that the WebID's own profile trusts that issuer.

A plain sign-in keeps only the WebID: the tokens are dropped, because using this server needs
no access to the person's pod. A sign-in started for consent or withdrawal (`purpose="pod"`)
keeps the person's pod session sealed on the server for the few minutes of that flow
(`pod_session`), and the flow deletes it when it ends.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from connectors.solid import errors as solid_errors
from connectors.solid.dpop import DPoPKey, ProofFactory
from connectors.solid.oidc import (
    IssuerMetadata,
    PendingLogin,
    begin_login,
    complete_login,
    fetch_webid_profile,
)

from ..services import services
from ..spaces.validation import is_safe_iri
from . import csrf, pod_session
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
    found = find_issuer(request.form.get("webid", ""), request.form.get("issuer", ""))
    if found.metadata is None:
        return _form(next_page, found.webid, found.issuer, found.errors, found.choices)
    return send_to_issuer(found.metadata, next_page=next_page)


def send_to_issuer(
    metadata: Any,
    *,
    next_page: str,
    purpose: str = "sign-in",
    offline: bool = False,
    carry: dict[str, str] | None = None,
) -> Response:
    """Redirect to the identity provider; the callback comes back to `next_page`.

    `purpose="pod"` keeps the person's pod session for the flow that asked for it, with a
    refresh token only when `offline` (a recurring space) needs one. `carry` is put back into
    the session after sign-in (which otherwise starts it afresh).
    """
    scope = "openid webid offline_access" if offline else "openid webid"
    pending = begin_login(metadata, client_id=client_id(), redirect_uri=redirect_uri(), scope=scope)
    session[_PENDING] = {
        **pending.to_dict(),
        "next": safe_next(next_page),
        "started": time.time(),
        "purpose": purpose,
        "carry": dict(carry or {}),
    }
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
    key = DPoPKey.generate()  # the tokens will be bound to it
    try:
        pending = PendingLogin.from_dict(stored)
        metadata, jwks = services().issuers.get(pending.issuer)
        result = complete_login(
            services().http,
            metadata,
            pending,
            request.args.to_dict(),
            ProofFactory(key),
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
    carried = stored.get("carry")
    if isinstance(carried, dict):
        session.update({str(k): str(v) for k, v in carried.items()})
    if stored.get("purpose") == "pod":
        pod_session.keep(result, pending, key)
    log.info("signed in", extra={"actor": result.webid, "issuer": pending.issuer})
    return redirect(safe_next(stored.get("next")), code=303)


@bp.post("/logout")
def logout() -> Response:
    if g.get("actor"):
        log.info("signed out", extra={"actor": g.actor})
    session.clear()
    return redirect(url_for("home.index"), code=303)


@dataclass
class IssuerLookup:
    """What a sign-in form's WebID or issuer led to: the issuer's metadata, or why not."""

    webid: str
    issuer: str
    metadata: IssuerMetadata | None = None
    errors: dict[str, str] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)  # when the profile names several


def find_issuer(webid: str, issuer: str) -> IssuerLookup:
    """Resolve a sign-in form: the WebID's profile names the issuer (or the person gave one)."""
    found = IssuerLookup(webid.strip(), issuer.strip())
    try:
        if found.webid:
            found.issuer = _issuer_of_webid(found)
        elif not found.issuer:
            found.errors["webid"] = "Give your WebID, or the address of your identity provider."
        elif not is_safe_iri(found.issuer):
            found.errors["issuer"] = "The identity provider must be a full http(s) address."
        if not found.errors:
            found.metadata, _ = services().issuers.get(found.issuer)
    except solid_errors.SolidError as exc:
        target = "issuer" if not found.webid or found.choices else "webid"
        found.errors[target] = f"We could not reach your identity provider: {exc}"
    return found


def _issuer_of_webid(found: IssuerLookup) -> str:
    if not is_safe_iri(found.webid):
        found.errors["webid"] = (
            "A WebID is a full http(s) address, such as https://you.example/profile/card#me."
        )
        return ""
    try:
        issuers = list(fetch_webid_profile(services().http, found.webid).issuers)
    except solid_errors.SolidError as exc:
        found.errors["webid"] = f"We could not read the profile of this WebID: {exc}"
        return ""
    if not issuers:
        found.errors["webid"] = (
            "This WebID's profile names no identity provider (solid:oidcIssuer), "
            "so there is nowhere to sign in."
        )
        return ""
    if len(issuers) == 1:
        return issuers[0]
    if found.issuer in issuers:
        return found.issuer
    found.choices = issuers
    found.errors["choose"] = "Your profile names several identity providers; choose one."
    return ""


def _form(next_page: str, webid: str, issuer: str, errors: dict[str, str], choices: list[str]):
    html = render_template(
        "login.html", next=next_page, webid=webid, issuer=issuer, errors=errors, choices=choices
    )
    return html, 422


def _failed(reason: str) -> tuple[str, int]:
    html = render_template("login.html", next="/", errors={"login": reason})
    return html, 400
