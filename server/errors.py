"""Domain errors: what the service layer raises, in words a person understands.

Inner code never speaks HTTP (as in CKAN's logic layer and CSS's one-error-class-per-status):
each class names the HTTP status it becomes, and one handler in `server.web.errors` turns it
into an HTML page or an RFC 9457 `application/problem+json` document at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """A request the control plane refuses; `str(error)` is safe to show the person."""

    http_status = 400
    title = "This request cannot be done"
    #: A URI naming the kind of problem (RFC 9457 section 3.1.1), relative to the API docs.
    problem_type = "about:blank"


class NotSignedIn(DomainError):
    http_status = 401
    title = "Please sign in"
    problem_type = "/api/problems/not-signed-in"


class NotAuthorized(DomainError):
    http_status = 403
    title = "Not allowed"
    problem_type = "/api/problems/not-authorized"


class NotFound(DomainError):
    http_status = 404
    title = "Not found"
    problem_type = "/api/problems/not-found"


class WrongState(DomainError):
    """The action does not fit the space's current state (a state-machine transition refused)."""

    http_status = 409
    title = "Not possible in this state"
    problem_type = "/api/problems/wrong-state"


class EditConflict(DomainError):
    """Someone else changed the same thing at the same time, and retrying did not settle it."""

    http_status = 409
    title = "Changed by someone else"
    problem_type = "/api/problems/edit-conflict"


class ValidationFailed(DomainError):
    """Input that cannot be accepted; `fields` maps each field name to what is wrong with it."""

    http_status = 422
    title = "Some of what was sent is not valid"
    problem_type = "/api/problems/invalid-input"

    def __init__(self, fields: Mapping[str, Sequence[str]] | str, message: str | None = None):
        if isinstance(fields, str):
            fields = {"": [fields]}
        self.fields: dict[str, list[str]] = {name: list(msgs) for name, msgs in fields.items()}
        summary = message or " ".join(m for msgs in self.fields.values() for m in msgs)
        super().__init__(summary)


class TooManyRequests(DomainError):
    """Too many requests from one address or identity, or too many at once: come back later."""

    http_status = 429
    title = "Too many requests"
    problem_type = "/api/problems/too-many-requests"

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class Unavailable(DomainError):
    """Something we depend on (the registry, an identity provider) is not answering."""

    http_status = 503
    title = "Temporarily unavailable"
    problem_type = "/api/problems/unavailable"


class PodRefused(DomainError):
    """A person's pod (or their identity provider) refused or failed what we asked of it."""

    http_status = 502
    title = "Your pod did not accept the change"
    problem_type = "/api/problems/pod-refused"
