"""Reading a rendered dashboard, and the delivery report the dashboard tests record."""

from __future__ import annotations

import re

from tests.support.web_api import OWNER

#: A consumer's copy delivered on the first attempt, as a datacage reports it.
DELIVERED = {
    "consumer": OWNER,
    "state": "delivered",
    "attempts": 1,
    "location": None,
    "detail": "Delivered.",
    "notified": True,
}


def tile(page: str, name: str) -> str:
    """The figure on the dashboard's tile `name` (runs, deliveries, ...)."""
    found = re.search(rf'id="tile-{name}"><span class="tile-figure">([^<]*)</span>', page)
    assert found, f"no {name} tile"
    return found.group(1)
