"""The pages organisations' staff use: create a space, invite, register the algorithm, approve.

Views are thin: read the form, call one `Spaces` action, then redirect (post/redirect/get) or
render the form again with the problems next to their fields.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from markupsafe import Markup

from ..dashboard.overview import Seen
from ..errors import ValidationFailed
from ..services import services
from ..spaces import lifecycle, permissions
from ..spaces.model import Role, Space
from ..spaces.rdf import to_graph
from ..spaces.validation import check_roles
from . import csrf, linked_data
from .forms import SpaceForm, form_of, read_space_form

bp = Blueprint("spaces", __name__)


def _spaces():
    return services().spaces


def _to(space: Space, anchor: str = "") -> Response:
    return redirect(url_for("spaces.overview", space_id=space.id, _anchor=anchor or None), 303)


# --- Creating and editing ----------------------------------------------------------------------


@bp.get("/spaces/new")
def new() -> str:
    _require_signed_in()
    return _space_form(SpaceForm().with_blank_rows(2), creating=True)


@bp.post("/spaces")
def create():
    _require_signed_in()
    form = read_space_form(request.form)
    if "add_row" in request.form:
        return _space_form(form.with_blank_rows(1), creating=True)
    try:
        fields = form.check()
        roles = check_roles(form.roles, required=False)
    except ValidationFailed as exc:
        form.errors = exc.fields
        return _space_form(form.with_blank_rows(1), creating=True), 422
    return _to(_spaces().create(g.actor, fields, roles))


@bp.get("/spaces/<space_id>/edit")
def edit(space_id: str):
    space = _spaces().get(space_id, g.actor)
    return _space_form(form_of(space).with_blank_rows(1), creating=False, space=space)


@bp.post("/spaces/<space_id>/edit")
def update(space_id: str):
    space = _spaces().get(space_id, g.actor)
    form = read_space_form(request.form)
    if "add_row" in request.form:
        return _space_form(form.with_blank_rows(1), creating=False, space=space)
    try:
        return _to(_spaces().update(space_id, g.actor, form.check()))
    except ValidationFailed as exc:
        form.errors = exc.fields
        return _space_form(form.with_blank_rows(1), creating=False, space=space), 422


def _space_form(form: SpaceForm, *, creating: bool, space: Space | None = None) -> str:
    return render_template("space_form.html", form=form, creating=creating, space=space)


# --- The overview and its linked data ----------------------------------------------------------


@bp.get("/spaces/<space_id>")
def overview(space_id: str):
    media_type = linked_data.rdf_type_wanted()
    if media_type:
        return linked_data.rdf_response(to_graph(_spaces().get(space_id, g.actor)), media_type)
    kept = services().overview
    seen = kept.seen(space_id, g.actor)
    counts = _consent_counts(seen)
    if seen.version is None:
        main = _overview_main(_overview_context(seen, counts))
    else:
        # Everything the body shows (docs/spaces.md, "What a view costs"): the space and its
        # datasets, as named by their graphs' revisions and write tokens; who views (their
        # roles, invitation and approval follow from the record); the counts; and the links'
        # paths. The forms' token is filled in per view.
        key = (
            request.script_root,
            seen.space.iri,
            seen.version,
            g.actor,
            tuple(sorted(counts.items())),
        )
        main = kept.pages.get_or_make(key, lambda: _overview_main(_overview_context(seen, counts)))
    return render_template("space.html", space=seen.space, main=csrf.filled(main))


@bp.get("/spaces/<space_id>/<any(participants, invitations, approvals):kind>/<item>")
def item(space_id: str, kind: str, item: str):
    space = _spaces().get(space_id, g.actor)
    iri = f"{space.iri}/{kind}/{item}"
    graph = linked_data.describe(to_graph(space), iri)
    if not len(graph):
        abort(404)
    media_type = linked_data.rdf_type_wanted()
    if media_type:
        return linked_data.rdf_response(graph, media_type)
    return _to(space, anchor=f"{kind}-{item}")


def _consent_counts(seen: Seen) -> dict[str, int]:
    """How many people consent, by state, for participants: counts only, never who (that is
    each person's to know)."""
    if not seen.space.participant(g.actor):
        return {}
    counts = services().overview.counts(seen.space, datetime.now(UTC))
    return {state.label: count for state, count in counts.items()}


def _overview_context(seen: Seen, counts: dict[str, int]) -> dict[str, object]:
    actor, space = g.actor, seen.space
    participant = space.participant(actor)
    return {
        "space": space,
        "datasets": seen.datasets,
        "me": participant,
        "is_owner": actor == space.owner,
        "my_invitation": space.pending_invitation_for(actor),
        "my_approval": space.standing_approval_of(actor) if participant else None,
        "missing": lifecycle.missing_for_approval(space),
        "status_text": lifecycle.describe(space.status),
        "roles": list(Role),
        "consent_counts": counts,
    }


def _overview_main(context: dict[str, object], **form: object) -> Markup:
    """The overview's body, with the placeholder where each form's CSRF token goes."""
    return Markup(  # noqa: S704 - a template's output, escaped by Jinja's autoescape
        render_template("space_main.html", csrf_token=lambda: csrf.PLACEHOLDER, **context, **form)
    )


# --- Invitations -------------------------------------------------------------------------------


@bp.post("/spaces/<space_id>/invitations")
def invite(space_id: str):
    space = _spaces().get(space_id, g.actor)
    webid = request.form.get("webid", "").strip()
    try:
        roles = check_roles(request.form.getlist("roles"))
        _spaces().invite(space_id, g.actor, webid, roles)
    except ValidationFailed as exc:
        seen = services().overview.seen(space_id, g.actor)
        context = _overview_context(seen, _consent_counts(seen))
        main = _overview_main(context, invite_errors=exc.fields, invite_webid=webid)
        return render_template("space.html", space=seen.space, main=csrf.filled(main)), 422
    return _to(space, anchor="invitations")


@bp.post("/spaces/<space_id>/invitations/<invitation_id>/accept")
def accept(space_id: str, invitation_id: str):
    return _to(_spaces().accept(space_id, g.actor, invitation_id))


@bp.post("/spaces/<space_id>/invitations/<invitation_id>/withdraw")
def withdraw_invitation(space_id: str, invitation_id: str):
    return _to(_spaces().withdraw_invitation(space_id, g.actor, invitation_id), "invitations")


# --- Algorithm, approval, closing --------------------------------------------------------------


@bp.get("/spaces/<space_id>/algorithm")
def algorithm_form(space_id: str):
    space = _spaces().get(space_id, g.actor)
    return render_template("algorithm_form.html", space=space, errors={})


@bp.post("/spaces/<space_id>/algorithm")
def register_algorithm(space_id: str):
    space = _spaces().get(space_id, g.actor)
    upload = request.files.get("bundle")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed({"bundle": ["Choose the bundle file to upload."]})
        data = upload.read(_spaces().max_bundle_bytes + 1)
        _spaces().register_algorithm(space_id, g.actor, data)
    except ValidationFailed as exc:
        html = render_template("algorithm_form.html", space=space, errors=exc.fields)
        return html, 422
    return _to(space, anchor="algorithm")


@bp.get("/spaces/<space_id>/algorithms/<hex_digest>")
def algorithm(space_id: str, hex_digest: str):
    space = _spaces().get(space_id, g.actor)
    found = space.algorithm_by_digest("sha256:" + hex_digest)
    if found is None:
        abort(404)
    iri = f"{space.iri}/algorithms/{hex_digest}"
    media_type = linked_data.rdf_type_wanted()
    if media_type:
        return linked_data.rdf_response(linked_data.describe(to_graph(space), iri), media_type)
    return render_template("algorithm.html", space=space, algorithm=found)


@bp.get("/spaces/<space_id>/algorithms/<hex_digest>/bundle")
def bundle(space_id: str, hex_digest: str):
    stored = _spaces().bundle(space_id, g.actor, "sha256:" + hex_digest)
    filename = f"{stored.manifest.name}-{hex_digest[:12]}.zip"
    return Response(
        services().bundles.path_of(stored.digest).read_bytes(),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/spaces/<space_id>/algorithms/<hex_digest>/shape")
def shape(space_id: str, hex_digest: str):
    stored = _spaces().bundle(space_id, g.actor, "sha256:" + hex_digest)
    body = stored.files[stored.manifest.output_shape]
    return Response(body, mimetype="text/turtle")


@bp.post("/spaces/<space_id>/submit")
def submit(space_id: str):
    return _to(_spaces().submit_for_approval(space_id, g.actor), "approvals")


@bp.post("/spaces/<space_id>/approve")
def approve(space_id: str):
    terms = request.form.get("terms_digest", "")
    return _to(_spaces().approve(space_id, g.actor, terms), "approvals")


@bp.post("/spaces/<space_id>/approval/withdraw")
def withdraw_approval(space_id: str):
    return _to(_spaces().withdraw_approval(space_id, g.actor), "approvals")


@bp.post("/spaces/<space_id>/close")
def close(space_id: str):
    return _to(_spaces().close(space_id, g.actor))


def _require_signed_in() -> None:
    permissions.signed_in(g.actor)
