"""The OpenAPI 3.1 document of the JSON API (`server.web.api`), as Python data.

Written by hand next to the routes rather than generated from them, so it can say what each
route means and which refusals it can answer with; a unit test compares its paths and methods
with the Flask url_map, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Any

from ..spaces.model import DEFAULT_CONSENT_PERIOD, DEFAULT_MIN_INDIVIDUALS, Role
from ..spaces.validation import FEWEST_INDIVIDUALS, MOST_INDIVIDUALS

Schema = dict[str, Any]

ROLES = [role.slug for role in Role]
STATUSES = ["draft", "awaiting-approval", "active", "closed"]
BUNDLE_TYPES = ["application/zip", "application/gzip", "application/octet-stream"]

# --- Small builders ------------------------------------------------------------------------------


def _ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def _object(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def _string(description: str = "", **more: Any) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **more}


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


WEBID = _string("A WebID (http or https URL).", format="uri")
WHEN = _string(format="date-time")
MAYBE_WHEN = {"type": ["string", "null"], "format": "date-time"}
DIGEST = _string("`sha256:` and 64 lowercase hex digits.", pattern="^sha256:[0-9a-f]{64}$")

#: Which reusable response each refusal is; every one of them is a Problem document.
_REFUSALS = {
    401: ("NotSignedIn", "Not signed in, or the DPoP token or proof was not accepted."),
    403: ("NotAuthorized", "Not allowed for this actor (or a cookie request without CSRF token)."),
    404: ("NotFound", "No such space or invitation."),
    409: ("Conflict", "Not possible in the space's current state, or a concurrent edit won."),
    413: ("TooLarge", "The body is larger than the server accepts (MAX_BUNDLE_MIB)."),
    415: ("UnsupportedMediaType", "The Content-Type is not one this operation accepts."),
    422: ("Invalid", "The input is not valid; `errors` lists the problems per field."),
    503: ("Unavailable", "The registry or an identity provider is not answering."),
}
_READ = (401, 403, 404, 503)
_WRITE = (401, 403, 404, 409, 503)


def _op(
    operation_id: str,
    summary: str,
    ok: dict[int, Schema],
    refusals: tuple[int, ...],
    body: Schema | None = None,
) -> Schema:
    responses: dict[str, Schema] = {str(code): answer for code, answer in ok.items()}
    for code in sorted(refusals):
        responses[str(code)] = _ref(_REFUSALS[code][0], "responses")
    operation: Schema = {"operationId": operation_id, "summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, **body}
    return operation


def _answer(description: str, schema: str) -> Schema:
    return {"description": description, **_json(_ref(schema))}


def _space(description: str = "The space after the change.") -> Schema:
    return _answer(description, "Space")


def _created(what: str, schema: str, location: str) -> Schema:
    header = {"description": location, "schema": _string(format="uri")}
    return {"description": what, "headers": {"Location": header}, **_json(_ref(schema))}


# --- Paths -------------------------------------------------------------------------------------

_OPERATIONS: dict[str, Schema] = {
    "/api/me": {
        "get": _op(
            "me",
            "Who the API sees as the caller.",
            {200: _answer("The WebID.", "Me")},
            (401, 503),
        ),
    },
    "/api/openapi.json": {
        "get": {
            **_op(
                "openapi",
                "This document.",
                {200: {"description": "OpenAPI 3.1.", **_json({"type": "object"})}},
                (),
            ),
            "security": [],
        },
    },
    "/api/spaces": {
        "get": _op(
            "listSpaces",
            "The spaces the caller is in or invited to, newest first.",
            {200: _answer("The spaces.", "SpaceList")},
            (401, 503),
        ),
        "post": _op(
            "createSpace",
            "Create a space; the caller becomes its owner.",
            {201: _created("The new space.", "Space", "The new space in this API.")},
            (401, 403, 422, 503),
            _json(_ref("SpaceCreate")),
        ),
    },
    "/api/spaces/{space_id}": {
        "get": _op("getSpace", "One space.", {200: _space("The space.")}, _READ),
        "put": _op(
            "updateSpace",
            "Replace name, description and terms (owner); voids approvals of other terms.",
            {200: _space()},
            (*_WRITE, 422),
            _json(_ref("SpaceUpdate")),
        ),
    },
    "/api/spaces/{space_id}/invitations": {
        "post": _op(
            "invite",
            "Invite a WebID with roles (owner). Its profile must name a Solid identity provider.",
            {201: _created("The invitation.", "Invitation", "The invitation's IRI.")},
            (*_WRITE, 422),
            _json(_ref("InvitationCreate")),
        ),
    },
    "/api/spaces/{space_id}/invitations/{invitation_id}": {
        "delete": _op(
            "withdrawInvitation", "Withdraw a pending invitation (owner).", {200: _space()}, _WRITE
        ),
    },
    "/api/spaces/{space_id}/invitations/{invitation_id}/accept": {
        "post": _op(
            "acceptInvitation",
            "Accept an invitation addressed to the caller's WebID.",
            {200: _space()},
            _WRITE,
        ),
    },
    "/api/spaces/{space_id}/algorithm": {
        "put": _op(
            "registerAlgorithm",
            "Register the algorithm bundle (code provider); it becomes the current algorithm, "
            "which voids approvals of the previous terms.",
            {
                201: _created(
                    "Registered; it is now the current algorithm.",
                    "Algorithm",
                    "The algorithm's IRI.",
                ),
                200: _answer("This bundle already was the current algorithm.", "Algorithm"),
            },
            (*_WRITE, 413, 415, 422),
            {
                "content": {
                    t: {"schema": {"type": "string", "contentMediaType": t}} for t in BUNDLE_TYPES
                }
            },
        ),
    },
    "/api/spaces/{space_id}/submit": {
        "post": _op(
            "submitForApproval",
            "Ask the participants to approve (owner; draft only).",
            {200: _space()},
            _WRITE,
        ),
    },
    "/api/spaces/{space_id}/approvals": {
        "post": _op(
            "approve",
            "Approve the current terms, naming the terms_digest reviewed (participant).",
            {200: _space()},
            (*_WRITE, 422),
            _json(_ref("ApprovalCreate")),
        ),
    },
    "/api/spaces/{space_id}/approvals/mine": {
        "delete": _op(
            "withdrawApproval",
            "Withdraw the caller's standing approval.",
            {200: _space()},
            (*_WRITE, 422),
        ),
    },
    "/api/consents": {
        "get": _op(
            "listMyConsents",
            "The caller's own consents as a data subject, oldest first.",
            {200: _answer("Every consent the caller gave, in any state.", "ConsentList")},
            (401, 503),
        ),
    },
    "/api/consents/{digest}/{number}/withdraw": {
        "post": _op(
            "withdrawConsent",
            "Withdraw one of the caller's consents at once: no later run reads the data. "
            "Removing the grant from the pod needs the person's pod session (My data does it); "
            "`grant_may_remain` says whether that is still to do.",
            {200: _answer("The consent after withdrawal.", "Consent")},
            (401, 404, 503),
        ),
    },
    "/api/spaces/{space_id}/close": {
        "post": _op("closeSpace", "Close the space for good (owner).", {200: _space()}, _WRITE),
    },
}


def _with_path_parameters(path: str, item: Schema) -> Schema:
    names = re.findall(r"\{(\w+)\}", path)
    if not names:
        return item
    parameters = [{"name": n, "in": "path", "required": True, "schema": _string()} for n in names]
    return {"parameters": parameters, **item}


PATHS = {path: _with_path_parameters(path, item) for path, item in _OPERATIONS.items()}

# --- Schemas -----------------------------------------------------------------------------------

_CHOICE = _object(
    {
        "iri": _string(format="uri"),
        "key": _string("Short name, e.g. Marketing."),
        "label": _string(),
    }
)
_DATA_REQUEST = _object(
    {
        "kind": _string("A file or folder in each pod, or a kind of data.", enum=["path", "class"]),
        "target": _string(
            "For `path`: relative to the pod root (`contacts/`); for `class`: an RDF class IRI."
        ),
        "description": _string("In plain words, for the people asked."),
    },
    required=["target", "description"],
)
_TERMS_INPUT: dict[str, Schema] = {
    "name": _string(maxLength=120),
    "description": _string(maxLength=4000),
    "purposes": {
        **_array(_string()),
        "description": "DPV purposes, by key (`Marketing`) or full IRI.",
    },
    "legal_basis": _string("A DPV legal basis, by key (`Consent`) or full IRI."),
    "retention": _string("ISO 8601 duration in years, months, weeks or days: `P90D`, `P1Y`."),
    "data_requests": {**_array(_ref("DataRequest")), "maxItems": 20},
    "consent_period": _string(
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

_CONSENT = _object(
    {
        "key": _string("`<digest>/<number>`: names the consent in this API's paths."),
        "iri": _string(format="uri"),
        "space": _string(format="uri"),
        "space_name": _string(),
        "state": _string(enum=["requested", "given", "withdrawn", "expired"]),
        "purposes": _array(_string(format="uri")),
        "resources": _array(
            _object({"url": _string(format="uri"), "container": {"type": "boolean"}})
        ),
        "grantee": _string("The datacage's WebID, the only agent given Read.", format="uri"),
        "access_system": {"type": ["string", "null"], "enum": ["WAC", "ACP", None]},
        "consumers": _array(_string(format="uri")),
        "algorithm_digest": _string(),
        "terms_digest": _string(),
        "recurring": {"type": "boolean"},
        "given_at": {"type": ["string", "null"], "format": "date-time"},
        "expires_at": _string(format="date-time"),
        "withdrawn_at": {"type": ["string", "null"], "format": "date-time"},
        "withdrawal_reason": {"type": ["string", "null"]},
        "receipt": {"type": ["string", "null"], "format": "uri"},
        "grant_may_remain": {"type": "boolean"},
        "my_data": _string("The page where the person can remove a remaining grant.", format="uri"),
    }
)

SCHEMAS: dict[str, Schema] = {
    "Me": _object({"webid": WEBID}),
    "Consent": _CONSENT,
    "ConsentList": _object({"consents": _array(_ref("Consent"))}),
    "Role": _string(enum=ROLES),
    "Choice": _CHOICE,
    "DataRequest": _DATA_REQUEST,
    "SpaceUpdate": _object(_TERMS_INPUT, _REQUIRED_TERMS),
    "SpaceCreate": _object(
        {
            **_TERMS_INPUT,
            "roles": {**_array(_ref("Role")), "description": "The creator's own roles."},
        },
        _REQUIRED_TERMS,
    ),
    "InvitationCreate": _object({"webid": WEBID, "roles": {**_array(_ref("Role")), "minItems": 1}}),
    "ApprovalCreate": _object(
        {"terms_digest": {**DIGEST, "description": "The Space's terms_digest you reviewed."}}
    ),
    "Participant": _object(
        {
            "webid": WEBID,
            "roles": _array(_ref("Role")),
            "approved": {
                "type": "boolean",
                "description": "Has a standing approval of the current terms.",
            },
            "joined_at": WHEN,
        }
    ),
    "Invitation": _object(
        {
            "id": _string(),
            "webid": WEBID,
            "roles": _array(_ref("Role")),
            "status": _string(enum=["pending", "accepted", "withdrawn"]),
            "invited_by": WEBID,
            "invited_at": WHEN,
            "answered_at": MAYBE_WHEN,
        }
    ),
    "Parameter": _object(
        {"name": _string(), "type": _string(), "default": {}, "description": _string()}
    ),
    "Algorithm": _object(
        {
            "digest": DIGEST,
            "name": _string(),
            "version": _string(),
            "description": _string(),
            "entry_point": _string("`module:function`."),
            "events": _array(_string()),
            "parameters": _array(_ref("Parameter")),
            "output_shape_digest": DIGEST,
            "registered_by": WEBID,
            "registered_at": WHEN,
        }
    ),
    "Space": _object(
        {
            "id": _string(),
            "iri": _string("Dereferenceable: HTML, Turtle or JSON-LD by Accept.", format="uri"),
            "name": _string(),
            "description": _string(),
            "status": _string(enum=STATUSES),
            "owner": WEBID,
            "created_at": WHEN,
            "closed_at": MAYBE_WHEN,
            "purposes": _array(_ref("Choice")),
            "legal_basis": _ref("Choice"),
            "retention": _string(),
            "data_requests": _array(_ref("DataRequest")),
            "consent_period": _string(),
            "recurring": {"type": "boolean"},
            "min_individuals": {"type": "integer"},
            "differential_privacy": {"type": ["object", "null"]},
            "accepted_measurements": _array(_string()),
            "participants": _array(_ref("Participant")),
            "invitations": _array(_ref("Invitation")),
            "algorithm": {"oneOf": [_ref("Algorithm"), {"type": "null"}]},
            "terms_digest": {
                "type": ["string", "null"],
                "description": "What approvals name; null until an algorithm is registered.",
            },
            "missing": {
                **_array(_string()),
                "description": "What is still needed before the space is active, in sentences.",
            },
            "links": _object(
                {
                    "self": _string(format="uri"),
                    "html": _string(format="uri"),
                    "turtle": _string(format="uri"),
                }
            ),
        }
    ),
    "SpaceList": _object({"spaces": _array(_ref("Space"))}),
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": _string(
                "Names the kind of problem, e.g. /api/problems/wrong-state.", format="uri-reference"
            ),
            "title": _string(),
            "status": {"type": "integer"},
            "detail": _string("For the person."),
            "instance": _string("Quote it when reporting the problem.", format="uri"),
            "errors": {
                "type": "object",
                "description": "On 422: messages per field; '' for the body as a whole, "
                "`data_requests-<i>-<field>` inside a data request.",
                "additionalProperties": _array(_string()),
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


def _responses() -> dict[str, Schema]:
    responses = {}
    for name, description in _REFUSALS.values():
        responses[name] = {
            "description": description,
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
    responses["NotSignedIn"]["headers"] = {
        "WWW-Authenticate": {"description": "The DPoP challenge.", "schema": _string()}
    }
    return responses


# --- The audit trail (issue 6): served by server.web.audit, outside /api/ ---------------------

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
    "content": {"application/problem+json": {"schema": _ref("Problem")}},
}
_QUERY = {"name": "query", "in": "query", "required": True, "schema": _string()}
AUDIT_PATHS = {
    path: _with_path_parameters(path, item)
    for path, item in {
        "/spaces/{space_id}/audit/sparql": {
            "get": {
                **_op(
                    "queryAuditTrail",
                    "SPARQL 1.1 Protocol query over the space's audit trail alone (participants). "
                    "Each entry is a named graph; the default graph is their union.",
                    {200: _SPARQL_ANSWER, 400: _SPARQL_REFUSED},
                    _READ,
                ),
                "parameters": [_QUERY],
            },
            "post": _op(
                "queryAuditTrailByPost",
                "The same, the query sent as `application/sparql-query` or a `query` form field.",
                {200: _SPARQL_ANSWER, 400: _SPARQL_REFUSED},
                _READ,
                {
                    "content": {
                        "application/sparql-query": {"schema": _string()},
                        "application/x-www-form-urlencoded": {
                            "schema": _object({"query": _string()})
                        },
                    }
                },
            ),
        },
        "/spaces/{space_id}/audit/export": {
            "get": {
                **_op(
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
                    _READ,
                ),
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": _string(enum=["turtle", "nquads", "jsonld"], default="turtle"),
                    }
                ],
            },
        },
    }.items()
}


# --- The job protocol (server.web.datacage_api): the deployment's datacage only ----------------

_JOB_CONSENT = _object(
    {
        "iri": _string("The consent, as the claim listed it.", format="uri"),
        "subject": WEBID,
        "resources": _array(
            _object({"url": _string(format="uri"), "is_container": {"type": "boolean"}})
        ),
        "usage_records": {
            "type": ["string", "null"],
            "format": "uri",
            "description": "The person's Append-only container for usage records, if any.",
        },
        "purposes": _array(_string(format="uri")),
    }
)
_JOB_LINES = {
    "description": 'The job as JSON lines, read one at a time: first `{"job": {...}}` (the '
    "run, space, algorithm, `consent_count`, deliveries, datasets), then lines "
    '`{"consents": [IRI, ...]}` of at most 1000 consent IRIs, the consents in force at the '
    'claim, then `{"end": {"consents": N}}`. A stream without its end line is incomplete.',
    "content": {"application/x-ndjson": {"schema": {"type": "object"}}},
}
DATACAGE_PATHS = {
    path: _with_path_parameters(path, item)
    for path, item in {
        "/api/datacage/claim": {
            "post": _op(
                "claimRun",
                "Claim the oldest queued run of the attested bundle, in one atomic step (a run "
                "is claimed once). Only the deployment's datacage (DATACAGE_WEBID, DPoP).",
                {200: _JOB_LINES, 204: {"description": "No run waits for this bundle."}},
                (401, 403, 409, 422, 503),
                _json(_object({"evidence": _string("The attestation evidence (JSON).")})),
            )
        },
        "/api/datacage/runs/{run_id}/consents/check": {
            "post": _op(
                "checkConsents",
                "Which of up to 500 consents the running run may read right now (given, not "
                "expired, under the run's terms, the person's latest), each with what it lets "
                "the datacage read, in the order asked. Any other consent is left out, without "
                "saying why. Asked per page of people and again right before each read.",
                {200: _json(_object({"in_force": _array(_JOB_CONSENT)}))},
                (401, 403, 404, 409, 422, 503),
                _json(_object({"consents": _array(_string(format="uri"))})),
            )
        },
        "/api/datacage/runs/{run_id}/consent": {
            "get": {
                **_op(
                    "checkConsent",
                    "One consent at a time (the batch route is the one the datacage uses).",
                    {200: _json(_object({"in_force": {"type": "boolean"}}))},
                    (401, 403, 404, 409, 503),
                ),
                "parameters": [
                    {"name": "iri", "in": "query", "required": True, "schema": _string()}
                ],
            }
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
        "paths": {**PATHS, **AUDIT_PATHS, **DATACAGE_PATHS},
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
            "schemas": SCHEMAS,
            "responses": _responses(),
        },
    }
