"""A data consumer chooses where a space's results go in their pod (docs/delivery.md).

    /spaces/<id>/results          what is set up, and a sign-in to change it
    /spaces/<id>/results/choose   after sign-in at their own provider: the container, then Save
                                  (or Stop delivering here)

The grant is made with the consumer's own pod session (Solid-OIDC authorization code + PKCE +
DPoP at their identity provider, kept only for the minutes of this flow), never with any
credential of ours. `server.destinations` does the work; these views gather and show.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from connectors.solid import SolidClient

from ..destinations import designate, remove_designation
from ..destinations.notifications import subscription_services
from ..destinations.setup import default_container
from ..errors import NotSignedIn, ValidationFailed, WrongState
from ..services import services
from ..spaces import permissions
from ..spaces.model import Role, Space
from . import pod_session
from .signin import find_issuer, send_to_issuer

bp = Blueprint("results", __name__)

_NOTICE = "results_notice"


def _consumer_space(space_id: str) -> Space:
    space = services().spaces.get(space_id, g.get("actor"))
    permissions.require_role(space, g.get("actor"), Role.DATA_CONSUMER)
    return space


def _datacage() -> str:
    return current_app.config["DATACAGE_WEBID"]


@bp.get("/spaces/<space_id>/results")
def show(space_id: str) -> str:
    space = _consumer_space(space_id)
    destination = services().destinations.get(space.iri, g.actor)
    notice = session.pop(_NOTICE, None)
    return render_template(
        "results.html",
        space=space,
        destination=destination,
        notice=notice,
        datacage=_datacage(),
        errors={},
    )


@bp.post("/spaces/<space_id>/results")
def start(space_id: str) -> Response | tuple[str, int]:
    space = _consumer_space(space_id)
    found = find_issuer(g.actor, "")
    if found.metadata is None:
        destination = services().destinations.get(space.iri, g.actor)
        html = render_template(
            "results.html",
            space=space,
            destination=destination,
            notice=None,
            datacage=_datacage(),
            errors=found.errors,
        )
        return html, 422
    return send_to_issuer(
        found.metadata, next_page=url_for("results.choose", space_id=space.id), purpose="pod"
    )


def _person() -> SolidClient:
    person = pod_session.current(g.get("actor"))
    if person is None:
        raise WrongState(
            "To choose where results go, start from the results page and sign in at your "
            "identity provider: that sign-in has ended or was never started."
        )
    return person


@bp.get("/spaces/<space_id>/results/choose")
def choose(space_id: str) -> str:
    space = _consumer_space(space_id)
    person = _person()
    destination = services().destinations.get(space.iri, g.actor)
    container = destination.container if destination else default_container(person, space)
    return render_template(
        "results_choose.html",
        space=space,
        destination=destination,
        container=container,
        datacage=_datacage(),
        errors={},
    )


@bp.post("/spaces/<space_id>/results/choose")
def save(space_id: str) -> Response | tuple[str, int]:
    if not g.get("actor"):
        raise NotSignedIn("Sign in to choose where results go.")
    space = _consumer_space(space_id)
    person = _person()
    try:
        return _save(space, person)
    except ValidationFailed as exc:  # a container we cannot use: say so, keep the sign-in
        html = render_template(
            "results_choose.html",
            space=space,
            destination=services().destinations.get(space.iri, g.actor),
            container=request.form.get("container", ""),
            datacage=_datacage(),
            errors={name: " ".join(m) for name, m in exc.fields.items()},
        )
        return html, 422
    except Exception:  # the pod refused or the registry failed: this sign-in has done its part
        pod_session.end()
        raise


def _save(space: Space, person: SolidClient) -> Response:
    if request.form.get("action") == "remove":
        lines = remove_designation(services().destinations, space, person, datacage=_datacage())
        lines.append("Results of this space will no longer be delivered to your pod.")
    else:
        done = designate(
            services().destinations,
            space,
            person,
            request.form.get("container", ""),
            datacage=_datacage(),
            clock=lambda: datetime.now(UTC),
        )
        lines = done.done + _subscription_help(person, done.destination.container)
    pod_session.end()
    session[_NOTICE] = lines
    return redirect(url_for("results.show", space_id=space.id), 303)


def _subscription_help(person: SolidClient, container: str) -> list[str]:
    services_found = subscription_services(person, container)
    if not services_found:
        return ["Your pod describes no notification service; your inbox (if any) is told."]
    return [
        f"To be told as results arrive, subscribe to {container} at {s.url} "
        f"(channels: {', '.join(s.channel_types) or 'none listed'}); we did not subscribe "
        "for you, since the channel must reach you."
        for s in services_found
    ]
