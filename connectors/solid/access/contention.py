"""Attempts at a conditional write of an access document, spaced out when others collide.

Several people (or threads) granting on one resource at once all read the same ETag; only
one conditional PUT wins and the rest get 412 and must redo their edit. Retrying at once
makes the losers collide again, so every retry waits a random, growing while (full-jitter
exponential backoff). Eight attempts keep a burst of a dozen concurrent grants succeeding
while a genuinely stuck document still fails within about two seconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

WRITE_ATTEMPTS = 8
_FIRST_WAIT_S = 0.02
_LONGEST_WAIT_S = 0.5


def write_attempts(attempts: int = WRITE_ATTEMPTS) -> Iterator[int]:
    """Yield attempt numbers; before every attempt after the first, wait a jittered while."""
    for attempt in range(attempts):
        if attempt:
            ceiling = min(_LONGEST_WAIT_S, _FIRST_WAIT_S * 2**attempt)
            time.sleep(random.uniform(0, ceiling))  # noqa: S311 - timing jitter, not a secret
        yield attempt
