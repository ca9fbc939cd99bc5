"""Offering each waiting run once per claim, however often the waiting runs are listed.

The control plane lists waiting runs with the number of claims each has had (`offer`): the
pair (run, offer) names one offer. The first to list it sends the task; a second listing of the
same offer sends nothing for `ttl_s` seconds, after which it is sent again (a task can be lost:
a broker restarted without persistence). A duplicate task costs one refused claim, nothing
more: the control plane, not this set, guarantees one claim per run (`server.runs.leases`).
"""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)

_PREFIX = "datacage:offer:"


class Offers:
    def __init__(self, broker_url: str, ttl_s: float = 60.0):
        # Only Redis keeps the set; with another broker every listing is sent (duplicates are
        # refused at the claim all the same).
        self._redis = redis.Redis.from_url(broker_url) if broker_url.startswith("redis") else None
        self.ttl_ms = max(1, int(ttl_s * 1000))

    def first(self, run_id: str, offer: int) -> bool:
        """True the first time this offer is seen (within the time to live)."""
        if self._redis is None:
            return True
        try:
            return bool(
                self._redis.set(f"{_PREFIX}{run_id}:{offer}", b"1", nx=True, px=self.ttl_ms)
            )
        except redis.RedisError as exc:  # the broker is down: the task would not go out either
            log.error("offer not recorded", extra={"run": run_id, "error": str(exc)})
            return False

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
