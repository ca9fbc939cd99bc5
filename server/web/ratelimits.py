"""Which requests are rate limited, and as what (`server.ratelimit` counts them).

Runs before each request, after the caller is identified (so a signed-in caller is counted
by WebID as well as by address). Reads are not limited, except audit queries, which run a
process each.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request

from ..ratelimit import RateLimiter, parse_limits
from ..services import data_dir

_EXTENSION = "datacage.ratelimit"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def action_of(method: str, rule: str) -> str | None:
    """The limited action a request is, by its method and URL rule; None when not limited."""
    if rule == "/login/callback" or (rule == "/login" and method == "POST"):
        return "signin"
    if rule.endswith("/audit/sparql"):
        return "audit-query"
    if method not in _UNSAFE:
        return None
    if rule.endswith("/join"):
        return "join"
    if "/invitations" in rule:
        return "invitations"
    if rule.startswith("/api/datacage/runs/<run_id>/") and not rule.endswith("/claim"):
        # The datacage's reports on a run it holds: a usage record per person read and the
        # re-checks before the reads. Counted as api-write, a run of more than a few hundred
        # people was refused half-way (429) and failed.
        return "datacage-run"
    if rule.startswith("/api/"):
        return "api-write"
    return None


def _limiter(app: Flask) -> RateLimiter:
    limiter = app.extensions.get(_EXTENSION)
    if limiter is None:
        limiter = app.extensions[_EXTENSION] = RateLimiter(
            data_dir(app) / "shared" / "rate-limits.sqlite3",
            parse_limits(str(app.config["RATE_LIMITS"])),
        )
    return limiter


def check() -> None:
    rule = request.url_rule.rule if request.url_rule is not None else ""
    action = action_of(request.method, rule)
    if action is None:
        return
    callers = [f"address {request.remote_addr or '-'}"]
    if g.get("actor"):
        callers.append(f"webid {g.actor}")
    _limiter(current_app._get_current_object()).hit(action, callers)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    app.before_request(check)
