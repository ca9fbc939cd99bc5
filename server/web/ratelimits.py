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


def is_own_datacage(rule: str) -> bool:
    """The deployment's own datacage, proven by its DPoP token, speaking the job protocol: its
    reports (usage per person, progress, finish) grow with a run's crowd, and one refused would
    fail the run. Anyone else on these routes is counted (and refused by the routes)."""
    webid = str(current_app.config.get("DATACAGE_WEBID") or "")
    return (
        rule.startswith("/api/datacage/")
        and bool(webid)
        and g.get("auth") == "dpop"
        and g.get("actor") == webid
    )


def check() -> None:
    rule = request.url_rule.rule if request.url_rule is not None else ""
    action = action_of(request.method, rule)
    if action is None or is_own_datacage(rule):
        return
    callers = [f"address {request.remote_addr or '-'}"]
    if g.get("actor"):
        callers.append(f"webid {g.actor}")
    _limiter(current_app._get_current_object()).hit(action, callers)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    app.before_request(check)
