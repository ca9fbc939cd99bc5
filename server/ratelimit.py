"""Rate limits per address and per WebID, shared by every worker process of the server.

Each limited action (sign-in, joining a space, invitations, API writes, audit queries) allows
so many requests per window, counted separately for the caller's address and, once signed
in, their WebID. The counters live in an SQLite file in the data folder, so four gunicorn
workers do not each give a caller four times the allowance. Past the limit: `TooManyRequests`,
which the error handler answers 429 with `Retry-After` (a page, or problem+json).

Fixed windows: simple and cheap (one row per caller and action); a burst at a window's edge
may reach twice the limit, which is acceptable for slowing down abuse.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import TooManyRequests

DEFAULT_LIMITS = (
    "signin=20/60 join=20/60 invitations=30/60 api-write=300/60 audit-query=30/60 "
    "datacage-run=30000/60"
)
ACTIONS = ("signin", "join", "invitations", "api-write", "audit-query", "datacage-run")


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


def parse_limits(text: str) -> dict[str, Limit]:
    """`action=count/seconds ...`; raise ValueError naming what is wrong."""
    limits: dict[str, Limit] = {}
    for word in text.split():
        action, _, rate = word.partition("=")
        count, _, seconds = rate.partition("/")
        if action not in ACTIONS:
            raise ValueError(f"{action!r} is not one of {', '.join(ACTIONS)}.")
        if not (count.isdigit() and seconds.isdigit() and int(count) > 0 and int(seconds) > 0):
            raise ValueError(f"{word!r} is not action=count/seconds with whole numbers above 0.")
        limits[action] = Limit(int(count), int(seconds))
    return limits


class RateLimiter:
    """Counters in an SQLite file, one row per (action, caller, window)."""

    def __init__(
        self, path: Path, limits: dict[str, Limit], clock: Callable[[], float] = time.time
    ):
        self.limits = limits
        self.clock = clock
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=10, check_same_thread=False)
        self._lock = threading.Lock()
        self._pruned = 0.0
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            # Counters need no fsync per request: losing the last ones in a power cut is fine.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS hits (bucket TEXT PRIMARY KEY, window INTEGER, "
                "count INTEGER)"
            )

    def hit(self, action: str, callers: Iterable[str]) -> None:
        """Count one request of `action` for each caller; raise `TooManyRequests` past a limit."""
        limit = self.limits.get(action)
        if limit is None:
            return
        now = self.clock()
        window = int(now // limit.seconds) * limit.seconds  # when this window started
        retry_after = math.ceil(window + limit.seconds - now)
        with self._lock, self._db:
            self._prune(now)
            for caller in callers:
                bucket = f"{action} {caller}"
                (count,) = self._db.execute(
                    "INSERT INTO hits VALUES (?, ?, 1) ON CONFLICT(bucket) DO UPDATE SET "
                    "count = CASE WHEN window = excluded.window THEN count + 1 ELSE 1 END, "
                    "window = excluded.window RETURNING count",
                    (bucket, window),
                ).fetchone()
                if count > limit.count:
                    raise TooManyRequests(
                        f"Too many requests of this kind ({limit.count} in {limit.seconds} "
                        f"seconds); please wait {retry_after} seconds and try again.",
                        retry_after=retry_after,
                    )

    def _prune(self, now: float) -> None:
        if now - self._pruned < 60:
            return
        self._pruned = now
        longest = max((limit.seconds for limit in self.limits.values()), default=60)
        self._db.execute("DELETE FROM hits WHERE window < ?", (int(now) - longest,))
