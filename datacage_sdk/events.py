"""Handlers per event type, and the one entry point that picks the run's handler.

The manifest's ``entry_point`` names a function of the bundle that calls :func:`dispatch`
(the bundle check wants a function defined in the bundle itself)::

    @on("CHECK_COMMON_DEMO_CUSTOMERS")
    def check_common_customers(run): ...

    def main(ctx):
        return dispatch(ctx)

The run's event is its ``event`` parameter when the manifest declares one, else the single
event the manifest lists: either way a value every participant approved.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_EVENT = re.compile(r"[A-Z][A-Z0-9_]{0,63}")  # as the manifest allows (server/algorithms)
_HANDLERS: dict[str, Callable[..., Any]] = {}


def on(event: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the handler of ``event``."""
    if not isinstance(event, str) or not _EVENT.fullmatch(event):
        raise ValueError(f"{event!r} is not an event type (upper case, digits and _).")

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        if event in _HANDLERS and _HANDLERS[event] is not function:
            raise ValueError(
                f"The event {event} already has a handler ({_HANDLERS[event].__name__})."
            )
        _HANDLERS[event] = function
        return function

    return register


def handlers() -> dict[str, Callable[..., Any]]:
    return dict(_HANDLERS)


def dispatch(ctx: Any) -> Any:
    """Build the :class:`Run` for ``ctx`` and call the handler of its event."""
    from datacage_sdk.run import Run

    run = Run(ctx)
    handler = _HANDLERS.get(run.event)
    if handler is None:
        known = ", ".join(sorted(_HANDLERS)) or "none"
        raise LookupError(f"No handler for the event {run.event}; this bundle handles: {known}.")
    return handler(run)
