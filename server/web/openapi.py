"""The OpenAPI 3.1 document of the JSON API (`server.web.api`), as Python data.

Written by hand next to the routes rather than generated from them, so it can say what each
route means and which refusals it can answer with; a unit test compares its paths and methods
with the Flask url_map, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from ..spaces.model import DEFAULT_CONSENT_PERIOD, DEFAULT_MIN_INDIVIDUALS, Role
from ..spaces.validation import FEWEST_INDIVIDUALS, MOST_INDIVIDUALS
from .openapi_parts import (
    DIGEST,
    MAYBE_WHEN,
    READ,
    WEBID,
    WHEN,
    WRITE,
    Schema,
    answer,
    array,
    created,
    json_content,
    obj,
    op,
    paths,
    problem_responses,
    ref,
    string,
    with_path_parameters,
)
from .openapi_protocol import DATACAGE_PATHS, PROTOCOL_SCHEMAS, PUSH_PATHS

ROLES = [role.slug for role in Role]
STATUSES = ["draft", "awaiting-approval", "active", "closed"]
BUNDLE_TYPES = ["application/zip", "application/gzip", "application/octet-stream"]


def _space(description: str = "The space after the change.") -> Schema:
    return answer(description, "Space")


# --- Paths -------------------------------------------------------------------------------------

_OPERATIONS: dict[str, Schema] = {
    "/api/me": {
        "get": op(
            "me",
            "Who the API sees as the caller.",
            {200: answer("The WebID.", "Me")},
            (401, 503),
        ),
    },
    "/api/openapi.json": {
        "get": {
            **op(
                "openapi",
                "This document.",
                {200: {"description": "OpenAPI 3.1.", **json_content({"type": "object"})}},
                (),
            ),
            "security": [],
        },
    },
    "/api/spaces": {
        "get": op(
            "listSpaces",
            "The spaces the caller is in or invited to, newest first.",
            {200: answer("The spaces.", "SpaceList")},
            (401, 503),
        ),
        "post": op(
            "createSpace",
            "Create a space; the caller becomes its owner.",
            {201: created("The new space.", "Space", "The new space in this API.")},
            (401, 403, 422, 503),
            json_content(ref("SpaceCreate")),
        ),
    },
    "/api/spaces/{space_id}": {
        "get": op("getSpace", "One space.", {200: _space("The space.")}, READ),
        "put": op(
            "updateSpace",
            "Replace name, description and terms (owner); voids approvals of other terms.",
            {200: _space()},
            (*WRITE, 422),
            json_content(ref("SpaceUpdate")),
        ),
    },
    "/api/spaces/{space_id}/invitations": {
        "post": op(
            "invite",
            "Invite a WebID with roles (owner). Its profile must name a Solid identity provider.",
            {201: created("The invitation.", "Invitation", "The invitation's IRI.")},
            (*WRITE, 422),
            json_content(ref("InvitationCreate")),
        ),
    },
    "/api/spaces/{space_id}/invitations/{invitation_id}": {
        "delete": op(
            "withdrawInvitation", "Withdraw a pending invitation (owner).", {200: _space()}, WRITE
        ),
    },
    "/api/spaces/{space_id}/invitations/{invitation_id}/accept": {
        "post": op(
            "acceptInvitation",
            "Accept an invitation addressed to the caller's WebID.",
            {200: _space()},
            WRITE,
        ),
    },
    "/api/spaces/{space_id}/algorithm": {
        "put": op(
            "registerAlgorithm",
            "Register the algorithm bundle (code provider); it becomes the current algorithm, "
            "which voids approvals of the previous terms.",
            {
                201: created(
                    "Registered; it is now the current algorithm.",
                    "Algorithm",
                    "The algorithm's IRI.",
                ),
                200: answer("This bundle already was the current algorithm.", "Algorithm"),
            },
            (*WRITE, 413, 415, 422),
            {
                "content": {
                    t: {"schema": {"type": "string", "contentMediaType": t}} for t in BUNDLE_TYPES
                }
            },
        ),
    },
    "/api/spaces/{space_id}/submit": {
        "post": op(
            "submitForApproval",
            "Ask the participants to approve (owner; draft only).",
            {200: _space()},
            WRITE,
        ),
    },
    "/api/spaces/{space_id}/approvals": {
        "post": op(
            "approve",
            "Approve the current terms, naming the terms_digest reviewed (participant).",
            {200: _space()},
            (*WRITE, 422),
            json_content(ref("ApprovalCreate")),
        ),
    },
    "/api/spaces/{space_id}/approvals/mine": {
        "delete": op(
            "withdrawApproval",
            "Withdraw the caller's standing approval.",
            {200: _space()},
            (*WRITE, 422),
        ),
    },
    "/api/consents": {
        "get": op(
            "listMyConsents",
            "The caller's own consents as a data subject, oldest first.",
            {200: answer("Every consent the caller gave, in any state.", "ConsentList")},
            (401, 503),
        ),
    },
    "/api/consents/{digest}/{number}/withdraw": {
        "post": op(
            "withdrawConsent",
            "Withdraw one of the caller's consents at once: no later run reads the data. "
            "Removing the grant from the pod needs the person's pod session (My data does it); "
            "`grant_may_remain` says whether that is still to do.",
            {200: answer("The consent after withdrawal.", "Consent")},
            (401, 404, 503),
        ),
    },
    "/api/spaces/{space_id}/close": {
        "post": op("closeSpace", "Close the space for good (owner).", {200: _space()}, WRITE),
    },
}


PATHS = paths(_OPERATIONS)

# --- Schemas -----------------------------------------------------------------------------------

_CHOICE = obj(
    {
        "iri": string(format="uri"),
        "key": string("Short name, e.g. Marketing."),
        "label": string(),
    }
)
_DATA_REQUEST = obj(
    {
        "kind": string("A file or folder in each pod, or a kind of data.", enum=["path", "class"]),
        "target": string(
            "For `path`: relative to the pod root (`contacts/`); for `class`: an RDF class IRI."
        ),
        "description": string("In plain words, for the people asked."),
    },
    required=["target", "description"],
)
_TERMS_INPUT: dict[str, Schema] = {
    "name": string(maxLength=120),
    "description": string(maxLength=4000),
    "purposes": {
        **array(string()),
        "description": "DPV purposes, by key (`Marketing`) or full IRI.",
    },
    "legal_basis": string("A DPV legal basis, by key (`Consent`) or full IRI."),
    "retention": string("ISO 8601 duration in years, months, weeks or days: `P90D`, `P1Y`."),
    "data_requests": {**array(ref("DataRequest")), "maxItems": 20},
    "consent_period": string(
        "How long each individual's consent lasts; after it their data is no longer read. "
        "ISO 8601 duration like `retention`.",
        default=DEFAULT_CONSENT_PERIOD,
    ),
    "recurring": {
        "type": "boolean",
        "description": "The algorithm runs repeatedly, reading consented data again each time, "
        "until the person withdraws or their consent ends.",
        "default": False,
    },
    "min_individuals": {
        "type": "integer",
        "description": "The smallest group a result may describe: every aggregate in a result "
        "must cover at least this many individuals, or the output gate holds the result back.",
        "minimum": FEWEST_INDIVIDUALS,
        "maximum": MOST_INDIVIDUALS,
        "default": DEFAULT_MIN_INDIVIDUALS,
    },
    "differential_privacy": {
        "type": "object",
        "description": "Calibrated Laplace noise on every figure of joint statistics: epsilon "
        "(the budget of one run, more than 0, at most 10) and the bounds every value is "
        "clamped to before it is summed. Part of the approved terms. Left out: no noise.",
        "properties": {
            "epsilon": {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
            "lower": {"type": "number"},
            "upper": {"type": "number"},
            "mechanism": {"type": "string", "enum": ["laplace"], "default": "laplace"},
        },
        "required": ["epsilon", "lower", "upper"],
    },
    "accepted_measurements": {
        "type": "array",
        "description": "The launch measurements of the datacage releases participants accept: "
        "'sev-snp:' (AMD SEV-SNP) or 'tdx:' (Intel TDX MRTD), then 96 hexadecimal digits. Part "
        "of the approved terms; pod providers admit only a datacage proving one of them. Left "
        "out: none named (PUT replaces the terms).",
        "items": {"type": "string", "pattern": "^(sev-snp|tdx):[0-9a-fA-F]{96}$"},
        "maxItems": 20,
    },
}
_REQUIRED_TERMS = ["name", "purposes", "legal_basis", "retention"]

_CONSENT = obj(
    {
        "key": string("`<digest>/<number>`: names the consent in this API's paths."),
        "iri": string(format="uri"),
        "space": string(format="uri"),
        "space_name": string(),
        "state": string(enum=["requested", "given", "withdrawn", "expired"]),
        "purposes": array(string(format="uri")),
        "resources": array(obj({"url": string(format="uri"), "container": {"type": "boolean"}})),
        "grantee": string("The datacage's WebID, the only agent given Read.", format="uri"),
        "access_system": {"type": ["string", "null"], "enum": ["WAC", "ACP", None]},
        "consumers": array(string(format="uri")),
        "algorithm_digest": string(),
        "terms_digest": string(),
        "recurring": {"type": "boolean"},
        "given_at": {"type": ["string", "null"], "format": "date-time"},
        "expires_at": string(format="date-time"),
        "withdrawn_at": {"type": ["string", "null"], "format": "date-time"},
        "withdrawal_reason": {"type": ["string", "null"]},
        "receipt": {"type": ["string", "null"], "format": "uri"},
        "grant_may_remain": {"type": "boolean"},
        "my_data": string("The page where the person can remove a remaining grant.", format="uri"),
    }
)

SCHEMAS: dict[str, Schema] = {
    "Me": obj({"webid": WEBID}),
    "Consent": _CONSENT,
    "ConsentList": obj({"consents": array(ref("Consent"))}),
    "Role": string(enum=ROLES),
    "Choice": _CHOICE,
    "DataRequest": _DATA_REQUEST,
    "SpaceUpdate": obj(_TERMS_INPUT, _REQUIRED_TERMS),
    "SpaceCreate": obj(
        {
            **_TERMS_INPUT,
            "roles": {**array(ref("Role")), "description": "The creator's own roles."},
        },
        _REQUIRED_TERMS,
    ),
    "InvitationCreate": obj({"webid": WEBID, "roles": {**array(ref("Role")), "minItems": 1}}),
    "ApprovalCreate": obj(
        {"terms_digest": {**DIGEST, "description": "The Space's terms_digest you reviewed."}}
    ),
    "Participant": obj(
        {
            "webid": WEBID,
            "roles": array(ref("Role")),
            "approved": {
                "type": "boolean",
                "description": "Has a standing approval of the current terms.",
            },
            "joined_at": WHEN,
        }
    ),
    "Invitation": obj(
        {
            "id": string(),
            "webid": WEBID,
            "roles": array(ref("Role")),
            "status": string(enum=["pending", "accepted", "withdrawn"]),
            "invited_by": WEBID,
            "invited_at": WHEN,
            "answered_at": MAYBE_WHEN,
        }
    ),
    "Parameter": obj({"name": string(), "type": string(), "default": {}, "description": string()}),
    "Algorithm": obj(
        {
            "digest": DIGEST,
            "name": string(),
            "version": string(),
            "description": string(),
            "entry_point": string("`module:function`."),
            "events": array(string()),
            "parameters": array(ref("Parameter")),
            "output_shape_digest": DIGEST,
            "registered_by": WEBID,
            "registered_at": WHEN,
        }
    ),
    "Space": obj(
        {
            "id": string(),
            "iri": string("Dereferenceable: HTML, Turtle or JSON-LD by Accept.", format="uri"),
            "name": string(),
            "description": string(),
            "status": string(enum=STATUSES),
            "owner": WEBID,
            "created_at": WHEN,
            "closed_at": MAYBE_WHEN,
            "purposes": array(ref("Choice")),
            "legal_basis": ref("Choice"),
            "retention": string(),
            "data_requests": array(ref("DataRequest")),
            "consent_period": string(),
            "recurring": {"type": "boolean"},
            "min_individuals": {"type": "integer"},
            "differential_privacy": {"type": ["object", "null"]},
            "accepted_measurements": array(string()),
            "participants": array(ref("Participant")),
            "invitations": array(ref("Invitation")),
            "algorithm": {"oneOf": [ref("Algorithm"), {"type": "null"}]},
            "terms_digest": {
                "type": ["string", "null"],
                "description": "What approvals name; null until an algorithm is registered.",
            },
            "missing": {
                **array(string()),
                "description": "What is still needed before the space is active, in sentences.",
            },
            "links": obj(
                {
                    "self": string(format="uri"),
                    "html": string(format="uri"),
                    "turtle": string(format="uri"),
                }
            ),
        }
    ),
    "SpaceList": obj({"spaces": array(ref("Space"))}),
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": string(
                "Names the kind of problem, e.g. /api/problems/wrong-state.", format="uri-reference"
            ),
            "title": string(),
            "status": {"type": "integer"},
            "detail": string("For the person."),
            "instance": string("Quote it when reporting the problem.", format="uri"),
            "errors": {
                "type": "object",
                "description": "On 422: messages per field; '' for the body as a whole, "
                "`data_requests-<i>-<field>` inside a data request.",
                "additionalProperties": array(string()),
            },
        },
        "required": ["type", "title", "status", "detail"],
    },
}

_DPOP = (
    "A DPoP-bound access token from the caller's Solid-OIDC identity provider, sent as "
    "`Authorization: DPoP <token>`, with a `DPoP` header holding a fresh proof JWT "
    "(RFC 9449 section 4) for this request: `htm` the method, `htu` this server's public URL "
    "plus the path (no query), `ath` the token's hash, a unique `jti`, a current `iat`. "
    "The token's `webid` claim is the caller; its profile must name the token's issuer."
)


# --- The audit trail: served by server.web.audit, outside /api/ --------------------------------

_SPARQL_ANSWER = {
    "description": "SELECT and ASK: SPARQL results (JSON by default, or XML, CSV, TSV as "
    "asked in Accept); CONSTRUCT and DESCRIBE: Turtle or N-Triples.",
    "content": {
        media: {"schema": {}}
        for media in (
            "application/sparql-results+json",
            "application/sparql-results+xml",
            "text/csv",
            "text/tab-separated-values",
            "text/turtle",
            "application/n-triples",
        )
    },
}
_SPARQL_REFUSED = {
    "description": "Not a query (updates are refused), a SERVICE clause, or malformed.",
    "content": {"application/problem+json": {"schema": ref("Problem")}},
}
_QUERY = {"name": "query", "in": "query", "required": True, "schema": string()}
AUDIT_PATHS = {
    path: with_path_parameters(path, item)
    for path, item in {
        "/spaces/{space_id}/audit/sparql": {
            "get": {
                **op(
                    "queryAuditTrail",
                    "SPARQL 1.1 Protocol query over the space's audit trail alone (participants). "
                    "Each entry is a named graph; the default graph is their union.",
                    {200: _SPARQL_ANSWER, 400: _SPARQL_REFUSED},
                    READ,
                ),
                "parameters": [_QUERY],
            },
            "post": op(
                "queryAuditTrailByPost",
                "The same, the query sent as `application/sparql-query` or a `query` form field.",
                {200: _SPARQL_ANSWER, 400: _SPARQL_REFUSED},
                READ,
                {
                    "content": {
                        "application/sparql-query": {"schema": string()},
                        "application/x-www-form-urlencoded": {"schema": obj({"query": string()})},
                    }
                },
            ),
        },
        "/spaces/{space_id}/audit/export": {
            "get": {
                **op(
                    "exportAuditTrail",
                    "The space's whole trail as a download (participants).",
                    {
                        200: {
                            "description": "Turtle (entries merged), N-Quads (one named graph "
                            "per entry) or JSON-LD.",
                            "content": {
                                media: {"schema": {}}
                                for media in (
                                    "text/turtle",
                                    "application/n-quads",
                                    "application/ld+json",
                                )
                            },
                        },
                        400: _SPARQL_REFUSED,
                    },
                    READ,
                ),
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": string(enum=["turtle", "nquads", "jsonld"], default="turtle"),
                    }
                ],
            },
        },
    }.items()
}


def document(public_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Datacage control plane API",
            "version": "1",
            "description": "Collaboration spaces: terms, participants, the algorithm, approvals. "
            "Errors are RFC 9457 problem details. See docs/api.md.",
        },
        "servers": [{"url": public_url.rstrip("/")}],
        "security": [{"dpop": []}, {"session": [], "csrf": []}],
        "paths": {**PATHS, **PUSH_PATHS, **AUDIT_PATHS, **DATACAGE_PATHS},
        "components": {
            "securitySchemes": {
                "dpop": {"type": "http", "scheme": "DPoP", "description": _DPOP},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "A browser's sign-in; unsafe requests also need `csrf`.",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "The page's CSRF token, for cookie-authenticated changes.",
                },
            },
            "schemas": {**SCHEMAS, **PROTOCOL_SCHEMAS},
            "responses": problem_responses(),
        },
    }
