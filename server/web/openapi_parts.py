"""Small builders for the OpenAPI document (`server.web.openapi`): schemas, operations, refusals.

Kept apart so the document's sections (the API of the pages, the job protocol) can each live
in a module of its own and share one way of saying "a JSON object of exactly these fields".
"""

from __future__ import annotations

import re
from typing import Any

Schema = dict[str, Any]


def ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def json_content(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """A JSON object of exactly these fields (all required unless `required` says)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def string(description: str = "", **more: Any) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **more}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(kind: str, **more: Any) -> Schema:
    return {"type": [kind, "null"], **more}


WEBID = string("A WebID (http or https URL).", format="uri")
WHEN = string(format="date-time")
MAYBE_WHEN = nullable("string", format="date-time")
DIGEST = string("`sha256:` and 64 lowercase hex digits.", pattern="^sha256:[0-9a-f]{64}$")
HEX64 = string("64 lowercase hex digits (a SHA-256).", pattern="^[0-9a-f]{64}$")

#: Which reusable response each refusal is; every one of them is a Problem document.
REFUSALS = {
    401: ("NotSignedIn", "Not signed in, or the DPoP token or proof was not accepted."),
    403: ("NotAuthorized", "Not allowed for this actor (or a cookie request without CSRF token)."),
    404: ("NotFound", "No such space, invitation, run, consent or bundle."),
    409: ("Conflict", "Not possible in this state, a concurrent edit won, or a lease lapsed."),
    413: ("TooLarge", "The body is larger than the server accepts (MAX_BUNDLE_MIB)."),
    415: ("UnsupportedMediaType", "The Content-Type is not one this operation accepts."),
    422: ("Invalid", "The input is not valid; `errors` lists the problems per field."),
    503: ("Unavailable", "The registry or an identity provider is not answering."),
}
READ = (401, 403, 404, 503)
WRITE = (401, 403, 404, 409, 503)
NO_CONTENT = {204: {"description": "Done."}}


def op(
    operation_id: str,
    summary: str,
    ok: dict[int, Schema],
    refusals: tuple[int, ...],
    body: Schema | None = None,
) -> Schema:
    responses: dict[str, Schema] = {str(code): answer for code, answer in ok.items()}
    for code in sorted(refusals):
        responses[str(code)] = ref(REFUSALS[code][0], "responses")
    operation: Schema = {"operationId": operation_id, "summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, **body}
    return operation


def answer(description: str, schema: str) -> Schema:
    return {"description": description, **json_content(ref(schema))}


def created(what: str, schema: str, location: str) -> Schema:
    header = {"description": location, "schema": string(format="uri")}
    return {"description": what, "headers": {"Location": header}, **json_content(ref(schema))}


def with_path_parameters(path: str, item: Schema) -> Schema:
    names = re.findall(r"\{(\w+)\}", path)
    if not names:
        return item
    parameters = [{"name": n, "in": "path", "required": True, "schema": string()} for n in names]
    return {"parameters": parameters, **item}


def paths(operations: dict[str, Schema]) -> dict[str, Schema]:
    return {path: with_path_parameters(path, item) for path, item in operations.items()}


def problem_responses() -> dict[str, Schema]:
    responses = {}
    for name, description in REFUSALS.values():
        responses[name] = {
            "description": description,
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
    responses["NotSignedIn"]["headers"] = {
        "WWW-Authenticate": {"description": "The DPoP challenge.", "schema": string()}
    }
    return responses
