"""A space's audit trail for its participants: a page, SPARQL, and an export.

    GET      /spaces/<id>/audit                  a page of entries, newest first, and its state
                                                 (?before=n, ?after=n: pages; ?check=all)
    GET/POST /spaces/<id>/audit/sparql           SPARQL 1.1 Protocol, queries only (§2.1)
    GET      /spaces/<id>/audit/export?format=   turtle | nquads | jsonld, as a download
    GET      /spaces/<id>/audit/<n>              one entry: RDF to an RDF client, else the page

Participants only (a browser session or a DPoP token, like the rest of the API); an invitee or
a stranger gets 403. What they see is their space's trail and nothing else (server.audit.query).
"""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from rdflib import Graph
from werkzeug.wrappers import Response as WerkzeugResponse

from ..audit import ChainBroken, verify_space
from ..audit.pages import page_of
from ..audit.query import QueryRefused, export, run_query
from ..errors import NotFound, ValidationFailed
from ..services import services
from ..spaces import permissions
from ..spaces.model import Space
from . import linked_data
from .errors import PROBLEM_JSON, on_domain_error, problem

bp = Blueprint("audit", __name__)


def _space(space_id: str) -> Space:
    space = services().spaces.get(space_id, g.actor)
    permissions.require_participant(space, g.actor)
    return space


@bp.get("/spaces/<space_id>/audit")
def page(space_id: str) -> str:
    """One page of the trail, newest first (`?before=n` older, `?after=n` newer), checked; the
    whole chain is walked only when asked (`?check=all`): it costs a read per entry."""
    space = _space(space_id)
    trail, registry = services().audit, services().registry
    shown = page_of(trail, registry, space.iri, before=_cursor("before"), after=_cursor("after"))
    intact, broken = None, shown.broken
    if request.args.get("check") == "all" or (shown.whole and broken is None):
        try:
            intact = verify_space(trail, registry, space.iri)
        except ChainBroken as exc:
            broken = exc
    return render_template(
        "audit.html", space=space, page=shown, entries=shown.entries, intact=intact, broken=broken
    )


def _cursor(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 12:
        raise ValidationFailed({name: [f"'{name}' must be an entry number, such as 42."]})
    return int(value)


@bp.route("/spaces/<space_id>/audit/sparql", methods=["GET", "POST"])
def sparql(space_id: str) -> Response:
    space = _space(space_id)
    text = _query_text()
    accept = [media for media, _ in request.accept_mimetypes]
    body, media = run_query(
        services().audit.graphs(space.iri), text, accept, slots=services().audit_queries
    )
    return Response(body, mimetype=media)


@bp.errorhandler(QueryRefused)
def _refused(error: QueryRefused) -> Response:
    """SPARQL clients ask for results types, not HTML: a refusal is a problem document for
    them (SPARQL 1.1 Protocol §2.1.4: 400 for a malformed or refused query); a browser that
    sent the form gets the page."""
    if request.accept_mimetypes.best_match(["text/html", PROBLEM_JSON]) == "text/html":
        return on_domain_error(error)
    return problem(400, error.title, str(error), error.problem_type)


def _query_text() -> str:
    """The query as SPARQL 1.1 Protocol §2.1 sends it: GET ?query=, a form, or the body."""
    if request.method == "GET":
        return request.args.get("query", "")
    if request.mimetype == "application/sparql-query":
        return request.get_data(as_text=True)
    if request.mimetype == "application/x-www-form-urlencoded":
        if "update" in request.form:
            raise QueryRefused("Updates are refused: this endpoint is read-only.")
        return request.form.get("query", "")
    raise QueryRefused(
        "Send the query as ?query=, a form field, or a body of type application/sparql-query."
    )


@bp.get("/spaces/<space_id>/audit/export")
def download(space_id: str) -> Response:
    space = _space(space_id)
    kind = request.args.get("format", "turtle")
    body, media, extension = export(services().audit.graphs(space.iri), kind)
    return Response(
        body,
        mimetype=media,
        headers={"Content-Disposition": f'attachment; filename="audit-{space.id}.{extension}"'},
    )


@bp.get("/spaces/<space_id>/audit/<int:sequence>")
def entry(space_id: str, sequence: int) -> WerkzeugResponse:
    space = _space(space_id)
    name = f"{space.iri}/audit/{sequence}"
    stored = services().registry.read(name)
    if stored is None:
        raise NotFound("The trail has no such entry.")
    media_type = linked_data.rdf_type_wanted()
    if media_type:
        graph: Graph = stored.graph
        return linked_data.rdf_response(graph, media_type)
    return redirect(url_for("audit.page", space_id=space.id, _anchor=f"entry-{sequence}"), 303)
