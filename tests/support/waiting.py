"""Waiting on the event itself: poll a real condition until a deadline, never sleep and hope.

A bare `time.sleep(x)` before an assertion guesses how long the machine takes; on two busy
cores the guess is wrong now and then. `wait_until` returns as soon as the condition holds and
fails, naming what did not happen, only after a deadline far beyond any normal wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, seconds: float = 30.0) -> T:
    """The condition's first truthy value; AssertionError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.01)
